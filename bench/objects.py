"""The COCO object detector (chalicelib/analysis/local/objects.py): speed, size, memory, and how
often it names what the labelled bench photos show.

    .venv/bin/python bench/objects.py              # after ./dev models and tools/fetch_bench_photos.py
    .venv/bin/python bench/objects.py --split heldout

- time: median of 20 runs of ObjectDetector.predict, after a warm-up, on a 1 MP and a 12 MP
  (4032x3024) photo (coffee.png scaled up), with the session's default threads (LOCAL_THREADS);
- peak RSS the detector adds (load + one 12 MP photo), measured in a fresh process;
- on the bench photos of kinds household/object/vehicle/animal in the split (bench/photos.json):
  the share with a detector label whose name or alias is one of the photo's hand labels (words
  normalized as search does: chalicelib/index/terms.py), the share when parents count too ("Animal"
  matches every animal photo), and the detector labels whose name and aliases match none of the
  hand labels (hand labels are not exhaustive: the people on a bus photo count as unmatched).
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from PIL import Image, ImageOps  # noqa: E402

from chalicelib.analysis.local.models import model_path  # noqa: E402
from chalicelib.analysis.local.objects import MIN_SCORE, MODEL_FILE, ObjectDetector  # noqa: E402
from chalicelib.index.terms import tokens  # noqa: E402

KINDS = ("household", "object", "vehicle", "animal")
RSS = """
import sys
sys.path.insert(0, %r)
from PIL import Image, ImageOps
import numpy, onnxruntime


def status(key):
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith(key + ":"))


img = ImageOps.fit(Image.open(%r).convert("RGB"), (4032, 3024))
with open("/proc/self/clear_refs", "w") as f:
    f.write("5")                       # resets the peak (VmHWM) to the current RSS
before = status("VmRSS")
from chalicelib.analysis.local.objects import ObjectDetector
ObjectDetector().predict(img, 0)
print((status("VmHWM") - before) / 1024)
"""

def timing(detector, img, runs):
    """(median wall ms, median CPU ms of this process): on a busy machine the CPU time is the
    steadier number (with LOCAL_THREADS=1 it is what the wall time would be on an idle core)."""
    detector.predict(img, 0)
    wall, cpu = [], []
    for _ in range(runs):
        start, start_cpu = time.perf_counter(), time.process_time()
        detector.predict(img, 0)
        wall.append((time.perf_counter() - start) * 1000)
        cpu.append((time.process_time() - start_cpu) * 1000)
    return statistics.median(wall), statistics.median(cpu)


def term(text):
    return " ".join(tokens(text))


def accuracy(detector, split):
    with open(os.path.join(ROOT, "bench", "photos.json"), encoding="utf-8") as f:
        entries = [p for p in json.load(f)["photos"] if p["split"] == split and p["kind"] in KINDS]
    rows = {k: [0, 0, 0, 0] for k in KINDS}      # photos, named, named with parents, unmatched labels
    for p in entries:
        img = Image.open(os.path.join(ROOT, "var", "benchphotos", p["file"])).convert("RGB")
        hand = {term(x) for x in p["labels"]}
        named = with_parents = False
        unmatched = 0
        for lab in detector.predict(img, 0):
            own = {term(lab["Name"])} | {term(a["Name"]) for a in lab["Aliases"]}
            parents = {term(x["Name"]) for x in lab["Parents"]}
            named |= bool(own & hand)
            with_parents |= bool((own | parents) & hand)
            unmatched += not own & hand
        row = rows[p["kind"]]
        row[0] += 1
        row[1] += named
        row[2] += with_parents
        row[3] += unmatched
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--split", default="tune", choices=("tune", "heldout"))
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args(argv)
    coffee = os.path.join(ROOT, "var", "testdata", "coffee.png")
    photo = Image.open(coffee).convert("RGB")
    detector = ObjectDetector()
    one = ImageOps.fit(photo, (1155, 866))
    twelve = ImageOps.fit(photo, (4032, 3024))
    print("detector %s: %.1f MB, score threshold %.2f" % (MODEL_FILE, os.path.getsize(model_path(MODEL_FILE)) / 1e6,
                                                          MIN_SCORE))
    for name, img in (("1 MP", one), ("12 MP", twelve)):
        print("%s: median of %d runs %.0f ms (CPU %.0f ms), LOCAL_THREADS=%s, load average %.1f" % (
            name, args.runs, *timing(detector, img, args.runs), os.environ.get("LOCAL_THREADS", "0"),
            os.getloadavg()[0]))
    added = subprocess.run([sys.executable, "-c", RSS % (ROOT, coffee)], check=True, capture_output=True, text=True)
    print("peak RSS added by loading it and analysing a 12 MP photo: %.0f MB" % float(added.stdout.split()[-1]))
    rows = accuracy(detector, args.split)
    print("%s photos   | photos | named | named or a parent | labels naming nothing" % args.split)
    total = [0, 0, 0, 0]
    for kind, row in list(rows.items()) + [("all", None)]:
        row = row or total
        if kind != "all":
            total = [a + b for a, b in zip(total, row)]
        print("%-12s | %6d | %2d (%2.0f %%) | %2d (%2.0f %%) | %d" % (kind, row[0], row[1], 100 * row[1] / max(row[0], 1),
                                                                  row[2], 100 * row[2] / max(row[0], 1), row[3]))


if __name__ == "__main__":
    main()
