"""Build chalicelib/query/expansions.json: for the English words people type, the concepts
(label names the engines produce, chalicelib/query/vocabulary.py) they mean.

Words: every single-word WordNet 3.0 noun lemma that is a common word (lowercase in the
Debian `wamerican` list), normalized as search terms are (chalicelib/index/terms.py).
Each word gets at most MAX_CONCEPTS concepts with a weight in (0, 1] and how it was found:

- "synonym": the word is one of the concept's aliases (automobile -> Car: not every engine
  sends aliases); or the concept shares a WordNet synset with one of the word's main senses
  (sofa -> Couch); or the sense is "young X" by its gloss (puppy -> Dog, kitten -> Cat); or
  the sense has no concept of its own and its nearest concept ancestor is 1-2 steps up
  (kitty -> Cat; weaker when concepts exist below it: "poodle" means Toy Poodle first); or
  HAND below, for everyday words WordNet does not tie to the labels (motorbike, coffee).
- "wordnet": the concept is a WordNet hyponym of a main sense, 1-3 steps down
  (tower -> Beacon, dessert -> Frozen Yogurt), weighted lower the further down.
- "embedding": MiniLM cosine between the word and the concept's name (or an alias) passes
  chalicelib.query.embedding.related(); the weight grows with the cosine, at most
  EMBEDDING_MAX.  Left out: WordNet ancestors of the word (MiniLM finds "automobile" close
  to Vehicle), concepts whose name contains the word (the word finds them anyway).

Also left out: the word's own concept, and a concept whose parent is the word's concept or
is listed at least as strongly (the search finds it through that parent's term).
"Main senses": the senses with WordNet usage counts at least a tenth of the most used
one's (a word without counts: all its senses), never a proper name ("Forth", a river);
relations from a sense that is not clearly the most used one must pass a looser embedding
check too (GATE_COSINE), which drops "mug" -> Face (mug as "face") but keeps "kitty" -> Cat.

    apt-get install wordnet-base wamerican      # the sources (Debian)
    ./dev models                                # the MiniLM model in var/models
    .venv/bin/python tools/build_expansions.py [--show WORD ...]
"""
import argparse
import json
import os
import re
import sys
import time
from collections import defaultdict

import numpy as np

TOOLS = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(TOOLS)
sys.path.insert(0, TOOLS)
sys.path.insert(0, ROOT)
import wordnet  # noqa: E402
from chalicelib.index.terms import tokens  # noqa: E402
from chalicelib.query import vocabulary  # noqa: E402
from chalicelib.query.embedding import MIN_COSINE, TextEmbedder, related  # noqa: E402

OUT = os.path.join(ROOT, "chalicelib", "query", "expansions.json")
WORD_LIST = "/usr/share/dict/american-english"
MAX_CONCEPTS = 8
SYNONYM, YOUNG_OF = 1.0, 0.85
ANCESTOR = {1: 0.8, 2: 0.7}          # the nearest concept above a sense that has none
ANCESTOR_OVER_KINDS = 0.6            # ... when concepts below it exist: "poodle" is Toy Poodle first
HYPONYM = {1: 0.7, 2: 0.6, 3: 0.5}   # concepts below a sense
SECONDARY_SENSE = 0.85               # factor for a sense that is not the most used one
GATE_COSINE = 0.45
EMBEDDING_MAX = 0.6                  # an embedding match never outweighs WordNet's word

# Everyday words WordNet does not relate to the labels (word -> concepts, weight); a
# concept missing from the vocabulary (a label list not written yet) is skipped.
HAND = {
    "coffee": [("Espresso", 0.9), ("Latte", 0.85), ("Coffee Cup", 0.85),
               ("Coffee Mug", 0.8), ("Espresso Machine", 0.6), ("Coffeepot", 0.6)],
    "mug": [("Cup", 0.8), ("Coffee Cup", 0.8)],
    "cup": [("Coffee Mug", 0.8), ("Tea Cup", 0.8)],
    "monument": [("Triumphal Arch", 0.8), ("Obelisk", 0.8), ("Statue", 0.7),
                 ("Megalith", 0.7), ("Landmark", 0.7), ("Tomb", 0.6)],
    "landmark": [("Monument", 0.8), ("Triumphal Arch", 0.7), ("Obelisk", 0.7), ("Tower", 0.6),
                 ("Palace", 0.6), ("Castle", 0.6), ("Bell Tower", 0.6), ("Statue", 0.6)],
    "memorial": [("Monument", 0.8), ("Triumphal Arch", 0.7), ("Obelisk", 0.7), ("Brass Memorial Plaque", 0.7)],
    "tower": [("Bell Tower", 0.8), ("Water Tower", 0.8), ("Skyscraper", 0.7), ("Spire", 0.7),
              ("Lighthouse", 0.7), ("Clock Tower", 0.8)],
    "dessert": [("Ice Cream", 0.8), ("Cake", 0.8), ("Trifle", 0.8), ("Pie", 0.7), ("Cookie", 0.7),
                ("Cupcake", 0.7), ("Chocolate Syrup", 0.6)],
    "sweet": [("Candy", 0.8), ("Dessert", 0.8), ("Chocolate", 0.7), ("Ice Cream", 0.6), ("Cake", 0.6)],
    "kid": [("Child", 1.0), ("Boy", 0.7), ("Girl", 0.7), ("Baby", 0.5)],
    "beach": [("Sea", 0.7), ("Shoreline", 0.8), ("Coast", 0.8), ("Sand", 0.6)],
    "sea": [("Beach", 0.6), ("Shoreline", 0.6)],
    "sofa": [("Couch", 1.0)],
    "motorbike": [("Motorcycle", 1.0)],   # WordNet: a minibike
    "veggie": [("Vegetable", 1.0)],
    "bunny": [("Rabbit", 1.0)],
    "hound": [("Dog", 0.9)],
    "pup": [("Dog", 0.85), ("Puppy", 0.9)],
    "lightbulb": [("Light Bulb", 1.0), ("Light", 0.7)],
    "silverware": [("Cutlery", 1.0), ("Spoon", 0.8), ("Fork", 0.8), ("Knife", 0.8)],
    "cutlery": [("Spoon", 0.8), ("Fork", 0.8), ("Knife", 0.8)],
    "highrise": [("Skyscraper", 1.0), ("High Rise", 1.0)],
    "wood": [("Forest", 0.9), ("Woodland", 0.9), ("Tree", 0.7), ("Vegetation", 0.6)],
    "forest": [("Woodland", 1.0), ("Tree", 0.7), ("Vegetation", 0.7)],
    "twilight": [("Dusk", 1.0), ("Sunset", 0.8), ("Night", 0.6)],
    "dusk": [("Sunset", 0.8), ("Night", 0.6)],
    "chapel": [("Church", 0.9)],
    "sight": [("Landmark", 0.8), ("Monument", 0.7)],
    "summit": [("Mountain", 0.8), ("Peak", 0.9)],
    "instrument": [("Musical Instrument", 0.9)],
    "cloud": [("Sky", 0.7)],
    "meadow": [("Grass", 0.8), ("Field", 0.9), ("Vegetation", 0.7)],
    "field": [("Grass", 0.7), ("Meadow", 0.9), ("Vegetation", 0.6)],
    "countryside": [("Field", 0.8), ("Landscape", 0.8), ("Grass", 0.6), ("Vegetation", 0.6)],
}


NOT_A_NOUN = 3         # a word used this many times more as a verb/adjective gets no noun senses


def load_wordnet():
    """WordNet nouns with hyponyms and usage counts added to tools/wordnet.py's reader."""
    synsets, index = wordnet.load()
    for s in synsets.values():
        s["hyponyms"] = []
    for offset, s in synsets.items():
        for h in s["hypernyms"]:
            synsets[h]["hyponyms"].append(offset)
    counts = {}
    with open(wordnet.WORDNET_DIR + "/cntlist.rev", encoding="latin-1") as f:
        for line in f:
            sense_key, number, count = line.split()
            lemma, _, lex = sense_key.partition("%")
            if lex.startswith("1:"):   # nouns
                counts[(lemma, int(number))] = int(count)
            else:                      # verbs, adjectives, adverbs: how often the word is not a noun
                counts[(lemma, "other")] = counts.get((lemma, "other"), 0) + int(count)
    return synsets, index, counts


def main_senses(word, index, counts):
    """[(offset, factor, is_top)]: the senses worth relating, see the module docstring."""
    offsets = index.get(word, [])
    used = [counts.get((word, i + 1), 0) for i in range(len(offsets))]
    top = max(used, default=0)
    if counts.get((word, "other"), 0) > NOT_A_NOUN * sum(used):
        return []       # mostly used as another part of speech: "open" (the open air), "light"
    if top == 0:
        return [(o, 1.0, len(offsets) == 1) for o in offsets]
    return [(o, 1.0 if c == top else SECONDARY_SENSE, c == top) for o, c in zip(offsets, used) if c >= 0.1 * top]


def concept_synsets(concepts, synsets, index):
    """offset -> [concept index].  An ImageNet class is its WordNet id.  A concept is also
    the sense of its name that agrees with its place among the labels -- an ancestor of a
    concept listing it as a parent ("Plant" the organism, not the factory) or below a sense
    of one of its own parents ("Lounge" the room, not the sofa) -- and a concept that is no
    class is sense 1 of its name when none agrees."""
    by_key = {vocabulary.key(c.name): i for i, c in enumerate(concepts)}
    known = {i: [w.lstrip("n") for w in c.wnids if w.lstrip("n") in synsets] for i, c in enumerate(concepts)}
    children = defaultdict(list)
    for i, c in enumerate(concepts):
        for p in c.parents:
            if vocabulary.key(p) in by_key:
                children[by_key[vocabulary.key(p)]].append(i)

    def senses(name):
        for text in (name.lower().replace(" ", "_"), vocabulary.key(name).replace(" ", "_")):
            if index.get(text):
                return index[text]
        return []

    ids = {i: list(offsets) for i, offsets in known.items()}
    for _ in range(2):   # the second pass sees the first's senses of children without a WordNet id
        for i, c in enumerate(concepts):
            below = {a for child in children[i] for o in known[child] for a in [o] + wordnet.ancestors(synsets, o)}
            above = {o for p in c.parents for o in senses(p)}
            options = senses(c.name)
            agree = [o for o in options if o in below or above & set(wordnet.ancestors(synsets, o))]
            # a class keeps its WordNet id and gains the agreeing sense of its name (Rekognition's
            # "Couch" is any sofa, ImageNet's the studio couch)
            known[i] = ids[i] + [o for o in agree[:1] if o not in ids[i]] if ids[i] else (agree or options)[:1]
    found = defaultdict(list)
    for i, offsets in known.items():
        for o in offsets:
            found[o].append(i)
    return found


YOUNG = re.compile(r"^(?:an? |the )?young (?:of )?(?:domestic )?([a-z]+(?: [a-z]+)?)(?: especially.*)?$")


def wordnet_relations(word, synsets, index, counts, at):
    """{concept index: (weight, via, needs_gate)} from WordNet for one word."""
    found = {}

    def put(concept, weight, via, gate):
        if concept not in found or found[concept][0] < weight:
            found[concept] = (round(weight, 3), via, gate)

    for offset, factor, is_top in main_senses(word, index, counts):
        if word not in synsets[offset]["lemmas"]:
            continue   # only as a proper name ("Forth", the river)
        gate = not is_top
        own = at.get(offset, [])
        for c in own:
            put(c, SYNONYM * factor, "synonym", gate)
        below, frontier = [], [offset]
        for depth in (1, 2, 3):
            frontier = [h for o in frontier for h in synsets[o]["hyponyms"]]
            for h in frontier:
                for c in at.get(h, []):
                    below.append(c)
                    put(c, HYPONYM[depth] * factor, "wordnet", gate)
        m = YOUNG.match(synsets[offset]["gloss"].split(";")[0].strip())
        if m:
            lemma = m.group(1).replace(" ", "_")
            if lemma not in index:
                lemma = lemma.rsplit("_", 1)[-1]
            if index.get(lemma):
                target = index[lemma][0]
                for o in [target] + wordnet.ancestors(synsets, target)[:1]:
                    if at.get(o):
                        for c in at[o]:
                            put(c, YOUNG_OF * factor, "synonym", gate)
                        break
        if not own:   # the nearest concept above, weaker than the concepts below when there are some
            frontier = [offset]
            for depth in (1, 2):
                frontier = [h for o in frontier for h in synsets[o]["hypernyms"]]
                hits = [c for o in frontier for c in at.get(o, [])]
                for c in hits:
                    put(c, (ANCESTOR_OVER_KINDS if below else ANCESTOR[depth]) * factor, "synonym", gate)
                if hits:
                    break
    return found


def embedding_weight(cos):
    return round(min(EMBEDDING_MAX, 0.3 + 1.5 * (cos - MIN_COSINE)), 3)


def common_words(index):
    with open(WORD_LIST, encoding="utf-8") as f:
        common = {w.strip() for w in f}
    words = {}
    for lemma in index:
        if lemma.isalpha() and lemma in common:
            folded = tokens(lemma)
            if len(folded) == 1:
                words.setdefault(folded[0], []).append(lemma)   # "glasses" and "glass" are one term
    return words


def dictionary_words():
    """Every lowercase word of the word list, normalized as a search term ("tall", "strong", "femur"),
    when that term is itself a word of the list: a plural the folding gets wrong ("niches" ->
    "nich") is no word, so search may still correct it."""
    with open(WORD_LIST, encoding="utf-8") as f:
        raw = {w.strip() for w in f if w.strip().isalpha() and w.strip().islower() and w.strip().isascii()}
    return {t[0] for w in raw for t in [tokens(w)] if len(t) == 1 and t[0] in raw}


class Sources:
    """Everything one word's expansion looks at."""

    def __init__(self):
        self.synsets, self.index, self.counts = load_wordnet()
        self.concepts = vocabulary.concepts()
        self.by_key = {vocabulary.key(c.name): i for i, c in enumerate(self.concepts)}
        self.named = defaultdict(set)     # a name or alias, normalized -> its concepts
        self.words_in = []                # per concept: every word of its name and aliases
        for i, c in enumerate(self.concepts):
            names = [vocabulary.key(t) for t in [c.name, *c.aliases]]
            for n in names:
                self.named[n].add(i)
            self.words_in.append({w for n in names for w in n.split()})
        self.parents = [{self.by_key[vocabulary.key(p)] for p in c.parents if vocabulary.key(p) in self.by_key}
                        for c in self.concepts]
        self.at = concept_synsets(self.concepts, self.synsets, self.index)
        self.embedder = TextEmbedder()
        self.tokenizer = self.embedder.model["tokenizer"]
        self.spellings = [[self.tokenizer.spelling(t) for t in [c.name, *c.aliases]] for c in self.concepts]
        self.offsets = [set() for _ in self.concepts]
        for o, cs in self.at.items():
            for c in cs:
                self.offsets[c].add(o)


def build(show=()):
    started = time.perf_counter()
    src = Sources()
    concepts = src.concepts
    words = common_words(src.index)
    for w in HAND:
        words.setdefault(w, [w])
    word_list = sorted(words)
    print("%d concepts (%d with a WordNet synset), %d words" % (
        len(concepts), sum(1 for o in src.offsets if o), len(word_list)))
    missing = sorted({n for pairs in HAND.values() for n, _ in pairs if vocabulary.key(n) not in src.by_key})
    if missing:
        print("HAND names no engine has (skipped):", ", ".join(missing))

    embedder = src.embedder
    texts, owner = [], []
    for i, c in enumerate(concepts):
        for t in [c.name, *c.aliases]:
            texts.append(t)
            owner.append(i)
    concept_vectors = embedder.embed(texts)
    word_vectors = embedder.embed(word_list)
    print("embedded %d concept names and aliases and %d words in %.1f s" % (
        len(texts), len(word_list), time.perf_counter() - started))
    owner = np.array(owner)

    table, sizes = {}, defaultdict(int)
    for start in range(0, len(word_list), 1024):
        block = word_vectors[start:start + 1024] @ concept_vectors.T
        cos = np.full((block.shape[0], len(concepts)), -1.0, dtype=np.float32)
        np.maximum.at(cos.T, owner, block.T)   # a concept's best name or alias
        for r, word in enumerate(word_list[start:start + 1024]):
            entry = expand(word, words[word], cos[r], src)
            if entry:
                table[word] = entry
                for _, _, via in entry:
                    sizes[via] += 1
            if word in show:
                print_entry(word, entry, concepts, cos[r])
    used = sorted({c for entry in table.values() for c, _, _ in entry})
    renumber = {c: n for n, c in enumerate(used)}
    about = ("Built by tools/build_expansions.py from WordNet 3.0 nouns (Debian wordnet-base) that are common "
             "words (Debian wamerican), the hand table in the script, and all-MiniLM-L6-v2 cosines (threshold %.2f) "
             "against the concept names of chalicelib/query/vocabulary.py (%d concepts). words: term -> "
             "[[concept index, weight 0-1, via]], via synonym | wordnet | embedding, at most %d each. "
             "dictionary: the other lowercase words of wamerican (SCOWL, (c) Kevin Atkinson, free to use with "
             "this notice), as search terms: real words that search never corrects as a slip."
             % (MIN_COSINE, len(concepts), MAX_CONCEPTS))
    with open(OUT, "w", encoding="utf-8") as f:
        f.write('{"about": %s,\n"concepts": %s,\n"dictionary": %s,\n"words": {\n' % (
            json.dumps(about), json.dumps([concepts[c].name for c in used], ensure_ascii=False),
            json.dumps(" ".join(sorted(dictionary_words() - set(table))))))
        f.write(",\n".join("%s: %s" % (json.dumps(w), json.dumps([[renumber[c], wt, via] for c, wt, via in table[w]],
                                                                    separators=(",", ":")))
                           for w in sorted(table)))
        f.write("\n}}\n")
    print("wrote %s: %d words, %d concepts used, %s; %.0f KB; %.1f s" % (
        OUT, len(table), len(used), dict(sizes), os.path.getsize(OUT) / 1024, time.perf_counter() - started))


def expand(word, lemmas, cos, src):
    """[(concept index, weight, via)], best first, for one search term."""
    found, above = {}, set()
    for lemma in lemmas:
        for c, (weight, via, gate) in wordnet_relations(lemma, src.synsets, src.index, src.counts, src.at).items():
            if gate and cos[c] < GATE_COSINE:
                continue
            if c not in found or found[c][0] < weight:
                found[c] = (weight, via)
        for offset, _, _ in main_senses(lemma, src.index, src.counts):
            above.update(wordnet.ancestors(src.synsets, offset))
    for c in src.named.get(word, ()):   # an alias: engines that do not send aliases need the entry
        found[c] = (SYNONYM, "synonym")
    for name, weight in HAND.get(word, ()):
        c = src.by_key.get(vocabulary.key(name))
        if c is not None and (c not in found or found[c][0] < weight):
            found[c] = (weight, "synonym")
    spelling = src.tokenizer.spelling(word)
    for c in np.nonzero(cos >= MIN_COSINE)[0]:
        c = int(c)
        # MiniLM rates a broader term ("automobile" ~ Vehicle), a name sharing the word ("beach"
        # ~ Beach Wagon, which the word finds anyway) and names spelled alike ("salvo" ~
        # Saluki) as close: none is a meaning
        if c in found or src.offsets[c] & above or word in src.words_in[c]:
            continue
        if all(related(cos[c], spelling, other) for other in src.spellings[c]):
            found[c] = (embedding_weight(float(cos[c])), "embedding")
    own = {src.by_key[word]} if word in src.by_key else set()
    ranked = sorted(found.items(), key=lambda kv: (-kv[1][0], -cos[kv[0]]))
    kept = []
    for c, (weight, via) in ranked:
        # the word's own concept (named by the word), and a concept whose parent is that or a
        # concept listed at least as strongly, add nothing: the search finds them
        if c in own or src.parents[c] & own or any(p in src.parents[c] and w >= weight for p, w, _ in kept):
            continue
        kept.append((c, weight, via))
        if len(kept) == MAX_CONCEPTS:
            break
    return kept


def print_entry(word, entry, concepts, cos):
    print("  %-10s %s" % (word, ", ".join("%s %.2f %s (cos %.2f)" % (concepts[c].name, w, via[:3], cos[c])
                                         for c, w, via in entry) or "-"))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--show", nargs="*", default=["kitty", "kitten", "mug", "motorbike", "automobile", "puppy",
                                                      "coffee", "tower", "monument", "dessert", "beach", "kid", "sofa"])
    build(set(parser.parse_args().show))
