"""How far the local engine's closed vocabulary reaches: a ceiling for "found by its word".

    ./dev bench-reach            # the table, per split and photo kind
    ./dev bench-reach --list     # and the words no label of the engine can match
    ./dev bench-reach --queries  # and the loosest bound for bench-quality's search queries

A photo of bench/photos.json is *reachable* by its word (its first hand label, person names
skipped, as bench/quality.py's found@10) when one of the alternatives search sends for that
word (chalicelib.query.expand: the word, its synonyms, relatives and spelling slips, scope
"any") is a term of some label the local engine can give at all:

- the ImageNet classifier's 1000 classes, with their aliases and taxonomy parents;
- the COCO detector's 80 classes, with theirs;
- the scene rules (scenes.LABELS) and the labels faces and person boxes give (PEOPLE_LABELS).

ConSE evidence (concepts that are not classes, scored by text similarity) is left out on
purpose: it is the only way past this vocabulary, and what it adds is measured by
bench/quality.py.  A classifier that were always right within this vocabulary would still find
at most the reachable photos; the share is therefore an upper bound on found@10 for the
closed-vocabulary models, independent of how well they see.  It reads no image and no model
output, only the hand labels and the vocabulary, so computing it on held-out tunes nothing.
"""
import argparse
import json
import os
import sys
from collections import defaultdict

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from chalicelib.index.terms import label_terms  # noqa: E402


def local_labels():
    """(name, parents, aliases) of every label the local engine can give at all: the ImageNet classes
    and the taxonomy's parents, the COCO classes, the scene rules, the labels from faces."""
    from chalicelib.analysis.local import PEOPLE_LABELS, scenes
    from chalicelib.query import vocabulary
    taxonomy = vocabulary.taxonomy()
    for cls in taxonomy["classes"]:
        yield cls["name"], cls["parents"], cls["aliases"]
    for name, info in taxonomy["parents"].items():
        yield name, info["parents"], ()
    for obj in vocabulary.detector_classes():
        yield obj["name"], obj.get("parents", ()), obj.get("aliases", ())
    for name, (parents, _) in scenes.LABELS.items():
        yield name, parents, ()
    for name, parents in PEOPLE_LABELS.items():
        yield name, parents, ()
    yield "Person", (), ("Human",)


def closed_terms():
    """Every search term some label of the local engine can carry."""
    return {t for name, parents, aliases in local_labels()
            for t in label_terms({"name": name, "parents": list(parents), "aliases": list(aliases)})}


def closed_labels():
    """{normalized name: (name, parents, aliases)} of every label the local engine can give, by its
    whole name, each alias and each parent ("courgette" -> Zucchini): what bench/quality.py's
    `--labels closed` keeps of the hand labels.  Only whole names: "tree" is no label of the
    engine because a Tree Frog is one."""
    from chalicelib.query import vocabulary
    found = {}
    for name, parents, aliases in local_labels():
        entry = (name, list(parents), list(aliases))
        for text in (name, *aliases):
            found.setdefault(vocabulary.key(text), entry)
        for parent in parents:
            found.setdefault(vocabulary.key(parent), (parent, [], []))
    found.pop("", None)
    return found


def reaches(word, terms):
    """True when a search for `word` sends a label term (scope "any") in `terms`."""
    from chalicelib.query import parse
    from chalicelib.query.expand import plan
    groups = plan(parse(word)).groups
    return any(t.alt.scope == "any" and t.alt.term in terms for g in groups for t in g.terms)


def photo_word(photo):
    """The word bench/quality.py searches a photo by (names of people it shows skipped)."""
    names = {n.casefold() for n in photo.get("names", ())}
    words = [label for label in photo["labels"] if label.casefold() not in names]
    return words[0] if words else None


def reach_by_photo(photos, terms=None):
    terms = closed_terms() if terms is None else terms
    return {p["file"]: reaches(word, terms) for p in photos for word in [photo_word(p)] if word}


def query_reach(query, terms):
    """The loosest bound for a query of bench/queries.json: True when some word of it can match some
    label the engine has at all, whatever the photo shows (text and person queries need no label)."""
    from chalicelib.query import parse
    from chalicelib.query.expand import plan
    return query["kind"] in ("text", "person") or not plan(parse(query["q"])).groups or reaches(query["q"], terms)


def print_query_reach(terms):
    with open(os.path.join(ROOT, "bench", "queries.json")) as f:
        queries = json.load(f)["queries"]
    print("| split | query kind | queries | some word matches some label |")
    print("|---|---|---:|---:|")
    for split in ("tune", "heldout"):
        by_kind = defaultdict(list)
        for q in queries:
            if q["split"] == split:
                by_kind[q["kind"]].append(query_reach(q, terms))
        every = [v for values in by_kind.values() for v in values]
        for kind, values in list(by_kind.items()) + [("overall", every)]:
            print("| %s | %s | %d | %.1f %% |" % (split, kind, len(values), 100.0 * sum(values) / len(values)))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--list", action="store_true", help="list the words the vocabulary cannot match")
    parser.add_argument("--queries", action="store_true",
                        help="also the loosest bound for the search queries: some word of the query matches some "
                             "label the engine has, whatever the photo shows")
    args = parser.parse_args(argv)
    with open(os.path.join(ROOT, "bench", "photos.json")) as f:
        photos = json.load(f)["photos"]
    reach = reach_by_photo(photos)
    print("| split | kind | photos | reachable by its word |")
    print("|---|---|---:|---:|")
    for split in ("tune", "heldout"):
        mine = [p for p in photos if p["split"] == split and p["file"] in reach]
        by_kind = defaultdict(list)
        for p in mine:
            by_kind[p["kind"]].append(reach[p["file"]])
        for kind in sorted(by_kind) + ["overall"]:
            values = by_kind[kind] if kind != "overall" else [reach[p["file"]] for p in mine]
            print("| %s | %s | %d | %.1f %% |" % (split, kind, len(values), 100.0 * sum(values) / len(values)))
        if args.list:
            missed = sorted("%s: %s" % (p["kind"], photo_word(p)) for p in mine if not reach[p["file"]])
            print("%s, not reachable (%d): %s" % (split, len(missed), "; ".join(missed)))
    if args.queries:
        print_query_reach(closed_terms())
    print("command: ./dev bench-reach" + (" --list" if args.list else "") + (" --queries" if args.queries else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
