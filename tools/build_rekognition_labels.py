"""Build chalicelib/analysis/rekognition_labels.json: Amazon Rekognition's label list (version 3.0).

    apt-get install wordnet-base
    python tools/build_rekognition_labels.py chalicelib/analysis/rekognition_labels.json

Sources, all committed under tools/data/:
- rekognition_labels_v3.0/: AWS's AmazonRekognitionLabels_v3.0.zip (Rekognition developer guide,
  "Detecting objects and concepts"), unpacked unchanged from the copy vendored in
  github.com/jecndlria/Photo-Finish.  It gives the 3,082 names, one category each, the aliases and
  which labels have bounding boxes -- but NOT the parents: AWS publishes no parent hierarchy.
- rekognition_observed_parents.json: parents as real DetectLabels responses gave them (see its
  "source"); 172 labels.

So each label's "parents" (all ancestors, nearest first) and "parents_source" say where they come from:
  "observed"  copied from real responses (rekognition_observed_parents.json);
  "hand"      HAND below: what Rekognition 3.0 answers for common subjects, written for this project;
  "derived"   not AWS data: the nearest WordNet 3.0 hypernyms (of the word sense that agrees with
              the label's category) that are Rekognition labels, plus the head word of a compound
              name ("Coffee Cup" -> Cup) when WordNet agrees, then those labels' own parents;
  "category"  not AWS data either: nothing found, so the root label of the category (Animal, Plant,
              Outdoors + Nature, Electronics, Appliance) when the category has one;
  "none"      no parents known.
"""
import csv
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import wordnet  # noqa: E402

DATA = os.path.join(HERE, "data")
ZIP_DIR = os.path.join(DATA, "rekognition_labels_v3.0")

# Ancestors (nearest first) of common labels, as Rekognition 3.0 answers them; they win over the
# observed 2.0 answers and over anything derived.
HAND = {
    "Pet": ["Animal"], "Canine": ["Mammal", "Animal"], "Dog": ["Canine", "Mammal", "Animal", "Pet"],
    "Puppy": ["Dog", "Canine", "Mammal", "Animal", "Pet"], "Cat": ["Mammal", "Animal", "Pet"],
    "Kitten": ["Cat", "Mammal", "Animal", "Pet"], "Bird": ["Animal"], "Penguin": ["Bird", "Animal"],
    "Beach": ["Coast", "Shoreline", "Sea", "Water", "Outdoors", "Nature"],
    "Lake": ["Water", "Outdoors", "Nature"], "Coffee": ["Beverage"], "Coffee Cup": ["Cup"],
    "Espresso": ["Coffee", "Coffee Cup", "Cup", "Beverage"], "Arch": ["Architecture", "Building"],
    "Produce": ["Food"], "Fruit": ["Food", "Plant", "Produce"], "Vegetable": ["Food", "Plant", "Produce"],
    "Dessert": ["Food"], "Cream": ["Dessert", "Food"], "Ice Cream": ["Cream", "Dessert", "Food"],
    "Pizza": ["Food"], "Bread": ["Food"], "Bus": ["Vehicle", "Transportation"],
    "Computer": ["Electronics"], "Palace": ["Architecture", "Building"],
}
# WordNet senses (1-based) for names whose category picks the wrong one ("Cutlery" is tableware,
# not any cutting tool; a "Bowl" is a vessel, not a dish of food; a "Ball" a ball, not a pitch).
SENSES = {"Cutlery": 2, "Bowl": 1, "Ball": 1}
# Too generic to be a parent Rekognition would give: WordNet's "device" sits above instruments,
# tools, weapons and clocks alike.
NOT_PARENTS = {"Device", "Electrical Device", "Machine", "Ornament"}
# A category whose labels all sit under one root; used only when nothing else gave parents.
CATEGORY_ROOTS = {"Animals and Pets": ["Animal"], "Plants and Flowers": ["Plant"],
                  "Nature and Outdoors": ["Outdoors", "Nature"], "Technology and Computing": ["Electronics"],
                  "Home Appliances": ["Appliance"]}


def read_csv(name, encoding="utf-8-sig"):
    with open(os.path.join(ZIP_DIR, name), encoding=encoding, newline="") as f:
        return list(csv.reader(f))[1:]   # skip the header row


def key(name):
    return name.lower().replace(" ", "_")


class Deriver:
    """Parents for a label from WordNet 3.0 and its name, restricted to Rekognition's labels.

    A label stands for one WordNet sense of its name (not for every synset that happens to have a
    lemma spelled like it: "Space" is not the gap in a volcano, "Arm" not a weapon, "Hall" not a
    palace): the first sense whose Rekognition ancestors share the label's category, else sense 1.
    """

    def __init__(self, names, categories):
        self.names, self.categories = names, categories
        self.synsets, self.index = wordnet.load()
        # Pass 1: every label is its name's first sense; pass 2 picks the sense by category.
        self.primary = {n: self.index[key(n)][0] for n in sorted(names) if key(n) in self.index}   # sorted: reproducible
        self.by_offset = self._by_offset()
        self.primary = {n: self.sense(n) or self.primary[n] for n in self.primary}
        self.primary.update({n: self.index[key(n)][i - 1] for n, i in SENSES.items() if n in names})
        self.by_offset = self._by_offset()

    def _by_offset(self):
        found = {}
        for name, offset in self.primary.items():
            found.setdefault(offset, []).append(name)
        return found

    def labels_of(self, offset):
        return self.by_offset.get(offset, [])

    def sense(self, name):
        """The first WordNet sense whose Rekognition ancestors share the label's category; sense 1
        when it has no Rekognition ancestors at all (so "Ball" is not taken for a baseball pitch)."""
        category = self.categories.get(name)
        for i, offset in enumerate(self.index.get(key(name), [])):
            if i == 0 and not any(self.labels_of(a) for a in wordnet.ancestors(self.synsets, offset)):
                return offset
            ancestors = [n for a in wordnet.ancestors(self.synsets, offset) for n in self.labels_of(a)]
            if any(self.categories.get(n) == category for n in ancestors if n != name):
                return offset
        return None

    def nearest(self, name, offset):
        """The Rekognition labels at the smallest hypernym distance from `offset`."""
        frontier, seen = [offset], {offset}
        while frontier:
            nxt = []
            for o in frontier:
                for h in self.synsets[o]["hypernyms"]:
                    if h not in seen:
                        seen.add(h)
                        nxt.append(h)
            found = [n for o in nxt for n in self.labels_of(o) if n != name and n not in NOT_PARENTS]
            if found:
                return list(dict.fromkeys(found))
            frontier = nxt
        return []

    def direct(self, name):
        offset = self.primary.get(name)
        parents = self.nearest(name, offset) if offset else []
        words = name.split(" ")
        for i in range(1, len(words)):      # the longest head word that is a label: "Coffee Cup" -> Cup
            head = " ".join(words[i:])
            if head in self.names and self.head_agrees(name, head, offset):
                parents.insert(0, head)
                break
        return list(dict.fromkeys(parents))

    def head_agrees(self, name, head, offset):
        """Accept "Sports Car" -> Car, refuse "Sea Lion" -> Lion and "Hot Dog" -> Dog."""
        if offset is None:
            return self.categories.get(name) == self.categories.get(head)
        heads = set(self.index.get(key(head), []))
        return bool(heads & set(wordnet.ancestors(self.synsets, offset)))


def main(out):
    names = [row[0] for row in read_csv("AmazonRekognitionAllLabels_v3.0.csv")]
    # This one file is cp1252 ("Caño Cristales", "Casa Milà"); the others are UTF-8.
    categories = {}
    for label, category in read_csv("AmazonRekognitionLabelsCategoriesMapping_v3.0.csv", "cp1252"):
        categories.setdefault(label, category)
    aliases = {row[0]: [a for a in row[1:] if a] for row in read_csv("AmazonRekognitionAliasLabels_v3.0.csv")}
    boxed = {row[0] for row in read_csv("AmazonRekognitionBoundingBoxLabels_v3.0.csv")}
    with open(os.path.join(DATA, "rekognition_observed_parents.json"), encoding="utf-8") as f:
        observed = json.load(f)["parents"]
    known = set(names)
    given = {}
    for source, table in (("observed", observed), ("hand", HAND)):
        for label, parents in table.items():
            if label in known:
                given[label] = ([p for p in parents if p in known], source)

    deriver = Deriver(known, categories)
    result = {}

    def ancestors(name, visiting=()):
        """(all ancestors nearest first, source), parents' own parents included."""
        if name in result:
            return result[name]
        if name in given:
            result[name] = given[name]
            return result[name]
        found, source = [], "none"
        for p in deriver.direct(name):
            if p in visiting or p == name:
                continue
            upper, _ = ancestors(p, visiting + (name,))
            if name in upper:           # WordNet loops back: keep the hierarchy a tree
                continue
            found += [p] + upper
            source = "derived"
        if not found and categories.get(name) in CATEGORY_ROOTS:
            found = [r for r in CATEGORY_ROOTS[categories[name]] if r != name]
            source = "category" if found else source
        result[name] = (list(dict.fromkeys(found)), source)
        return result[name]

    for n in names:
        ancestors(n)
    closed = {}

    def close(name, visiting=()):
        """The ancestors of a label's parents are its ancestors too (observed lists stop where the
        response stopped; a parent may have derived parents of its own)."""
        if name not in closed:
            out = []
            for p in result[name][0]:
                out += [p] + ([] if p in visiting else close(p, visiting + (name,)))
            closed[name] = [p for p in dict.fromkeys(out) if p != name]
        return closed[name]

    labels = []
    for n in names:
        parents, source = close(n), result[n][1]
        labels.append({"name": n, "parents": parents, "parents_source": source,
                       "categories": [categories[n]] if n in categories else [],
                       "aliases": aliases.get(n, []), "bounding_box": n in boxed})
    with open(out, "w", encoding="utf-8") as f:
        f.write('{"source": %s,\n"labels": [\n' % json.dumps(
            "Names, categories, aliases, bounding-box labels: AmazonRekognitionLabels_v3.0.zip "
            "(https://docs.aws.amazon.com/rekognition/latest/dg/labels.html), copy vendored in "
            "github.com/jecndlria/Photo-Finish. Parents: AWS publishes none; see parents_source and "
            "tools/build_rekognition_labels.py (observed = real DetectLabels responses in "
            "github.com/WordPress/openverse; hand, derived, category = written or inferred here).",
            ensure_ascii=False))
        f.write(",\n".join(json.dumps(label, ensure_ascii=False) for label in labels))
        f.write("\n]}\n")
    counts = {}
    for label in labels:
        counts[label["parents_source"]] = counts.get(label["parents_source"], 0) + 1
    print("wrote %s: %d labels; parents: %s" % (out, len(labels), counts))


if __name__ == "__main__":
    main(sys.argv[1])
