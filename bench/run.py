"""Benchmarks of the local analysis engine on real images from registry packages.

    ./dev bench                 # everything (a few minutes on 2 cores)
    ./dev bench --runs 5        # fewer timed runs of the 12 MP analysis

Prints one table: what, target, measured, pass.  Progress goes to stderr.
Images: tools/fetch_test_images.py (scikit-image, scikit-learn wheels; face_recognition sdist).
"""
import argparse
import io
import os
import resource
import statistics
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from PIL import Image, ImageDraw, ImageEnhance, ImageFont, ImageOps  # noqa: E402

from chalicelib.analysis import PhotoSource  # noqa: E402

DATA = os.path.join(ROOT, "var", "testdata")
FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf"
FONT_REGULAR = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"

# Everyday photos whose subject is in the model's vocabulary, and the names that count as right
# (the package docstrings say what each photo shows).  Textures, the moon, coins and the
# Hubble field have no ImageNet class and are left out of accuracy (they count as face-free).
EVERYDAY = {
    "chelsea.png": {"Cat", "Tabby Cat", "Egyptian Mau", "Tiger Cat"},
    "coffee.png": {"Espresso", "Coffee Mug", "Cup", "Beverage"},
    "rocket.jpg": {"Missile", "Space Shuttle"},
    "motorcycle_left.png": {"Motorcycle", "Moped", "Motor Scooter", "Vehicle"},
    "camera.png": {"Person", "Tripod", "Reflex Camera"},
    "horse.png": {"Horse", "Sorrel"},
    "china.jpg": {"Palace", "Temple", "Building", "Structure"},
    "flower.jpg": {"Flower", "Daisy", "Plant"},
    "astronaut.png": {"Person"},
    "obama.jpg": {"Person"}, "obama2.jpg": {"Person"}, "obama3.jpg": {"Person"}, "biden.jpg": {"Person"},
}
FACES = ["astronaut.png", "obama.jpg", "obama2.jpg", "obama3.jpg", "biden.jpg"]
NO_FACES = ["chelsea.png", "coffee.png", "rocket.jpg", "china.jpg", "moon.png", "coins.png", "hubble_deep_field.jpg",
            "grass.png", "gravel.png", "brick.png", "flower.jpg", "horse.png", "motorcycle_left.png", "page.png",
            "logo.png", "color.png"]
PHRASES = ["OPEN 24 HOURS", "No Parking", "Exit", "Welcome to Zurich", "SALE 50% OFF", "Fresh Bread Daily",
           "Platform 9", "Keep Calm", "Coffee & Tea", "Main Street", "STOP", "Hello World", "Room 101",
           "Gate B12", "Happy Birthday", "Fire Exit", "Bus Stop", "Library", "Pharmacy", "Free WiFi"]


def progress(msg):
    sys.stderr.write("\r\033[K" + msg)
    sys.stderr.flush()


def load(name):
    return Image.open(os.path.join(DATA, name)).convert("RGB")


def jpeg(img, quality=90):
    out = io.BytesIO()
    img.save(out, "JPEG", quality=quality)
    return out.getvalue()


def run(engine, data, features, min_confidence=20.0, max_labels=20):
    return engine.analyze(PhotoSource("b", "k", "e", lambda: data), features, min_confidence, max_labels)


def pct(values, q):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q * (len(values) - 1))))]


def twelve_megapixel_photos():
    """Real photos brought to 4032x3024 (a 12 MP phone photo) and saved as JPEG."""
    out = []
    for name in ("china.jpg", "astronaut.png", "coffee.png", "chelsea.png", "obama.jpg"):
        img = ImageOps.fit(load(name), (4032, 3024), Image.LANCZOS)
        out.append((name, jpeg(img)))
    return out


def augmented(img):
    yield "as is", img
    yield "mirrored", ImageOps.mirror(img)
    yield "half size", img.resize((img.width // 2, img.height // 2), Image.LANCZOS)
    yield "darker", ImageEnhance.Brightness(img).enhance(0.6)


def text_images():
    """Each phrase at 20-48 px, plain and pasted on a photo: exact ground truth."""
    backgrounds = ["coffee.png", "china.jpg", "chelsea.png", "grass.png"]
    cases = []
    for i, phrase in enumerate(PHRASES):
        size = (20, 24, 32, 48)[i % 4]
        font = ImageFont.truetype(FONT if i % 2 else FONT_REGULAR, size)
        plain = Image.new("RGB", (max(300, int(size * len(phrase) * 0.8) + 60), size * 4), (250, 250, 250))
        ImageDraw.Draw(plain).text((20, size), phrase, font=font, fill=(20, 20, 20))
        cases.append(("plain %dpx" % size, phrase, plain))
        photo = load(backgrounds[i % len(backgrounds)])
        draw = ImageDraw.Draw(photo)
        left, top, right, bottom = draw.textbbox((30, 30), phrase, font=font)
        if right + 40 > photo.width:   # the whole line must be on the photo
            photo = photo.resize((right + 40, int(photo.height * (right + 40) / photo.width)))
            draw = ImageDraw.Draw(photo)
        draw.rectangle([left - 10, top - 8, right + 10, bottom + 8], fill=(255, 255, 255))
        draw.text((30, 30), phrase, font=font, fill=(0, 0, 0))
        cases.append(("on photo %dpx" % size, phrase, photo))
    return cases


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=20, help="timed runs of the 12 MP analysis")
    args = parser.parse_args(argv)
    rows = []

    from chalicelib.analysis.local import LocalAnalyzer
    progress("loading models")
    start = time.perf_counter()
    engine = LocalAnalyzer()
    engine.warm_up(("labels", "text", "faces", "moderation"))
    load_s = time.perf_counter() - start
    rows.append(("all models loaded", "<= 5 s", "%.2f s" % load_s, load_s <= 5))

    full = ("labels", "faces", "text", "properties")  # faces: box, landmarks, age, gender, embedding
    photos = twelve_megapixel_photos()
    run(engine, photos[0][1], full)   # first inference allocates buffers
    times = []
    for i in range(args.runs):
        name, data = photos[i % len(photos)]
        progress("12 MP full analysis %d/%d (%s)" % (i + 1, args.runs, name))
        t = time.perf_counter()
        run(engine, data, full)
        times.append((time.perf_counter() - t) * 1000)
    median, p95 = statistics.median(times), pct(times, 0.95)
    rows.append(("12 MP JPEG, labels+faces+text+properties, median", "<= 600 ms", "%.0f ms" % median, median <= 600))
    rows.append(("12 MP JPEG, labels+faces+text+properties, p95", "<= 1500 ms", "%.0f ms" % p95, p95 <= 1500))

    right = 0
    misses = []
    for i, (name, truth) in enumerate(EVERYDAY.items()):
        progress("labels %d/%d" % (i + 1, len(EVERYDAY)))
        top5 = [lab["Name"] for lab in run(engine, jpeg(load(name)), ("labels", "faces"), 5.0)["Labels"][:5]]
        if truth & set(top5):
            right += 1
        else:
            misses.append("%s: %s" % (name, ", ".join(top5)))
    share = right / len(EVERYDAY)
    rows.append(("everyday photos, right concept in top 5", ">= 80 %", "%d/%d = %.0f %%" % (
        right, len(EVERYDAY), share * 100), share >= 0.8))

    found = total = 0
    for name in FACES:
        for how, img in augmented(load(name)):
            progress("faces: %s %s" % (name, how))
            total += 1
            found += len(run(engine, jpeg(img), ("faces",))["FaceDetails"]) >= 1
    rows.append(("clear frontal faces found (5 photos x 4 variants)", ">= 95 %", "%d/%d = %.0f %%" % (
        found, total, 100 * found / total), found / total >= 0.95))
    false = photos_seen = 0
    for name in NO_FACES:
        for how, img in list(augmented(load(name)))[:2]:
            progress("no faces: %s %s" % (name, how))
            photos_seen += 1
            false += len(run(engine, jpeg(img), ("faces",))["FaceDetails"])
    rows.append(("false faces per 20 face-free photos", "<= 1", "%.2f (%d in %d)" % (
        20 * false / photos_seen, false, photos_seen), 20 * false / photos_seen <= 1))

    exact = 0
    cases = text_images()
    text_misses = []
    for i, (kind, phrase, img) in enumerate(cases):
        progress("text %d/%d" % (i + 1, len(cases)))
        lines = [d["DetectedText"] for d in run(engine, jpeg(img, 95), ("text",))["TextDetections"]
                 if d["Type"] == "LINE"]
        if any(" ".join(line.split()) == phrase for line in lines):
            exact += 1
        else:
            text_misses.append("%s %r -> %r" % (kind, phrase, lines))
    rows.append(("rendered text lines read exactly (20-48 px)", ">= 90 %", "%d/%d = %.0f %%" % (
        exact, len(cases), 100 * exact / len(cases)), exact / len(cases) >= 0.9))

    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    rows.append(("peak memory (max RSS)", "<= 1536 MB", "%.0f MB" % peak_mb, peak_mb <= 1536))
    progress("")

    width = max(len(r[0]) for r in rows)
    print("local analysis engine: %d cores, onnxruntime, python %s" % (os.cpu_count(), sys.version.split()[0]))
    print("%-*s  %-10s  %-18s  %s" % (width, "what", "target", "measured", "ok"))
    for what, target, measured, ok in rows:
        print("%-*s  %-10s  %-18s  %s" % (width, what, target, measured, "yes" if ok else "NO"))
    for m in misses:
        print("  label miss: " + m)
    for m in text_misses:
        print("  text miss: " + m)
    print("command: ./dev bench --runs %d" % args.runs)
    return 0 if all(r[3] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
