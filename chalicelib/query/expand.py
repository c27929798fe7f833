"""From parsed words to the index's groups of weighted alternatives (chalicelib.index), and back
from a hit to how it matched.

Weights (an alternative's score is weight x the confidence of what it matches, so a match
through a related concept always scores below the same confidence on the word itself):

    the word itself, a quoted phrase, two words run together in text   1.0
    a synonym / WordNet relation / embedding neighbour of the word     the table's weight (< 1)
    a spelling slip of a known word (edit distance 1)                  SPELLING x the above
    an OCR slip of a word of 5 to 20 letters, in text read in a photo  OCR
    a colour word, against the photo's dominant colours                COLOR

The word -> concepts table (expansions.json) is built once by tools/build_expansions.py from
WordNet 3.0 and all-MiniLM-L6-v2 over the label vocabulary, and shipped with the code, so
both engines and both stages expand the same way without a model at query time.  Where the
local engine runs (the model is in var/models), a word missing from the table is embedded
live and matched to its nearest concepts.
"""
import json
import os
import threading
from collections import namedtuple

from chalicelib.index import BOOST, Alt
from chalicelib.index.terms import tokens

HERE = os.path.dirname(os.path.abspath(__file__))
SPELLING = 0.8
OCR = 0.8
COLOR = 0.6
MAX_WEIGHT = 0.95               # an expansion never scores like the word itself
FUZZY_MIN_LETTERS = 5
FUZZY_MAX_LETTERS = 20          # longer words are not OCR'd words; their slips would be thousands
LETTERS = "abcdefghijklmnopqrstuvwxyz0123456789"

# alt: what the index matches; via: "word", "synonym", "wordnet", "embedding", "spelling",
# "ocr", "phrase", "color"; label: the concept's display name (None: the word itself)
Term = namedtuple("Term", "alt via label")
Group = namedtuple("Group", "word terms color")
Group.__new__.__defaults__ = (False,)
Plan = namedtuple("Plan", "groups")

_table = None
_lock = threading.Lock()


def table():
    """The shipped word -> concepts table: {"concepts": [name...], "words": {word: [[i, weight, via]]}},
    plus "known": every word the table or the concepts know; "label_words": every word of a label
    name (label_vocabulary_words); "targets": the words a slip is corrected to, both of those
    (words that find something: "elefant" is not turned into "elegant"); "dictionary": English
    words the table has no concept for, never taken for slips ("tall" is not a "ball", "hatred"
    not "haired")."""
    global _table
    if _table is None:
        with _lock:
            if _table is None:
                path = os.path.join(HERE, "expansions.json")
                with open(path, encoding="utf-8") as f:
                    data = json.load(f)
                known = set(data["words"])
                for name in data["concepts"]:
                    known.update(tokens(name))
                from chalicelib.query.vocabulary import concepts
                vocabulary = concepts()         # (read once: it loads the label lists)
                data["label_words"] = label_vocabulary_words(vocabulary)
                data["targets"] = data["label_words"] | known     # what a slip is corrected to: words that find something
                data["known"] = known
                data["dictionary"] = set(data.get("dictionary", "").split())
                data["terms"] = [" ".join(tokens(name)) for name in data["concepts"]]
                data["concept_terms"] = set(data["terms"]) | vocabulary_terms(vocabulary)
                _table = data
    return _table


def vocabulary_terms(vocabulary):
    """The whole names of every concept an engine can label (chalicelib.query.vocabulary.concepts())."""
    return {" ".join(tokens(c.name)) for c in vocabulary}


def label_vocabulary_words(vocabulary):
    """Every word of a name, alias or parent some engine can label ("otter", "locket", "potted"):
    a slip of one is corrected to it even when the table has no entry for it."""
    return {w for c in vocabulary for name in [c.name, *c.aliases, *c.parents] for w in tokens(name)}


def edits(word):
    """Every string at edit distance 1 from `word` (deletion, transposition, substitution,
    insertion) over lower-case letters and digits."""
    splits = [(word[:i], word[i:]) for i in range(len(word) + 1)]
    out = set()
    for a, b in splits:
        if b:
            out.add(a + b[1:])
            out.update(a + c + b[1:] for c in LETTERS)
        if len(b) > 1:
            out.add(a + b[1] + b[0] + b[2:])
        out.update(a + c + b for c in LETTERS)
    out.discard(word)
    return sorted(out)


def concepts_of(word, weight=1.0, via_override=None):
    """Terms for the concepts the table says `word` means.  A word that is itself the name of
    a concept keeps only its synonyms: the index already finds the concept's kinds through
    their parents ("dog" finds a Beagle), and its WordNet relatives and embedding neighbours
    are other things ("dog" -> Pet would find cats).  Embedding neighbours stand in only for
    words WordNet gives nothing for."""
    data = table()
    entries = data["words"].get(word, ())
    if word in data["concept_terms"]:
        entries = [e for e in entries if e[2] == "synonym"]
    elif any(e[2] != "embedding" for e in entries):
        entries = [e for e in entries if e[2] != "embedding"]
    out = []
    for index, w, via in entries:
        term = data["terms"][index]
        if term and term != word:
            out.append(Term(Alt(term, round(min(MAX_WEIGHT, w) * weight, 4), "any"), via_override or via,
                            data["concepts"][index]))
    return out


def live_concepts(word):
    """Nearest concepts by the text-embedding model, where the local engine's models are installed."""
    try:
        from chalicelib.query.embedding import nearest_concepts
        found = nearest_concepts(word)
    except Exception:       # no model here (the AWS stage): the table is all there is
        return []
    return [Term(Alt(" ".join(tokens(name)), round(min(MAX_WEIGHT, cos), 4), "any"), "embedding", name)
            for name, cos in found if tokens(name)]


def word_terms(word, live=True):
    """The alternatives of one content word."""
    terms = [Term(Alt(word, 1.0, "any"), "word", None)]
    data = table()
    if word in data["words"]:
        terms += concepts_of(word)
    elif word not in data["known"]:
        # a word of a label's name or of the dictionary is no slip ("otter", "tall"); a slip of a
        # label word is corrected to it first ("otetr" is the Otter, whatever else it is a slip of)
        slips = sorted((w for w in edits(word) if w in data["targets"]),
                       key=lambda w: (w not in data["label_words"], w)) \
            if len(word) >= 4 and word not in data["label_words"] and word not in data["dictionary"] else []
        if not slips and word in data["dictionary"]:
            slips = derived_from(word, data["targets"])
        for slip in slips[:3]:
            terms.append(Term(Alt(slip, SPELLING, "any"), "spelling", slip))
            terms += concepts_of(slip, SPELLING, "spelling")
        if not slips and live:
            terms += live_concepts(word)
    if FUZZY_MIN_LETTERS <= len(word) <= FUZZY_MAX_LETTERS:
        terms += [Term(Alt(w, OCR, "text"), "ocr", w) for w in edits(word)]
    return _best_first(terms)


def derived_from(word, targets):
    """The noun an adjective in "-y" is made from, when it finds something: "rainy" -> "rain",
    "foggy" -> "fog", "grassy" -> "grass" (an English word is no slip, but these mean their noun)."""
    if len(word) < 5 or not word.endswith("y"):
        return []
    stems = [word[:-1]] + ([word[:-2]] if word[-2] == word[-3] else [])
    return [w for w in stems if w in targets]


def _best_first(terms):
    """One term per (term, scope): the highest weight."""
    best = {}
    for t in terms:
        key = (t.alt.term, t.alt.scope)
        if key not in best or t.alt.weight > best[key].alt.weight:
            best[key] = t
    return sorted(best.values(), key=lambda t: -t.alt.weight)


def plan(parsed, live=True):
    """Plan(groups) for a chalicelib.query.Parsed: one group per content word, quoted phrase pair,
    text word and colour."""
    groups = []
    words = list(parsed.words)
    for n, word in enumerate(words):
        terms = word_terms(word, live)
        for other in words[max(0, n - 1):n] + words[n + 1:n + 2]:
            first, second = (other, word) if words.index(other) < n else (word, other)
            if second == word:
                # with the word before it, as a two-word name: "hot dog" is a Hot Dog, though "dog"
                # alone is not (terms.NOT_A_KIND).  Only the last word needs it: the first word of a
                # name is always one of its terms.
                terms.append(Term(Alt(first + " " + second, 1.0, "any"), "phrase", first + " " + second))
            terms.append(Term(Alt(first + second, 1.0, "text"), "phrase", first + second))   # NOPARKING
        groups.append(Group(word, terms))
    for word in parsed.text_words:
        terms = [Term(Alt(word, 1.0, "text"), "word", None)]
        if FUZZY_MIN_LETTERS <= len(word) <= FUZZY_MAX_LETTERS:
            terms += [Term(Alt(w, OCR, "text"), "ocr", w) for w in edits(word)]
        groups.append(Group(word, terms))
    for phrase in parsed.phrases:
        if len(phrase) == 1:
            groups.append(Group(phrase[0], [Term(Alt(phrase[0], 1.0, "text"), "phrase", None)]))
        for a, b in zip(phrase, phrase[1:]):
            groups.append(Group(a + " " + b, [Term(Alt(a + " " + b, 1.0, "text"), "phrase", None),
                                              Term(Alt(a + b, 1.0, "text"), "phrase", None)]))
    for color in parsed.colors:
        groups.append(Group(color, [Term(Alt(color, 1.0, "any"), "word", None),
                                    Term(Alt(color, COLOR, "color"), "color", color)], True))
    return Plan(groups)


def index_groups(p):
    """The groups as chalicelib.index takes them.  A colour beside other words is a boost group:
    "red car" ranks red cars first, and never shows a red wall."""
    only_colors = all(g.color for g in p.groups)
    return [([BOOST] if g.color and not only_colors else []) + [t.alt for t in g.terms] for g in p.groups]


def explain(p, doc, min_score):
    """How a hit matched: for each group it matches, its best term as
    {"word", "label" | "text" | "color", "via", "confidence"} (the confidence of what it matched),
    with "evidence": true when the label is evidence, not one of the photo's shown labels."""
    from chalicelib.index.documents import term_matches
    found = {}          # (scope, term) -> (confidence, kind, name)
    for scope, term, confidence, kind, name in term_matches(doc):
        if confidence > found.get((scope, term), (-1,))[0]:
            found[(scope, term)] = (confidence, kind, name)
    out = []
    for group in p.groups:
        best = None
        for t in group.terms:
            hit = found.get((t.alt.scope, t.alt.term))
            if hit is None or t.alt.weight * hit[0] < min_score:
                continue
            score = t.alt.weight * hit[0]
            if best is None or score > best[0]:
                best = (score, t, hit)
        if best is not None:
            _, t, (confidence, kind, name) = best
            match = {"word": group.word, "label" if kind == "evidence" else kind: name, "via": t.via,
                     "confidence": round(confidence, 1)}
            if kind == "evidence":      # not one of the photo's shown labels: weaker, indirect evidence
                match["evidence"] = True
            out.append(match)
    return out
