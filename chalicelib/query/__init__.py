"""Query understanding: what a person types, turned into the words a search matches.

Lives beside chalicelib/index/: the index matches words; this decides which words.
Today: filler phrases ("photos of", "show me") and stop words ("a", "the", "of", "with",
"my") are dropped, and the answer says which words were used and which were ignored, so
"photos of a cat" searches for "cat".  A query made only of such words is refused.
"-word" excludes: "dog -beach" is the dog photos without a beach.
"""
from collections import namedtuple

from chalicelib.index.terms import MAX_QUERY_WORDS, tokens

Parsed = namedtuple("Parsed", "words ignored excluded")
Parsed.__new__.__defaults__ = ((),)

# Whole phrases first (their words alone may mean something: "picture" is also a frame's).
FILLER_PHRASES = (
    ("show", "me"), ("find", "me"), ("give", "me"), ("photo", "of"), ("picture", "of"), ("image", "of"),
    ("shot", "of"), ("snap", "of"), ("pic", "of"), ("one", "of"), ("some", "of"),
)
# (tokens are plural-folded: "photos" arrives as "photo")
STOP_WORDS = frozenset("""
a an the of with without in on at by for from to into onto over under near and or but
my our your his her their its me us i we you he she they it this that these those there here
some any all every each which what who where when how is are was were be been being has have
had do does did show find search look looking want see give get please
""".split())


def parse(q):
    """Parsed(words, ignored, excluded): the distinct normalized words that search, in order
    (at most MAX_QUERY_WORDS), the words dropped as filler, and the words a `-word` excludes
    (a photo with a label or text of that word is left out)."""
    kept, excluded = [], []
    for part in (q or "").split():
        if part.startswith("-") and len(part) > 1:
            excluded.extend(w for w in tokens(part[1:]) if w not in excluded and w not in STOP_WORDS)
        else:
            kept.append(part)
    found = tokens(" ".join(kept))
    words, ignored, i = [], [], 0
    while i < len(found):
        pair = tuple(found[i:i + 2])
        if pair in FILLER_PHRASES:
            ignored.extend(w for w in pair if w not in ignored)
            i += 2
            continue
        word = found[i]
        if word in STOP_WORDS:
            if word not in ignored:
                ignored.append(word)
        elif word not in words:
            words.append(word)
        i += 1
    return Parsed(words[:MAX_QUERY_WORDS], ignored, excluded[:MAX_QUERY_WORDS])
