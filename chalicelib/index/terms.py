"""Search terms: how label names and query words are normalized.

The normalization lives here, not in a backend's analyzer, so OpenSearch and
any other index match exactly the same words:

- Unicode-casefolded, accents removed, split on anything that is not a letter
  or a digit ("Sports Car" -> "sports", "car").
- A light plural folding: "dogs" -> "dog", "puppies" -> "puppy",
  "boxes" -> "box"; words of three letters or fewer and words ending in
  "ss", "us" or "is" are kept ("bus", "glass", "cactus").
"""
import re
import unicodedata

_WORD = re.compile(r"[^\W_]+", re.UNICODE)
MAX_QUERY_WORDS = 10


def fold(word):
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 4 and word.endswith(("sses", "xes", "ches", "shes", "zes")):
        return word[:-2]
    if len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    return word


def tokens(text):
    text = unicodedata.normalize("NFKD", text.casefold())
    text = "".join(c for c in text if not unicodedata.combining(c))
    return [fold(w) for w in _WORD.findall(text)]


def label_terms(label):
    """Every term that finds this label: its name, its parents, its aliases."""
    found = []
    for text in [label["name"], *label.get("parents", ()), *label.get("aliases", ())]:
        for t in tokens(text):
            if t not in found:
                found.append(t)
    return found


def query_words(q):
    """The distinct normalized words of a query, in order, at most MAX_QUERY_WORDS."""
    words = []
    for t in tokens(q or ""):
        if t not in words:
            words.append(t)
    return words[:MAX_QUERY_WORDS]
