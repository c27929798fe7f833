"""Benchmark of the embedded SQLite index: bulk indexing and search at 100,000 photos.

    ./dev bench-index [--photos 100000] [--owners 10] [--queries 200]

Generates realistic documents (labels from the local engine's 1000-class taxonomy with its
parents and aliases, 30 evidence concepts, a few text lines, dominant colours) for several
owners, bulk-indexes them into a fresh SQLite file, then times one- and three-word searches
the way the API runs them: the query parsed and expanded (chalicelib.query: synonyms,
spelling, OCR slips, colours) and searched with the relevance cutoff.  Prints a table.
"""
import argparse
import json
import os
import random
import statistics
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from chalicelib.index import documents  # noqa: E402
from chalicelib.index.sqlite import SQLiteIndex  # noqa: E402
from chalicelib.query import expand, parse  # noqa: E402
from chalicelib.keys import photo_id  # noqa: E402
from chalicelib.storage import ObjectInfo  # noqa: E402

WORDS = ["open", "sale", "exit", "street", "coffee", "hotel", "station", "menu", "parking", "bakery"]
COLORS = ["red", "green", "blue", "white", "black", "grey", "yellow"]


def make_docs(n, owners, rng):
    with open(os.path.join(ROOT, "chalicelib", "analysis", "local", "taxonomy.json")) as f:
        classes = json.load(f)["classes"]
    concepts = expand.table()["concepts"]
    t0 = datetime(2024, 1, 1, tzinfo=timezone.utc)
    for i in range(n):
        owner = "owner-%02d" % (i % owners)
        key = "usercontent/%s/%04d/photo-%07d.jpg" % (owner, i // 1000, i)
        labels = []
        for cls in rng.sample(classes, 3):
            confidence = round(rng.uniform(20, 99), 3)
            labels.append({"name": cls["name"], "confidence": confidence, "parents": cls["parents"],
                           "aliases": cls["aliases"], "categories": cls["categories"], "instances": []})
            for parent in cls["parents"][:2]:
                labels.append({"name": parent, "confidence": confidence, "parents": [], "aliases": [],
                               "categories": [], "instances": []})
        text = [{"text": " ".join(rng.sample(WORDS, 2)).upper(), "confidence": round(rng.uniform(60, 99), 3),
                 "box": {}, "words": []}] if i % 5 == 0 else []
        evidence = [{"name": name, "confidence": round(rng.uniform(5, 40), 3)} for name in rng.sample(concepts, 30)]
        colors = {"dominant_colors": [{"simplified": c, "percent": 20.0} for c in rng.sample(COLORS, 2)]}
        info = ObjectInfo(key, "%032x" % i, 2_000_000, t0 + timedelta(seconds=i), "image/jpeg")
        yield documents.build(photo_id("bench", key), owner, "bench", key, info, "", "indexed", labels, text=text,
                              evidence=evidence, properties=colors)


def pct(values, q):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q * (len(values) - 1))))]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--photos", type=int, default=100_000)
    parser.add_argument("--owners", type=int, default=10)
    parser.add_argument("--queries", type=int, default=200)
    args = parser.parse_args(argv)
    rng = random.Random(7)
    with tempfile.TemporaryDirectory() as tmp:
        index = SQLiteIndex(os.path.join(tmp, "bench.sqlite3"))
        index.ensure_index()
        batch, done, start = [], 0, time.perf_counter()
        for doc in make_docs(args.photos, args.owners, rng):
            batch.append(("put", doc, None))
            if len(batch) == 1000:
                index.bulk(batch)
                done += len(batch)
                batch = []
                rate = done / (time.perf_counter() - start)
                sys.stderr.write("\rindexing %d/%d (%.0f docs/s)\033[K" % (done, args.photos, rate))
        index.bulk(batch)
        elapsed = time.perf_counter() - start
        rate = args.photos / elapsed
        size_mb = os.path.getsize(os.path.join(tmp, "bench.sqlite3")) / 1e6
        owners = ["owner-%02d" % i for i in range(args.owners)]
        one = ["dog", "car", "animal", "open", "fruit", "bird", "vehicle", "kitty", "monument", "coffee",
               "elefant", "wivennoe"]
        three = ["dog on the beach", "red sports car", "photos of a kitty", "bird animal feather",
                 "fruit food apple", "sign that says open", "mammal animal cat", "\"bakery menu\" street"]
        min_score = 15.0
        rows = []
        for label, queries in (("1 word", one), ("3 words", three)):
            times, hits = [], []
            for i in range(args.queries):
                q = queries[i % len(queries)]
                owner = owners[i % len(owners)]
                sys.stderr.write("\rsearch %s %d/%d\033[K" % (label, i + 1, args.queries))
                t = time.perf_counter()
                groups = expand.index_groups(expand.plan(parse(q)))
                page = index.search(owner, groups, 20, min_score=min_score)
                times.append((time.perf_counter() - t) * 1000)
                hits.append(len(page.hits))
            rows.append((label, statistics.median(times), pct(times, 0.95), statistics.mean(hits)))
        listing = []
        for i in range(50):
            t = time.perf_counter()
            index.list(owners[i % len(owners)], 20)
            listing.append((time.perf_counter() - t) * 1000)
        sys.stderr.write("\r\033[K")
    print("embedded index (SQLite, WAL): %d photos, %d owners, %.0f MB file" % (args.photos, args.owners, size_mb))
    print("%-32s %-10s %s" % ("what", "target", "measured"))
    print("%-32s %-10s %.0f docs/s (%.1f s)" % ("bulk indexing", ">= 2000", rate, elapsed))
    for label, median, p95, mean_hits in rows:
        print("%-32s %-10s p95 %.1f ms, median %.1f ms (%.0f hits/page)" % ("search, " + label, "p95 <= 50",
                                                                             p95, median, mean_hits))
    print("%-32s %-10s p95 %.1f ms" % ("list newest first", "", pct(listing, 0.95)))
    print("command: ./dev bench-index --photos %d --owners %d --queries %d" % (args.photos, args.owners,
                                                                               args.queries))


if __name__ == "__main__":
    main()
