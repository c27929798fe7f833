"""How often the local labels find a photo by its hand labels, for a given taxonomy.json.

    .venv/bin/python tools/taxonomy_bench.py [--split tune] [TAXONOMY.json ...]

For every photo of the split in bench/photos.json (var/benchphotos/, `./dev` fetches them) the
classifier runs once, as LabelClassifier does (decode as the engine does, same preprocessing and
ONNX model); its class probabilities are cached in var/taxonomy_bench_<split>_*.npz, so several
taxonomies are compared without running the model again.  Two numbers per kind:

- top5: one of the photo's hand labels is a search term (chalicelib.index.terms.label_terms:
  each word and each whole name) of the top-5 classes' names, aliases or parents;
- search: the same for the labels LabelClassifier.predict returns at MIN_CONFIDENCE (55) and
  MAX_LABELS (50), i.e. a search for the hand label would find the photo.

Tune on "tune" photos only; "heldout" photos are for a final check, never for adjusting tables.
"""
import argparse
import collections
import json
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from chalicelib.analysis.local import labels as labels_module  # noqa: E402
from chalicelib.analysis.local.image import decode, framed  # noqa: E402
from chalicelib.index.terms import label_terms, phrase, tokens  # noqa: E402

PHOTOS = os.path.join(ROOT, "bench", "photos.json")
PHOTO_DIR = os.path.join(ROOT, "var", "benchphotos")
DEFAULT_TAXONOMY = os.path.join(ROOT, "chalicelib", "analysis", "local", "taxonomy.json")


def probabilities(photos, cache):
    """{file: softmax over the 1000 classes}, computed once per split and cached."""
    import numpy as np
    if os.path.exists(cache):
        data = np.load(cache)
        if set(data.files) >= {p["file"] for p in photos}:
            return {f: data[f] for f in data.files}
    classifier = labels_module.LabelClassifier()
    out = {}
    for i, p in enumerate(photos):
        with open(os.path.join(PHOTO_DIR, p["file"]), "rb") as f:
            img, _ = decode(f.read(), 100_000_000)
        img, _ = framed(img)
        logits = classifier.model["session"].run(None, {"image": classifier.preprocess(img)})[0][0]
        logits = logits.astype(np.float64)
        probs = np.exp(logits - logits.max())
        out[p["file"]] = probs / probs.sum()
    print("%d photos classified" % len(photos), file=sys.stderr)
    np.savez_compressed(cache, **out)
    return out


def wanted(hand_label):
    """The search term a person typing this hand label would use."""
    return phrase(hand_label) or (tokens(hand_label) or [None])[0]


class FixedModel:
    """LabelClassifier.predict on cached probabilities: a session that returns log-probabilities."""

    def __init__(self, probs):
        self.probs = probs

    def run(self, _outputs, _inputs):
        import numpy as np
        return [np.log(np.maximum(self.probs, 1e-30))[None]]


def score(taxonomy_path, photos, probs):
    import numpy as np
    with open(taxonomy_path, encoding="utf-8") as f:
        taxonomy = json.load(f)
    classes = taxonomy["classes"]
    classifier = labels_module.LabelClassifier()
    # Build the model dict the way LabelClassifier._load does, from this taxonomy file.
    names = sorted(taxonomy["parents"])
    member = np.zeros((len(names), len(classes)), dtype=np.float32)
    for i, cls in enumerate(classes):
        for p in cls["parents"]:
            member[names.index(p), i] = 1.0
    model = {"session": None, "classes": classes, "parent_names": names,
             "parent_info": taxonomy["parents"], "member": member}
    classifier._model = model
    classifier.preprocess = lambda img: None
    per_kind = collections.defaultdict(lambda: [0, 0, 0])
    for p in photos:
        want = {wanted(h) for h in p["labels"]} - {None}
        top5 = set()
        for i in np.argsort(-probs[p["file"]])[:5]:
            c = classes[i]
            top5.update(label_terms({"name": c["name"], "parents": c["parents"], "aliases": c["aliases"]}))
        model["session"] = FixedModel(probs[p["file"]])
        found = set()
        for lab in classifier.predict(None, 55.0, 50):
            found.update(label_terms({"name": lab["Name"], "parents": [x["Name"] for x in lab["Parents"]],
                                      "aliases": [x["Name"] for x in lab["Aliases"]]}))
        k = per_kind[p["kind"]]
        k[0] += 1
        k[1] += bool(want & top5)
        k[2] += bool(want & found)
    return per_kind


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("taxonomies", nargs="*", default=[DEFAULT_TAXONOMY])
    parser.add_argument("--split", default="tune", choices=["tune", "heldout"])
    args = parser.parse_args()
    with open(PHOTOS, encoding="utf-8") as f:
        photos = [p for p in json.load(f)["photos"] if p["split"] == args.split]
    model = os.stat(labels_module.model_path(labels_module.MODEL_FILE))     # a new model invalidates the cache
    cache = "taxonomy_bench_%s_%d_%d.npz" % (args.split, model.st_size, model.st_mtime)
    probs = probabilities(photos, os.path.join(ROOT, "var", cache))
    for path in args.taxonomies:
        per_kind = score(path, photos, probs)
        print("%s (%s photos)" % (os.path.relpath(path, ROOT), args.split))
        print("%-10s %5s %14s %14s" % ("kind", "n", "top5+parents", "search@55"))
        total = [0, 0, 0]
        for kind in sorted(per_kind):
            n, a, b = per_kind[kind]
            total = [total[0] + n, total[1] + a, total[2] + b]
            print("%-10s %5d %8d %4.0f%% %8d %4.0f%%" % (kind, n, a, 100 * a / n, b, 100 * b / n))
        n, a, b = total
        print("%-10s %5d %8d %4.0f%% %8d %4.0f%%" % ("all", n, a, 100 * a / n, b, 100 * b / n))


if __name__ == "__main__":
    main()
