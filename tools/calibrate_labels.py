"""Fit chalicelib/analysis/local/calibration.json: raw label scores -> calibrated confidences.

    .venv/bin/python tools/calibrate_labels.py [--photos var/benchphotos] [--target 0.9]

Runs the local engine's labels (classifier + detector, uncalibrated, every label down to a raw
score of 1) on the labelled photos of bench/photos.json.  A label is counted right when one of
its terms (name, parents, aliases: chalicelib.index.terms.label_terms) is a word or the whole
phrase of one of the photo's hand labels or of their ancestors in the concept vocabulary
(a Plant label on a photo labelled "flower" is right).  The hand labels list the main subject,
not everything visible, so this undercounts (a true "Sky" on a photo of a tower counts wrong).
On the TUNE photos only, it finds the lowest raw score t such that the labels scoring t or
more are right at least --target of the time, and writes the map raw t -> 50, with raw 0 -> 0
and raw 100 -> 100 (piecewise linear).  It then reports, for the tune and the held-out
photos, how often labels shown at 50 or more (calibrated) are right.
"""
import argparse
import json
import os
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from chalicelib.analysis.local import LocalAnalyzer  # noqa: E402
from chalicelib.analysis.local.calibration import PATH, Calibration  # noqa: E402
from chalicelib.analysis.local.image import framed  # noqa: E402
from chalicelib.index.terms import label_terms, phrase, tokens  # noqa: E402


def hand_terms(labels):
    """The terms of a photo's hand labels and of every ancestor of them in the concept vocabulary
    (chalicelib.query.vocabulary: "flower" -> Plant, "man" -> Person, Adult): a label naming a
    broader kind of what the photo shows is right."""
    from chalicelib.query.vocabulary import concepts, key
    if not _BY_KEY:
        for c in concepts():
            _BY_KEY[key(c.name)] = c
        for c in list(_BY_KEY.values()):
            for alias in c.aliases:
                _BY_KEY.setdefault(key(alias), c)
    names, frontier = set(labels), list(labels)
    while frontier:
        concept = _BY_KEY.get(key(frontier.pop()))
        for parent in concept.parents if concept else ():
            if parent not in names:
                names.add(parent)
                frontier.append(parent)
    out = set()
    for text in names:
        out.update(tokens(text))
        if phrase(text):
            out.add(phrase(text))
    return out


_BY_KEY = {}


def raw_labels(photos, folder):
    from PIL import Image, ImageOps
    analyzer = LocalAnalyzer(calibration=Calibration([[0, 0], [100, 100]]))
    out, start = [], time.time()
    for n, photo in enumerate(photos, 1):
        img = ImageOps.exif_transpose(Image.open(os.path.join(folder, photo["file"]))).convert("RGB")
        img.thumbnail((1024, 1024))
        img, _ = framed(img)
        labels = analyzer._analyze(img, ("labels",), 1.0, 50)["Labels"]
        right = hand_terms(photo["labels"])
        for lab in labels:
            terms = set(label_terms({"name": lab["Name"], "parents": [p["Name"] for p in lab["Parents"]],
                                     "aliases": [a["Name"] for a in lab["Aliases"]]}))
            out.append((photo["split"], lab["Confidence"], bool(terms & right), lab["Name"], photo["file"]))
        rate = n / (time.time() - start) * 60
        sys.stderr.write("\r%d/%d photos (%.0f/min)\033[K" % (n, len(photos), rate))
    sys.stderr.write("\n")
    return out


def threshold(scored, target):
    """The lowest raw score whose labels at or above it are right at least `target` of the time."""
    scored = sorted(scored, key=lambda s: -s[0])
    right, best = 0, None
    for n, (score, ok) in enumerate(scored, 1):
        right += ok
        if n >= 20 and right / n >= target:
            best = score
    if best is None:
        raise SystemExit("no raw score gives %.0f %% right labels on the tune photos" % (target * 100))
    return best


def precision(rows, calibration, split, cutoff=50.0):
    shown = [ok for s, conf, ok, *_ in rows if s == split and calibration.shown(conf) >= cutoff]
    return (sum(shown) / len(shown) if shown else float("nan")), len(shown)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--photos", default=os.path.join(ROOT, "var", "benchphotos"))
    parser.add_argument("--target", type=float, default=0.9)
    parser.add_argument("--out", default=PATH)
    parser.add_argument("--dump", help="also write every judged label to this JSON file")
    args = parser.parse_args(argv)
    with open(os.path.join(ROOT, "bench", "photos.json"), encoding="utf-8") as f:
        photos = json.load(f)["photos"]
    rows = raw_labels(photos, args.photos)
    if args.dump:
        with open(args.dump, "w", encoding="utf-8") as f:
            json.dump(rows, f)
    t = threshold([(conf, ok) for split, conf, ok, *_ in rows if split == "tune"], args.target)
    calibration = Calibration([[0, 0], [t, 50], [100, 100]])
    result = {"about": __doc__.strip().splitlines()[0] + " Built by tools/calibrate_labels.py --target %g."
              % args.target, "points": [[0, 0], [round(t, 3), 50], [100, 100]], "judged": {}}
    for split in ("tune", "heldout"):
        p, n = precision(rows, calibration, split)
        result["judged"][split] = {"photos": len({r[4] for r in rows if r[0] == split}),
                                   "labels_shown_at_50": n, "right": round(p, 3)}
    with open(args.out, "w", encoding="utf-8") as f:
        json.dump(result, f, indent=1)
        f.write("\n")
    print("raw score %.2f -> calibrated 50 (target: %.0f %% right on tune)" % (t, args.target * 100))
    print("%-8s %-7s %-22s %s" % ("split", "photos", "labels shown at >= 50", "right"))
    for split, j in result["judged"].items():
        print("%-8s %-7d %-22d %.1f %%" % (split, j["photos"], j["labels_shown_at_50"], j["right"] * 100))
    print("command: .venv/bin/python tools/calibrate_labels.py --target %g" % args.target)


if __name__ == "__main__":
    main()
