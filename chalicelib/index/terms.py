"""Search terms: how label names and query words are normalized.

The normalization lives here, not in a backend's analyzer, so OpenSearch and
any other index match exactly the same words:

- Unicode-casefolded, accents removed, split on anything that is not a letter
  or a digit ("Sports Car" -> "sports", "car").
- A light plural folding: "dogs" -> "dog", "puppies" -> "puppy" (but "collies"
  -> "collie": IE_SINGULARS), "boxes" -> "box", "tomatoes" -> "tomato" (but "shoes" ->
  "shoe"), "buses" -> "bus" and "avalanches" -> "avalanche" for the words listed; words of three letters or fewer and words ending in
  "ss", "us" or "is" are kept ("bus", "glass", "cactus"), and so are a few words whose
  final "s" is no plural (UNFOLDED: "lens" is not a "len"); a few irregular plurals are
  folded too (IRREGULAR: "leaves" -> "leaf", "children" -> "child").
"""
import re
import unicodedata

_WORD = re.compile(r"[^\W_]+", re.UNICODE)
MAX_QUERY_WORDS = 10


# Words ending in "s" that are not the plural of another word people mean by them.
UNFOLDED = frozenset(("lens", "news", "series", "species", "canvas", "atlas", "bias", "chaos", "christmas",
                      "pants", "shorts", "jeans", "scissors", "tongs", "binoculars"))
# Plurals no rule folds ("leaves" is not the verb "leave").
IRREGULAR = {"leaves": "leaf", "knives": "knife", "wolves": "wolf", "shelves": "shelf", "calves": "calf",
             "loaves": "loaf", "halves": "half", "hooves": "hoof", "scarves": "scarf", "thieves": "thief",
             "wives": "wife", "children": "child", "men": "man", "women": "woman", "mice": "mouse",
             "geese": "goose", "feet": "foot", "teeth": "tooth"}


# Singulars ending in "ie", so that "collies" is a collie and "movies" a movie, not a "colly".
IE_SINGULARS = frozenset("""
movie cookie brownie selfie veggie zombie hippie pixie rookie smoothie genie goalie hoodie birdie collie
calorie prairie magpie auntie budgie necktie bowtie beanie doggie sweetie nightie walkie talkie
roadie foodie freebie groupie newbie techie pinkie cutie lassie junkie boogie menagerie rotisserie
lingerie potpie sortie eyrie cowrie quickie wheelie
""".split())


# Singulars ending in "oe" ("shoes", "canoes"); other "-oes" plurals drop "es" ("tomatoes", "heroes").
OE_SINGULARS = frozenset("shoe canoe oboe hoe floe sloe aloe toe tiptoe throe felloe".split())
# Singulars ending in "us" whose plural is "-uses" ("buses"; "houses" and "causes" are not of them).
US_SINGULARS = frozenset("""
bus cactus circus virus bonus octopus walrus campus genius platypus hippopotamus abacus asparagus citrus
crocus fungus hibiscus narcissus nautilus papyrus census chorus status syllabus caucus
""".split())
# Singulars ending in "che": "avalanches" is an avalanche, where "beaches" is a beach.
CHE_SINGULARS = frozenset("""
avalanche niche quiche cache moustache mustache headache toothache stomachache cliche creche brioche psyche
""".split())


def fold(word):
    if word in UNFOLDED:
        return word
    if word in IRREGULAR:
        return IRREGULAR[word]
    if word.endswith("ies") and word[:-1] in IE_SINGULARS:
        return word[:-1]
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 4 and word.endswith("oes"):
        return word[:-1] if word[:-1] in OE_SINGULARS or word.endswith("shoes") else word[:-2]
    if word.endswith("uses") and word[:-2] in US_SINGULARS:
        return word[:-2]
    if word.endswith("ches") and word[:-1] in CHE_SINGULARS:
        return word[:-1]
    if len(word) > 4 and word.endswith(("sses", "xes", "ches", "shes", "zes")):
        return word[:-2]
    if len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    return word


def tokens(text, folded=True):
    text = unicodedata.normalize("NFKD", text.casefold())
    text = "".join(c for c in text if not unicodedata.combining(c))
    return [fold(w) for w in _WORD.findall(text)] if folded else _WORD.findall(text)


def phrase(text):
    """A name of several words as one term ("Coffee Mug" -> "coffee mug"); None for one word.
    Query expansion targets whole names this way, so "mug" -> Coffee Mug does not also find
    every "coffee"."""
    words = tokens(text)
    return " ".join(words) if len(words) > 1 else None


# Names whose last word is not what they are: a hot dog is no dog, a teddy bear no bear.  That
# word is not a term of theirs, so "dog" does not find hot dogs; "hot dog" still does (the whole
# name is a term, and search sends neighbouring words as a phrase too).
# (A computer mouse is still a "mouse" and a wax seal a "seal" as people say them: not listed.)
NOT_A_KIND = {"hot dog": "dog", "teddy bear": "bear", "sea lion": "lion", "guinea pig": "pig",
              "sea cucumber": "cucumber", "peanut butter": "butter", "power plant": "plant",
              "snow angel": "angel", "boston bull": "bull", "water polo": "polo", "jet ski": "ski",
              "pac man": "man", "man eater": "man", "man eating shark": "man"}


def label_terms(label):
    """Every term that finds this label: its name, its parents, its aliases, each word
    and each whole multi-word name (but see NOT_A_KIND)."""
    found = []
    for text in [label["name"], *label.get("parents", ()), *label.get("aliases", ())]:
        whole = phrase(text)
        for t in tokens(text) + [whole]:
            if t and t not in found and NOT_A_KIND.get(whole) != t:
                found.append(t)
    return found


def text_terms(line):
    """The terms of a line of text read in a photo: its words, each pair of neighbouring words
    ("no parking", for a quoted phrase) and each pair run together ("noparking": OCR often
    drops the space, and people type it)."""
    words = tokens(line)
    found = []
    for t in words + [a + " " + b for a, b in zip(words, words[1:])] + [a + b for a, b in zip(words, words[1:])]:
        if t not in found:
            found.append(t)
    return found


# Scoped terms (SQLite rows; OpenSearch uses the nested field instead): a word of text read in
# the photo, and a dominant colour.  ":" never occurs in a token, so they cannot collide.
TEXT_PREFIX = "t:"
COLOR_PREFIX = "c:"


def query_words(q):
    """The distinct normalized words of a query, in order, at most MAX_QUERY_WORDS."""
    words = []
    for t in tokens(q or ""):
        if t not in words:
            words.append(t)
    return words[:MAX_QUERY_WORDS]
