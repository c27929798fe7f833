"""The concept vocabulary: every label name an analysis engine can produce.

Sources, merged by normalized name (chalicelib/index/terms.py tokens, so "Coffee Mug" and
"coffee mug" are one concept; the first spelling seen is kept):

- the local classifier (chalicelib/analysis/local/taxonomy.json): the 1000 ImageNet class
  names with their aliases, and the friendly parents (Cat, Vehicle, ...);
- the local COCO object detector (chalicelib/analysis/local/objects.json), when present;
- Amazon Rekognition's label list (chalicelib/analysis/rekognition_labels.json), when present.

Query expansion (tools/build_expansions.py) and the concept embeddings (concepts.npz,
conse.npz, tools/build_concept_vectors.py) are built from this list.
"""
import json
import os
from collections import namedtuple

from chalicelib.index.terms import tokens

ANALYSIS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "analysis")
TAXONOMY = os.path.join(ANALYSIS, "local", "taxonomy.json")
REKOGNITION = os.path.join(ANALYSIS, "rekognition_labels.json")
OBJECTS = os.path.join(ANALYSIS, "local", "objects.json")

# sources: a subset of {"imagenet", "parent", "coco", "rekognition"}; wnids: WordNet 3.0 noun
# offsets ("n02123045") known to name this concept (ImageNet classes only).
Concept = namedtuple("Concept", "name aliases parents sources wnids")


def key(name):
    return " ".join(tokens(name))


def taxonomy():
    with open(TAXONOMY, encoding="utf-8") as f:
        return json.load(f)


def class_names():
    """Normalized names and aliases of the local classifier's 1000 classes."""
    return {key(n) for cls in taxonomy()["classes"] for n in [cls["name"], *cls["aliases"]]}


def rekognition_labels():
    if not os.path.exists(REKOGNITION):
        return []
    with open(REKOGNITION, encoding="utf-8") as f:
        data = json.load(f)
    return data["labels"] if isinstance(data, dict) else data


def detector_classes():
    """The object detector's classes ({"name", "aliases", "parents", ...}), once objects.json exists."""
    if not os.path.exists(OBJECTS):
        return []
    with open(OBJECTS, encoding="utf-8") as f:
        return json.load(f)["classes"]


def concepts():
    """[Concept], taxonomy first (classes in classifier order, then parents), then COCO,
    then Rekognition."""
    found = {}

    def add(name, aliases=(), parents=(), source="", wnid=None):
        k = key(name)
        if not k:
            return
        c = found.get(k)
        if c is None:
            c = found[k] = Concept(name, [], [], [], [])
        for lst, values in ((c.aliases, aliases), (c.parents, parents)):
            lst.extend(v for v in values if v not in lst and key(v) != k)
        if source not in c.sources:
            c.sources.append(source)
        if wnid and wnid not in c.wnids:
            c.wnids.append(wnid)

    tax = taxonomy()
    for cls in tax["classes"]:
        add(cls["name"], cls["aliases"], cls["parents"], "imagenet", cls["wnid"])
    for name, info in tax["parents"].items():
        add(name, (), info["parents"], "parent")
    for obj in detector_classes():
        add(obj["name"], obj.get("aliases", ()), obj.get("parents", ()), "coco")
    for lab in rekognition_labels():
        add(lab["name"], lab.get("aliases", ()), lab.get("parents", ()), "rekognition")
    return list(found.values())
