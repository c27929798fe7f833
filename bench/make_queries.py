"""Writes bench/queries.json: the search quality benchmark's queries (bench/quality.py runs them).

    .venv/bin/python bench/make_queries.py            # (re)write bench/queries.json
    .venv/bin/python bench/make_queries.py --check    # exit 1 if the committed file is not what this makes

Deterministic: everything follows from bench/photos.json and the hand-written tables below (choices
are made by the SHA-256 of names, never by a random generator).  The libraries: each split of
bench/photos.json is one user's library ("tune", "heldout"), plus
- EXTRAS: two photos of var/testdata (tools/fetch_test_images.py) of a named person, one per split;
- SIGNS: 30 real photos per split with a rendered sign (1-3 words) pasted on, saved as new files
  (bench/quality.py draws them); a copy keeps its source photo's hand labels (it still shows them);
- TAKEN: every file of a library gets a deterministic EXIF DateTimeOriginal in 2014-2024.

Each query: {"q", "kind", "split", "expected": [files of that split's library]} (colour queries have
"expected": null and a "rule": the run computes the expected set from the indexed documents).
Kinds: exact, synonym, phrase, misspelling, text, person, date, colour.
"""
import argparse
import hashlib
import json
import os
import re
import sys
import unicodedata
from datetime import datetime, timedelta

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


PHOTOS = os.path.join(ROOT, "bench", "photos.json")
OUT = os.path.join(ROOT, "bench", "queries.json")
SPLITS = ("tune", "heldout")

# ---- hand-written part -----------------------------------------------------------------------

# Extra photos from var/testdata (not in photos.json): Obama's official portrait, cut in two halves
# by face_recognition's authors; labelled here by looking at them.
EXTRAS = [
    {"file": "testdata_obama_partial_face.jpg", "from": "obama_partial_face.jpg", "split": "tune",
     "labels": ["barack obama", "man", "suit", "tie", "person", "people"], "names": ["Barack Obama"]},
    {"file": "testdata_obama_partial_face2.jpg", "from": "obama_partial_face2.jpg", "split": "heldout",
     "labels": ["barack obama", "man", "suit", "tie", "flag", "person", "people"], "names": ["Barack Obama"]},
]

# What a person would type -> the hand labels it means (expected: photos with any of them).
SYNONYMS = [
    ("kitty", ["cat", "kitten", "tabby cat"]), ("doggy", ["dog", "dogs", "puppy", "puppies"]),
    ("pup", ["puppy", "puppies"]), ("hound", ["dog", "dogs", "german shepherd", "spaniel", "husky"]),
    ("automobile", ["car", "race car", "racing car"]), ("motorbike", ["motorcycle", "motorbike"]),
    ("mug", ["cup", "mug", "teacup"]), ("aeroplane", ["airplane", "airplanes", "airliner", "aircraft"]),
    ("plane", ["airplane", "airplanes", "airliner", "propeller plane", "fighter jet"]),
    ("ship", ["boat", "boats"]), ("lorry", ["truck", "fire truck", "garbage truck"]),
    ("seashore", ["beach", "coast"]), ("seaside", ["beach", "coast"]), ("ocean", ["sea", "ocean"]),
    ("monument", ["monument", "memorial", "war memorial", "landmark"]),
    ("sight", ["landmark"]), ("dessert", ["dessert", "pudding", "christmas pudding", "pie", "mince pie", "pastry"]),
    ("sweets", ["sweets", "candy", "candy cane"]), ("veggies", ["vegetable"]),
    ("woods", ["forest"]), ("sundown", ["sunset"]), ("twilight", ["dusk"]),
    ("summit", ["peak", "mountain", "mountains"]), ("chapel", ["church"]),
    ("primate", ["monkey", "ape", "gorilla", "gibbon", "baboon", "macaque", "lemur", "mandrill", "chimpanzee"]),
    ("bug", ["insect", "beetle", "ladybird", "ladybug"]), ("bunny", ["rabbit"]),
    ("cow", ["cow", "cattle", "calf", "bull"]), ("chicken", ["chicken", "hen", "hens"]),
    ("silverware", ["cutlery", "fork", "knife", "spoon", "spoons"]),
    ("wrench", ["wrench", "spanner", "adjustable wrench"]), ("eggplant", ["eggplant", "aubergine", "brinjal"]),
    ("zucchini", ["zucchini", "courgette"]), ("peanut", ["peanuts", "groundnuts"]), ("corn", ["corn", "maize"]),
    ("tire", ["tire", "tyre", "tractor tyre"]), ("fire truck", ["fire truck", "fire engine"]),
    ("frying pan", ["frying pan", "skillet", "pan"]), ("lightbulb", ["light bulb", "bulb"]),
    ("soccer", ["soccer", "football"]), ("sculpture", ["sculpture", "statue"]),
    ("high rise", ["skyscraper", "skyscrapers"]), ("shellfish", ["crab", "crabs", "lobster", "spiny lobster",
                                                                  "prawns", "shrimp"]),
    ("rhino", ["rhino", "rhinoceros"]), ("parrot", ["parrot", "macaw", "scarlet macaw"]),
    ("wildcat", ["big cat", "tiger", "cheetah", "jaguar"]), ("elk", ["elk", "wapiti"]),
    ("instrument", ["musical instrument", "string instrument", "drum", "drums", "guitar"]),
    ("trash can", ["bin", "compost bin"]), ("ladybug", ["ladybird", "ladybug"]),
]

# Filler around one label (the photo's own first label is put in {}).
PHRASE_TEMPLATES = ["photos of a {}", "show me the {}", "pictures of my {}", "a {}", "find the {} please",
                    "{} pictures", "the {} photo", "images of the {}"]
# Two labels of one photo in a sentence: (query, [labels the photo must all have]).
TWO_LABEL_PHRASES = [
    ("a castle by the lake", ["castle", "lake"]), ("castle on the river", ["castle", "river"]),
    ("a bridge at night", ["bridge", "night"]), ("fish in the coral reef", ["fish", "coral reef"]),
    ("a man on the beach", ["man", "beach"]), ("a woman on the beach", ["woman", "beach"]),
    ("boats on the lake", ["boat", "lake"]), ("sunset over the lake", ["sunset", "lake"]),
    ("a bear in the snow", ["bear", "snow"]), ("a dog in the forest", ["dog", "forest"]),
    ("a bus in the street", ["bus", "street"]), ("a car in the street", ["car", "street"]),
    ("snow on the mountain", ["mountain", "snow"]), ("a dam on the river", ["dam", "river"]),
    ("a house in the snow", ["house", "snow"]), ("waves of the sea", ["waves", "sea"]),
    ("the sun in the sky", ["sun", "sky"]), ("trees in the fog", ["trees", "fog"]),
]
# (colour, label): "<colour> <label>"; the expected photos are those with the label whose
# document's colours (the engine's own dominant colours property) include the colour.
COLOUR_PAIRS = [("blue", "sky"), ("blue", "sea"), ("green", "forest"), ("green", "tree"), ("green", "leaf"),
                ("white", "snow"), ("orange", "sunset"), ("red", "flower"), ("yellow", "flower"),
                ("green", "grass"), ("blue", "water"), ("black", "night"), ("white", "building"),
                ("brown", "animal"), ("red", "fruit"), ("green", "vegetable"), ("grey", "building"),
                ("blue", "underwater"), ("green", "plant"), ("brown", "tool")]
# Sign texts: unique words; COMPACT ones are drawn without spaces ("KEEPOUT") and searched with them.
SIGN_PHRASES = [
    "OPEN 24 HOURS", "WELCOME TO ZURICH", "SALE 50% OFF", "FRESH BREAD DAILY", "PLATFORM 9", "STAY CALM",
    "HAPPY BIRTHDAY", "PHARMACY", "FREE WIFI", "ROOM 101", "EMERGENCY EXIT", "CAUTION WET FLOOR",
    "CLOSED ON SUNDAYS", "PRIVATE PROPERTY", "TICKETS", "INFORMATION", "RECEPTION", "BAKERY",
    "HARDWARE STORE", "TAXI RANK", "LOST AND FOUND", "BOOKSHOP", "GARAGE", "ICE CREAM", "LEMONADE", "PIZZA",
    "DENTIST", "BARBER", "LAUNDRY", "NO SMOKING", "QUIET ZONE", "SLOW DOWN", "DEAD END", "ONE WAY", "DETOUR",
    "TOURIST INFO", "SPEED LIMIT 30", "HOT SOUP", "FARMERS MARKET", "VOTE TODAY", "CAR WASH",
    "BICYCLE REPAIR", "GUEST PARKING", "LIBRARY", "SOUVENIRS", "CINEMA", "HOSPITAL", "POLICE", "BUTCHER",
    "FLORIST", "JEWELER", "CHECKOUT", "ELEVATOR", "STAIRS",
]
COMPACT = ["KEEP OUT", "DRIVE THRU", "TAKE AWAY", "STAFF ONLY", "HELP DESK", "FIRST AID"]
SIGNS_PER_SPLIT = 30

EXACT_PER_SPLIT = 40       # 20 labels shared by several photos of the split, 20 of one photo
MISSPELLINGS_PER_SPLIT = 24
PHRASES_PER_SPLIT = 16     # one-label templates (plus the two-label phrases found in the split)
DATES_PER_SPLIT = 12
DATE_LABELS_MIN = 8        # date queries use labels with at least this many photos in the split
YEARS = (2014, 2024)


# ---- helpers -----------------------------------------------------------------------------------

def digest(*parts):
    return hashlib.sha256("\x00".join(str(p) for p in parts).encode()).hexdigest()


def by_hash(items, salt):
    """`items` in a fixed pseudo-random order."""
    return sorted(items, key=lambda item: digest(salt, item))


def taken(file):
    """A deterministic capture time in 2014-01-01 .. 2024-12-31 (EXIF "YYYY:MM:DD HH:MM:SS")."""
    start, end = datetime(YEARS[0], 1, 1), datetime(YEARS[1] + 1, 1, 1)
    seconds = int(digest("taken", file)[:12], 16) % int((end - start).total_seconds())
    return (start + timedelta(seconds=seconds)).strftime("%Y:%m:%d %H:%M:%S")


# Kept apart from chalicelib (its word rules change as search improves): this file stays the same.
STOP_WORDS = frozenset("a an the of on in to and or at by for with".split())


def tokens(text):
    """Lowercase words of letters and digits, accents removed."""
    text = unicodedata.normalize("NFKD", text.casefold())
    return re.findall(r"[a-z0-9]+", "".join(c for c in text if not unicodedata.combining(c)))


def misspell(word, vocabulary):
    """A one-letter slip of `word` (deleted, doubled, swapped or a vowel replaced), chosen by its hash,
    that is not itself a word of `vocabulary`; None if none is found."""
    vowels = "aeiou"
    h = int(digest("slip", word), 16)
    for attempt in range(12):
        op, pos = (h >> (8 * attempt)) % 4, (h >> (8 * attempt + 2)) % max(1, len(word) - 2) + 1
        if op == 0:
            out = word[:pos] + word[pos + 1:]
        elif op == 1:
            out = word[:pos] + word[pos] + word[pos:]
        elif op == 2:
            out = word[:pos] + word[pos + 1] + word[pos] + word[pos + 2:] if pos + 1 < len(word) else word
        else:
            spots = [i for i, c in enumerate(word) if c in vowels and i > 0]
            if not spots:
                continue
            i = spots[pos % len(spots)]
            out = word[:i] + vowels[(vowels.index(word[i]) + 1 + pos % 4) % 5] + word[i + 1:]
        if out != word and out not in vocabulary:
            return out
    return None


# ---- the libraries -----------------------------------------------------------------------------

def libraries(photos):
    """{split: {file: {"labels", "names", "source"}}}: the originals, the extras and the sign copies."""
    libs = {s: {} for s in SPLITS}
    for p in photos:
        libs[p["split"]][p["file"]] = {"labels": p["labels"], "names": p.get("names", []), "source": p["file"]}
    for e in EXTRAS:
        libs[e["split"]][e["file"]] = {"labels": e["labels"], "names": e["names"], "source": e["file"]}
    return libs


def signs(photos):
    """SIGNS_PER_SPLIT sign copies per split: real photos (no cut-outs, no named people) chosen by hash."""
    texts = {s: [] for s in SPLITS}
    for i, text in enumerate(SIGN_PHRASES):
        texts[SPLITS[i % 2]].append((text, False))
    for i, text in enumerate(COMPACT):
        texts[SPLITS[i % 2]].append((text, True))
    out = []
    for split in SPLITS:
        pool = [p["file"] for p in photos if p["split"] == split and not p.get("cutout") and not p.get("names")]
        assert len(texts[split]) == SIGNS_PER_SPLIT, (split, len(texts[split]))
        for n, (source, (text, compact)) in enumerate(zip(by_hash(pool, "sign"), texts[split]), 1):
            stem = source.rsplit(".", 1)[0]
            out.append({"file": "sign%02d_%s.jpg" % (n, stem), "source": source, "split": split,
                        "text": text.replace(" ", "") if compact else text, "spoken": text.lower(),
                        "compact": compact})
    return out


# ---- the queries -------------------------------------------------------------------------------

def having(lib, labels, every=False):
    """Files of `lib` with any (every=True: all) of `labels`."""
    want = set(labels)
    test = (lambda have: want <= have) if every else (lambda have: bool(want & have))
    return sorted(f for f, info in lib.items() if test(set(info["labels"])))


def words_of(lib):
    return {w for info in lib.values() for label in info["labels"] for w in tokens(label)}


def names_of(libs):
    """Every person's name, casefolded: hand labels that are names are searched as people, not labels."""
    return {n.casefold() for lib in libs.values() for info in lib.values() for n in info["names"]}


def label_counts(lib, names):
    counts = {}
    for info in lib.values():
        for label in info["labels"]:
            if label.casefold() not in names:
                counts[label] = counts.get(label, 0) + 1
    return counts


def exact_queries(split, lib, names):
    counts = label_counts(lib, names)
    shared = by_hash([label for label, n in counts.items() if n >= 2], "exact")[:EXACT_PER_SPLIT // 2]
    single = by_hash([label for label, n in counts.items() if n == 1], "exact")[:EXACT_PER_SPLIT // 2]
    return [{"q": label, "kind": "exact", "split": split, "expected": having(lib, [label])}
            for label in sorted(shared + single)]


def synonym_queries(split, lib):
    out = []
    for q, labels in SYNONYMS:
        expected = having(lib, labels)
        if set(expected) - set(having(lib, [q])):      # some photo is found only through the synonym
            out.append({"q": q, "kind": "synonym", "split": split, "expected": expected, "means": labels})
    return out


def first_concept(info):
    """A photo's first hand label that is not the name of a person shown (the engine cannot know names)."""
    names = {n.casefold() for n in info["names"]}
    return next((label for label in info["labels"] if label.casefold() not in names), None)


def phrase_queries(split, lib, photos):
    out, used = [], set()
    originals = [p["file"] for p in photos if p["split"] == split]
    for file in by_hash(originals, "phrase"):
        label = first_concept(lib[file])
        if label is None or label in used:
            continue
        used.add(label)
        template = PHRASE_TEMPLATES[len(used) % len(PHRASE_TEMPLATES)]
        out.append({"q": template.format(label), "kind": "phrase", "split": split,
                    "expected": having(lib, [label])})
        if len(out) == PHRASES_PER_SPLIT:
            break
    for q, labels in TWO_LABEL_PHRASES:
        expected = having(lib, labels, every=True)
        if expected:
            out.append({"q": q, "kind": "phrase", "split": split, "expected": expected, "means": labels})
    return out


def misspelling_queries(split, lib, vocabulary, names):
    labels = sorted(label_counts(lib, names))
    out = []
    for label in by_hash(labels, "misspelling"):
        words = label.split()
        longest = max(words, key=len)
        if len(longest) < 5 or not longest.isalpha():
            continue
        slip = misspell(longest, vocabulary)
        if slip is None:
            continue
        q = " ".join(slip if w == longest else w for w in words)
        out.append({"q": q, "kind": "misspelling", "split": split, "expected": having(lib, [label]),
                    "means": label})
        if len(out) == MISSPELLINGS_PER_SPLIT:
            break
    return out


def text_queries(split, sign_list, vocabulary):
    """A word of each sign, the whole phrase in quotes, and a compact sign's words with spaces."""
    mine = [s for s in sign_list if s["split"] == split]

    def showing(word):
        return sorted(s["file"] for s in mine if not s["compact"] and word in tokens(s["text"]))

    out = []
    for s in mine:
        if s["compact"]:
            out.append({"q": s["spoken"], "kind": "text", "split": split, "expected": [s["file"]]})
            continue
        words = [w for w in tokens(s["text"]) if w.isalpha() and len(w) >= 3 and w not in STOP_WORDS
                 and w not in vocabulary]
        if words:
            word = max(words, key=len)
            out.append({"q": word, "kind": "text", "split": split, "expected": showing(word)})
        if len(s["text"].split()) >= 2:
            out.append({"q": '"%s"' % s["spoken"], "kind": "text", "split": split, "expected": [s["file"]]})
    return out


def person_queries(split, lib):
    names = sorted({n for info in lib.values() for n in info["names"]})
    out = []
    for name in names:
        expected = sorted(f for f, info in lib.items() if name in info["names"])
        out.append({"q": "photos of %s" % name.lower(), "kind": "person", "split": split, "expected": expected,
                    "name": name})
        if len(name.split()) > 1:
            out.append({"q": name.split()[0].lower(), "kind": "person", "split": split, "expected": expected,
                        "name": name})
    return out


def date_queries(split, lib, dates, names):
    counts = label_counts(lib, names)
    pool = by_hash([label for label, n in counts.items() if n >= DATE_LABELS_MIN], "date")
    out = []
    for i in range(2 * len(pool)):
        if len(out) == DATES_PER_SPLIT:
            break
        label, summer = pool[i % len(pool)], i % 2 == 1
        files = [f for f in having(lib, [label]) if not summer or "06" <= dates[f][5:7] <= "08"]
        if not files:
            continue
        year = by_hash(sorted({dates[f][:4] for f in files}), ("year", label, summer))[0]
        expected = [f for f in files if dates[f][:4] == year]
        q = ("%s from summer %s" if summer else "%s taken in %s") % (label, year)
        out.append({"q": q, "kind": "date", "split": split, "expected": expected})
    return out


def colour_queries(split, lib):
    out = []
    for colour, label in COLOUR_PAIRS:
        candidates = having(lib, [label])
        if candidates:
            out.append({"q": "%s %s" % (colour, label), "kind": "colour", "split": split, "expected": None,
                        "rule": {"label": label, "colour": colour, "candidates": candidates}})
    return out


def build():
    with open(PHOTOS) as f:
        photos = json.load(f)["photos"]
    libs = libraries(photos)
    sign_list = signs(photos)
    for s in sign_list:
        libs[s["split"]][s["file"]] = {"labels": libs[s["split"]][s["source"]]["labels"], "names": [],
                                       "source": s["source"], "sign": s["text"]}
    dates = {f: taken(f) for split in SPLITS for f in libs[split]}
    queries, names = [], names_of(libs)
    for split in SPLITS:
        lib = libs[split]
        vocabulary = words_of(libs["tune"]) | words_of(libs["heldout"])
        queries += exact_queries(split, lib, names)
        queries += synonym_queries(split, lib)
        queries += phrase_queries(split, lib, photos)
        queries += misspelling_queries(split, lib, vocabulary, names)
        queries += text_queries(split, sign_list, vocabulary)
        queries += person_queries(split, lib)
        queries += date_queries(split, lib, dates, names)
        queries += colour_queries(split, lib)
    return {
        "about": "Queries of bench/quality.py, written by bench/make_queries.py from bench/photos.json and its "
                 "hand-written tables (run it again after changing either; tests check the file is current). "
                 "Each split of photos.json is one user's library, plus `extras` (var/testdata photos) and "
                 "`signs` (copies of real photos with a rendered sign, keeping their source's labels); `taken` "
                 "is the EXIF DateTimeOriginal written into each file. recall@10 of a query = expected photos "
                 "in the top 10 / min(10, expected). Colour queries: expected null; the run takes the rule's "
                 "candidates whose indexed colours (the engine's own dominant colours) include the colour.",
        "extras": EXTRAS,
        "signs": sign_list,
        "taken": dates,
        "queries": queries,
    }


def dump(data):
    return json.dumps(data, indent=1, ensure_ascii=False) + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="only compare with the committed file")
    args = parser.parse_args(argv)
    text = dump(build())
    if args.check:
        with open(OUT) as f:
            same = f.read() == text
        print("bench/queries.json is %s" % ("current" if same else "NOT current: run bench/make_queries.py"))
        return 0 if same else 1
    with open(OUT, "w") as f:
        f.write(text)
    data = json.loads(text)
    counts = {}
    for q in data["queries"]:
        counts[(q["split"], q["kind"])] = counts.get((q["split"], q["kind"]), 0) + 1
    for split in SPLITS:
        print("%s: %d queries (%s)" % (split, sum(n for (s, _), n in counts.items() if s == split),
                                       ", ".join("%s %d" % (k, n) for (s, k), n in counts.items() if s == split)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
