"""Query understanding: what a person types, turned into what a search matches.

Lives beside chalicelib/index/: the index matches groups of weighted terms; this decides
which.  The steps, each cheap and none of them failing on what it does not understand:

1. ``parse(q)`` (this module): quoted phrases ("fresh bread") match text read in a photo;
   ``-word`` excludes; date phrases ("taken in 2019", "summer 2021", "last summer") become the
   taken_from/taken_to filters (chalicelib.query.dates); colour words ("red car") also match
   the photo's dominant colours (in the plural they are things: "oranges"); words after "says"/"saying" or "that reads" match text
   read in the photo ("sign that says open"); filler phrases ("photos of", "show me") and
   stop words ("a", "the", "of", "with", "my") are dropped and reported as ignored.
2. ``plan(parsed)`` (chalicelib.query.expand): every remaining word becomes a group of
   alternatives: the word itself, the label concepts it means (synonyms, WordNet, a
   text-embedding model: chalicelib.query.expansions.json), a spelling slip corrected against
   the known words, its OCR slips in text read in photos (edit distance 1 for 5+ letters) and,
   for two neighbouring words, the two run together ("no parking" finds "NOPARKING").
"""
import re
from collections import namedtuple

from chalicelib.index.filters import COLORS
from chalicelib.index.terms import MAX_QUERY_WORDS, fold, tokens
from chalicelib.query import dates

# words: the content words, in order; ignored: dropped as filler; excluded: -words;
# phrases: quoted phrases (lists of words, text only); text_words: words to find in text read
# in a photo only; colors: colour words; filters: from date phrases; date_words: the words
# the dates were read from.
Parsed = namedtuple("Parsed", "words ignored excluded phrases text_words colors filters date_words")
Parsed.__new__.__defaults__ = ((), (), (), (), {}, ())

# Whole phrases first (their words alone may mean something: "picture" is also a frame's).
FILLER_PHRASES = (
    ("show", "me"), ("find", "me"), ("give", "me"), ("photo", "of"), ("picture", "of"), ("image", "of"),
    ("shot", "of"), ("snap", "of"), ("pic", "of"), ("one", "of"), ("some", "of"), ("photo", "with"),
    ("picture", "with"), ("photo", "from"), ("picture", "from"),
)
# (tokens are plural-folded: "photos" arrives as "photo")
STOP_WORDS = frozenset("""
a an the of with without in on at by for from to into onto over under near and or but
my our your his her their its me us i we you he she they it this that these those there here
some any all every each which what who where when how is are was were be been being has have
had do does did show find search look looking want see give get please
""".split())
# After one of these, the words are text to read in the photo ("a sign that says open").
TEXT_MARKERS = frozenset(("say", "saying"))          # ("says" folds to "say")
# "read" only after these ("a sign that reads open"); "a girl reading a book" is about a book.
READ_AFTER = frozenset(("that", "which", "it"))
COLOR_WORDS = dict({c: c for c in COLORS}, gray="grey")
# At the start of a query before a stop word or a date, or at its end, these only say "photos"
# ("photos from 2019", "beach pictures"); elsewhere they are things a photo can show ("picture frame").
MEDIA_WORDS = frozenset(("photo", "picture", "image", "pic", "snapshot", "shot"))
QUOTED = re.compile(r'"([^"]*)"')


def parse(q):
    q = q or ""
    phrases = [words for words in (tokens(m) for m in QUOTED.findall(q)) if words]
    q = QUOTED.sub(" ", q).replace('"', " ")
    kept, excluded = [], []
    for part in q.split():
        if part.startswith("-") and len(part) > 1:
            excluded.extend(w for w in tokens(part[1:]) if w not in excluded and w not in STOP_WORDS)
        else:
            kept.append(part)
    found = tokens(" ".join(kept))
    # a colour word in the plural is a thing: "oranges" are fruit, "greens" vegetables
    things = {fold(w) for w in tokens(" ".join(kept), folded=False) if fold(w) != w}
    if len(found) > 1 and found[0] in MEDIA_WORDS and (found[1] in STOP_WORDS or dates.starts(found[1:])):
        ignored_first = [found.pop(0)]     # "photos from 2019", "pictures with a dog"
    else:
        ignored_first = []
    if len(found) > 1 and found[-1] in MEDIA_WORDS:
        ignored_first.append(found.pop())   # "the windmill photo", "didgeridoo pictures"
    filters, found, date_words = dates.read(found)
    words, ignored, text_words, colors = [], ignored_first, [], []
    in_text, i = False, 0
    while i < len(found):
        pair = tuple(found[i:i + 2])
        if pair in FILLER_PHRASES:
            ignored.extend(w for w in pair if w not in ignored)
            i += 2
            continue
        word = found[i]
        i += 1
        if word in TEXT_MARKERS or (word == "read" and i >= 2 and found[i - 2] in READ_AFTER):
            in_text = True
            if word not in ignored:
                ignored.append(word)
        elif word in STOP_WORDS:
            if word not in ignored:
                ignored.append(word)
        elif in_text:
            if word not in text_words:
                text_words.append(word)
        elif word in COLOR_WORDS and word not in things:
            if COLOR_WORDS[word] not in colors:
                colors.append(COLOR_WORDS[word])
        elif word not in words:
            words.append(word)
    room = MAX_QUERY_WORDS
    words = words[:room]
    text_words = text_words[:max(0, room - len(words))]
    phrases = phrases[:max(0, room - len(words) - len(text_words))]
    return Parsed(words, ignored, excluded[:MAX_QUERY_WORDS], [p[:MAX_QUERY_WORDS] for p in phrases], text_words,
                  colors, filters, date_words)


def is_empty(parsed):
    """Nothing to search for (and no date or colour to filter by)."""
    return not (parsed.words or parsed.phrases or parsed.text_words or parsed.colors or parsed.excluded
                or parsed.filters)
