"""The reconciler's diff alone: a pass over --objects objects and documents that already agree.

    .venv/bin/python bench/reconcile_diff.py [--objects 100000] [--no-thumbnails]

Setup (timed apart): --objects tiny files (a few bytes: nothing is decoded when a document
matches) under a temporary DiskStorage folder, usercontent/<owner>/<folder>/photo-N.jpg over 10
owners and folders of 1,000, and one matching `indexed` document each (documents.build with the
ObjectInfo of storage.head(key), so ETags match; a few labels, like a real photo's) written
with the SQLite index's bulk API in batches of 1,000.  With thumbnails (the local stage's
default, THUMBNAIL_SIZE=256) each photo also has its thumbnail file, so the pass walks the
thumbnails/ listing alongside; --no-thumbnails sets THUMBNAIL_SIZE=0 and makes none.

Then `reconcile(services, restart=True)` with QUEUE_BACKEND=sqlite runs in a fresh process
(QUEUE_WORKERS=external: no worker takes jobs): wall seconds, objects/s, and the RSS before
the pass and its peak during it (VmHWM), with nothing to queue or remove.  A second pass
runs after 1% of the documents were deleted (their objects are queued) and 1% of documents
were added for objects that do not exist (removed).  Prints Markdown tables and the
command; progress goes to stderr.
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

BUCKET = "local"
OWNERS = 10
FOLDER = 1000
BATCH = 1000
LABELS = [{"name": name, "confidence": conf, "parents": parents, "aliases": [], "categories": [], "instances": []}
          for name, conf, parents in (("Dog", 91.5, ["Animal", "Mammal", "Pet"]), ("Grass", 80.2, ["Plant"]),
                                      ("Outdoors", 75.0, []))]


def progress(msg):
    sys.stderr.write("\r\033[K" + msg)
    sys.stderr.flush()


def environment(tmp, thumbnails):
    return {"PHOTO_BUCKET": BUCKET, "STORAGE_BACKEND": "disk", "INDEX_BACKEND": "sqlite", "QUEUE_BACKEND": "sqlite",
            "QUEUE_WORKERS": "external", "ANALYSIS_ENGINE": "local", "AUTH_MODE": "local",
            "ANALYSIS_FEATURES": "labels,text,faces,properties,moderation",
            "LOCAL_STORAGE_DIR": os.path.join(tmp, "bucket"), "SQLITE_PATH": os.path.join(tmp, "index.sqlite3"),
            "QUEUE_PATH": os.path.join(tmp, "queue.sqlite3"), "LOCAL_SECRET_FILE": os.path.join(tmp, "secret"),
            "THUMBNAIL_SIZE": "256" if thumbnails else "0", "LOG_LEVEL": "WARNING"}


def photo_key(n):
    return "usercontent/owner-%02d/%03d/photo-%06d.jpg" % (n % OWNERS, n // (OWNERS * FOLDER), n)


def gone_key(n):
    """A key no object has (sorted among the others), for the documents left behind."""
    return "usercontent/owner-%02d/%03d/photo-%06d-gone.jpg" % (n % OWNERS, n // (OWNERS * FOLDER), n)


def _put_file(root, key, data):
    path = os.path.join(root, *key.split("/"))
    try:
        f = open(path, "wb")
    except FileNotFoundError:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        f = open(path, "wb")
    with f:
        f.write(data)


def _doc(storage, key, info, thumbnails):
    from chalicelib.index import documents
    from chalicelib.keys import parse_key, photo_id
    from chalicelib import keys
    doc = documents.build(photo_id(BUCKET, key), parse_key(key).owner, BUCKET, key, info, "", "indexed", LABELS,
                          engine="local", model_version="bench", attempts=1,
                          thumbnails={"thumbnail": keys.thumbnail_key(key), "faces": []} if thumbnails else None)
    return doc


def setup(tmp, objects, thumbnails):
    """The files and their matching documents.  Returns the seconds it took."""
    from chalicelib import components, keys
    start = time.perf_counter()
    storage, index = components.storage(), components.index()
    batch = []
    for n in range(objects):
        key = photo_key(n)
        _put_file(storage.root, key, b"photo %d" % n)
        if thumbnails:
            _put_file(storage.root, keys.thumbnail_key(key), b"thumb %d" % n)
        batch.append(("put", _doc(storage, key, storage.head(key), thumbnails), None))
        if len(batch) == BATCH:
            index.bulk(batch)
            batch = []
            progress("setup: %d/%d objects and documents" % (n + 1, objects))
    if batch:
        index.bulk(batch)
    return time.perf_counter() - start


def make_differences(objects, thumbnails):
    """1% of the objects lose their document, 1% more documents describe no object."""
    from chalicelib import components
    from chalicelib.keys import photo_id
    from chalicelib.storage import ObjectInfo
    start = time.perf_counter()
    index = components.index()
    step = 100
    dropped = [("delete", photo_id(BUCKET, photo_key(n)), None) for n in range(0, objects, step)]
    for i in range(0, len(dropped), BATCH):
        index.bulk(dropped[i:i + BATCH])
    added = []
    for n in range(step // 2, objects, step):
        key = gone_key(n)
        info = ObjectInfo(key, "%032x" % n, 8, datetime(2024, 1, 1, tzinfo=timezone.utc), "image/jpeg")
        added.append(("put", _doc(None, key, info, False), None))
    for i in range(0, len(added), BATCH):
        index.bulk(added[i:i + BATCH])
    return len(dropped), len(added), time.perf_counter() - start


# ---- the pass, in a process of its own ----------------------------------------------------------

def _rss_kb(field):
    with open("/proc/self/status") as f:
        return int(next(line for line in f if line.startswith(field + ":")).split()[1])


def child(tmp):
    """Run one pass over `tmp` (the environment is set by the parent); print its numbers as JSON."""
    import resource
    from chalicelib import components
    from chalicelib.pipeline.reconcile import reconcile
    services = components.services()
    services.index.scan(BUCKET, "", 1)               # the connection and the schema, before the baseline
    services.queue.depth()
    try:
        baseline = _rss_kb("VmRSS")
    except (OSError, StopIteration):
        baseline = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    def report(stats, key):
        if stats["scanned"] % 1000 == 0:
            progress("pass: %d scanned, %d queued, %d removed" % (stats["scanned"], stats["queued"],
                                                                   stats["removed"]))
    start = time.perf_counter()
    stats = reconcile(services, restart=True, progress=report)
    wall = time.perf_counter() - start
    try:
        peak = _rss_kb("VmHWM")       # ru_maxrss would also hold the parent's peak at fork
    except (OSError, StopIteration):
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"wall": wall, "baseline_kb": baseline, "peak_kb": peak, "depth": services.queue.depth(),
                      **{k: v for k, v in stats.items() if isinstance(v, (int, float, bool))}}))


def run_pass(tmp, env):
    out = subprocess.run([sys.executable, os.path.abspath(__file__), "--child", tmp], env=env, cwd=ROOT,
                         stdout=subprocess.PIPE, check=True)
    return json.loads(out.stdout.decode().strip().splitlines()[-1])


def count_docs(tmp):
    import sqlite3
    with sqlite3.connect(os.path.join(tmp, "index.sqlite3")) as db:
        return db.execute("SELECT COUNT(*) FROM photos").fetchone()[0]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--objects", type=int, default=100_000)
    parser.add_argument("--no-thumbnails", action="store_true", help="THUMBNAIL_SIZE=0: no thumbnails/ to walk")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(args.child)
        return 0
    if args.objects < 100:
        parser.error("--objects must be at least 100 (1% of them differ in the second pass)")
    thumbnails = not args.no_thumbnails
    tmp = tempfile.mkdtemp(prefix="bench-reconcile-")
    env = dict(os.environ, **environment(tmp, thumbnails))
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    from chalicelib import components
    components.reset()
    rows, problems = [], []
    try:
        setup_s = setup(tmp, args.objects, thumbnails)
        docs_before = count_docs(tmp)
        progress("pass over matching objects and documents")
        same = run_pass(tmp, env)
        if same["queued"] or same["removed"] or same["depth"] or count_docs(tmp) != docs_before:
            problems.append("the matching pass changed something: queued %d, removed %d, queue depth %d"
                            % (same["queued"], same["removed"], same["depth"]))
        rows.append(("all match", setup_s, same, 0, 0))
        progress("1% missing documents, 1% documents without objects")
        components.reset()
        dropped, added, diff_s = make_differences(args.objects, thumbnails)
        diff = run_pass(tmp, env)
        if diff["queued"] != dropped or diff["removed"] != added or diff["depth"] != dropped:
            problems.append("the second pass queued %d (expected %d), removed %d (expected %d), queue depth %d"
                            % (diff["queued"], dropped, diff["removed"], added, diff["depth"]))
        rows.append(("1% without document, 1% without object", diff_s, diff, dropped, added))
    finally:
        components.reset()
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        shutil.rmtree(tmp, ignore_errors=True)
    sys.stderr.write("\r\033[K")

    print("reconciler diff (disk storage + SQLite index, QUEUE_BACKEND=sqlite): %d objects, %d documents, "
          "thumbnails %s, RECONCILE_BATCH_SIZE %s" % (args.objects, args.objects,
                                                    "on (a thumbnail file per photo, walked alongside)"
                                                    if thumbnails else "off (THUMBNAIL_SIZE=0)",
                                                    os.environ.get("RECONCILE_BATCH_SIZE", "100")))
    print()
    print("| pass | setup s | pass s | objects/s | scanned | queued | removed | RSS before MB | peak RSS MB "
          "| growth MB |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for label, setup_s, r, _, _ in rows:
        print("| %s | %.1f | %.1f | %.0f | %d | %d | %d | %.1f | %.1f | %.1f |" % (
            label, setup_s, r["wall"], args.objects / r["wall"], r["scanned"], r["queued"],
            r["removed"], r["baseline_kb"] / 1024, r["peak_kb"] / 1024, (r["peak_kb"] - r["baseline_kb"]) / 1024))
    print()
    worst = max(r["wall"] for _, _, r, _, _ in rows)
    growth = max(r["peak_kb"] - r["baseline_kb"] for _, _, r, _, _ in rows) / 1024
    print("| target | measured | met |")
    print("|---|---|:--:|")
    print("| pass over %d objects <= 60 s | %.1f s | %s |" % (args.objects, worst, "yes" if worst <= 60 else "no"))
    print("| bounded memory: growth <= 64 MB (one page of each listing held) | %.1f MB | %s |"
          % (growth, "yes" if growth <= 64 else "no"))
    for p in problems:
        print("problem: " + p)
    print()
    print("command: .venv/bin/python bench/reconcile_diff.py --objects %d%s"
          % (args.objects, " --no-thumbnails" if args.no_thumbnails else ""))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
