"""Local ingest throughput: photos per minute through the job queue, with 1 and 2 worker processes.

    .venv/bin/python bench/ingest.py [--photos 500] [--workers 1,2] [--threads 1|auto] [--pin off]
                                     [--ocr-threads N] [--profile 20]

The photos: --photos distinct 1152x864 JPEGs (about 1 MP) made deterministically from the
decodable real photos in var/testdata (a random 4:3 crop, a mirror flip half of the time, a
rescale, small brightness/colour/contrast shifts; every file's bytes differ, so the pipeline never
reuses one photo's analysis for another through its content hash).

For each worker count, on fresh temporary storage (DiskStorage), index and queue (SQLite), with
the local stage's configuration (.chalice/config.json "local": every local feature, thumbnails):
the files are written under usercontent/<owner>/bench/, one reconcile pass queues them (a
`pending` document and a job each; timed apart), then N worker processes
(`python -m chalicelib.jobs.worker --stage local --once`) start, and the clock runs until the
queue is empty and no document is pending.  `first photo` is when the first document became
final (model loading + one photo), `steady` the rate after it, `CPU s/photo` the workers' own
CPU time per photo and `other load` the cores other processes of the machine used meanwhile.

--threads N (default 1): LOCAL_THREADS of every worker, so that 1 and 2 workers are the same
worker and the speedup measures the workers alone.  --threads auto: cores // workers, what
tools/localserver.py gives its workers (a lone worker then also uses every core, through the
models' own threads).  Every model's onnxruntime session reads it, RapidOCR's and open_nsfw's
included (chalicelib/analysis/local/text.py, moderation.py).
--pin on: worker i runs on core i % cores only.
--ocr-threads N: an override of the OCR sessions' threads only (a sitecustomize module on the
workers' PYTHONPATH), to measure other splits.
--profile K: afterwards, times each step of the analysis in this process over K of the photos.
Prints Markdown tables and the command that made them; progress goes to stderr.
"""
import argparse
import hashlib
import io
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from PIL import Image, ImageEnhance, ImageOps  # noqa: E402

TESTDATA = os.path.join(ROOT, "var", "testdata")
# Decodable real photos (the deliberately broken files of var/testdata are left out).
SOURCES = ["chelsea.png", "coffee.png", "astronaut.png", "rocket.jpg", "motorcycle_left.png", "china.jpg",
           "flower.jpg", "horse.png", "obama.jpg", "obama2.jpg", "obama3.jpg", "biden.jpg", "camera.png",
           "coins.png", "insightface_t1.jpg", "page.png", "text.png", "moon.png", "hubble_deep_field.jpg",
           "grass.png", "gravel.png", "brick.png"]
# (hopper, r_canon, r_casio, tom_hanks and exif_gps are 8-128 px: too small to make 1 MP photos of)
MIN_SOURCE_SIDE = 160
SIZE = (1152, 864)
OWNER = "bench-owner"
STAGE = "local"
CORES = os.cpu_count() or 1


def progress(msg):
    sys.stderr.write("\r\033[K" + msg)
    sys.stderr.flush()


# ---- the photos ---------------------------------------------------------------------------------

def sources():
    out = []
    for name in SOURCES:
        try:
            with Image.open(os.path.join(TESTDATA, name)) as img:
                img = ImageOps.exif_transpose(img).convert("RGB")
        except (OSError, ValueError, SyntaxError):
            continue        # missing or undecodable: the others are enough
        if min(img.size) >= MIN_SOURCE_SIDE:
            out.append((name, img))
    if len(out) < 5:
        raise SystemExit("too few decodable photos in %s (run tools/fetch_test_images.py)" % TESTDATA)
    return out


def variant(img, rng):
    """A 4:3 crop of 55-100% of the largest 4:3 box, maybe mirrored, scaled to SIZE, colours shifted."""
    w, h = img.size
    box_w, box_h = (w, w * 3 / 4) if w * 3 <= h * 4 else (h * 4 / 3, h)
    scale = rng.uniform(0.55, 1.0)
    cw, ch = box_w * scale, box_h * scale
    left, top = rng.uniform(0, w - cw), rng.uniform(0, h - ch)
    out = img.crop((round(left), round(top), round(left + cw), round(top + ch))).resize(SIZE, Image.BICUBIC)
    if rng.random() < 0.5:
        out = ImageOps.mirror(out)
    out = ImageEnhance.Brightness(out).enhance(rng.uniform(0.9, 1.1))
    out = ImageEnhance.Color(out).enhance(rng.uniform(0.85, 1.15))
    return ImageEnhance.Contrast(out).enhance(rng.uniform(0.9, 1.1))


def make_photos(n):
    """n distinct JPEGs (bytes), the same for the same n on every run: [(source name, bytes)]."""
    pool = sources()
    photos, seen = [], set()
    for i in range(n):
        name, img = pool[i % len(pool)]
        seed = i
        for _ in range(50):
            out = io.BytesIO()
            variant(img, random.Random(seed)).save(out, "JPEG", quality=90)
            data = out.getvalue()
            digest = hashlib.sha256(data).digest()
            if digest not in seen:
                break
            seed += 1_000_003       # the same bytes twice: another crop (the bench depends on distinct files)
        else:
            raise SystemExit("cannot make %d distinct variants of %s" % (n, name))
        seen.add(digest)
        photos.append((name, data))
        if (i + 1) % 25 == 0 or i + 1 == n:
            progress("making photos %d/%d" % (i + 1, n))
    return photos, len(pool)


def real_photos(folder, n):
    """The first n photos of `folder` (tools/fetch_bench_photos.py's 550 labelled real photos),
    each brought to about 1 MP (long side 1152) as a JPEG: [(file name, bytes)]."""
    names = sorted(f for f in os.listdir(folder) if f.lower().endswith((".jpg", ".jpeg", ".png")))
    photos = []
    for name in names:
        with Image.open(os.path.join(folder, name)) as img:
            img = ImageOps.exif_transpose(img).convert("RGB")
        scale = SIZE[0] / max(img.size)
        img = img.resize((max(1, round(img.width * scale)), max(1, round(img.height * scale))), Image.BICUBIC)
        out = io.BytesIO()
        img.save(out, "JPEG", quality=90)
        photos.append((name, out.getvalue()))
        progress("reading photos %d/%d" % (len(photos), n))
        if len(photos) == n:
            break
    if len(photos) < n:
        raise SystemExit("only %d photos in %s (run tools/fetch_bench_photos.py)" % (len(photos), folder))
    return photos, len(photos)


# ---- one run ------------------------------------------------------------------------------------

# --ocr-threads: imported by every Python process that has its folder on PYTHONPATH (the workers).
OCR_PATCH = """import os
_n = os.environ.get("BENCH_OCR_THREADS")
if _n:
    import rapidocr
    _init = rapidocr.RapidOCR.__init__

    def _with_threads(self, *args, params=None, **kwargs):
        params = dict(params or {})
        params["EngineConfig.onnxruntime.intra_op_num_threads"] = int(_n)
        params["EngineConfig.onnxruntime.inter_op_num_threads"] = 1
        return _init(self, *args, params=params, **kwargs)
    rapidocr.RapidOCR.__init__ = _with_threads
"""


def ocr_patch(folder, threads):
    """Environment variables that give the RapidOCR sessions of child processes `threads` threads."""
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, "sitecustomize.py"), "w") as f:
        f.write(OCR_PATCH)
    return {"PYTHONPATH": os.pathsep.join([folder] + [p for p in [os.environ.get("PYTHONPATH")] if p]),
            "BENCH_OCR_THREADS": str(threads)}


def stage_env(tmp, threads):
    """The local stage's variables, with every path in `tmp` (the caller's shell does not leak in)."""
    with open(os.path.join(ROOT, ".chalice", "config.json")) as f:
        config = json.load(f)
    env = {k: str(v) for k, v in config.get("environment_variables", {}).items()}
    env.update({k: str(v) for k, v in config["stages"][STAGE].get("environment_variables", {}).items()})
    env.update({
        "PHOTO_BUCKET": env.get("PHOTO_BUCKET", "local"), "STORAGE_BACKEND": "disk", "INDEX_BACKEND": "sqlite",
        "QUEUE_BACKEND": "sqlite", "QUEUE_WORKERS": "external", "ANALYSIS_ENGINE": "local",
        "LOCAL_STORAGE_DIR": os.path.join(tmp, "bucket"), "SQLITE_PATH": os.path.join(tmp, "index.sqlite3"),
        "QUEUE_PATH": os.path.join(tmp, "queue.sqlite3"), "LOCAL_SECRET_FILE": os.path.join(tmp, "secret"),
        "LOCAL_THREADS": str(threads), "LOG_LEVEL": "WARNING",   # this process: no line per reconciled photo
    })
    env.setdefault("ANALYSIS_FEATURES", "labels,text,faces,properties,moderation")
    return env


def busy_seconds():
    """CPU seconds the whole machine has been busy (all processes), from /proc/stat."""
    try:
        with open("/proc/stat") as f:
            fields = [int(x) for x in f.readline().split()[1:]]
    except OSError:
        return None
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def epoch(iso):
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


def run(photos, workers, threads, pin, timeout, ocr_threads=None):
    from chalicelib import components
    from chalicelib.pipeline.reconcile import reconcile
    tmp = tempfile.mkdtemp(prefix="bench-ingest-")
    env = stage_env(tmp, threads)
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    components.reset()
    try:
        storage = components.storage()
        width = max(3, len(str(len(photos) - 1)))
        for i, (_, data) in enumerate(photos):
            storage.write("usercontent/%s/bench/%0*d.jpg" % (OWNER, width, i), data, "image/jpeg")
            if (i + 1) % 50 == 0:
                progress("%d worker(s): writing %d/%d" % (workers, i + 1, len(photos)))
        progress("%d worker(s): queueing (reconcile)" % workers)
        services = components.services()
        t = time.perf_counter()
        stats = reconcile(services, restart=True)
        queue_s = time.perf_counter() - t
        queued = services.queue.depth()
        index = services.index

        logs = [open(os.path.join(tmp, "worker-%d.log" % n), "wb") for n in range(workers)]
        from chalicelib.jobs.worker import worker_env          # what tools/localserver.py gives its workers
        child_env = worker_env(workers, dict(os.environ, LOG_LEVEL="INFO"))   # one log line per photo, with its ms
        if ocr_threads:
            child_env.update(ocr_patch(os.path.join(tmp, "ocr-patch"), ocr_threads))
        busy0, started, wall0 = busy_seconds(), time.perf_counter(), time.time()
        procs = []
        for n in range(workers):
            cpu = n % CORES
            procs.append(subprocess.Popen(
                [sys.executable, "-m", "chalicelib.jobs.worker", "--stage", STAGE, "--once"], cwd=ROOT,
                env=child_env, stdout=logs[n], stderr=subprocess.STDOUT,
                preexec_fn=(lambda c=cpu: os.sched_setaffinity(0, {c})) if pin else None))
        usage, done_at, finished = {}, None, False
        while True:
            counts = index.status_counts(OWNER)
            final = sum(v for k, v in counts.items() if k not in ("pending", "retrying"))
            depth = services.queue.depth()
            now = time.perf_counter()
            progress("%d worker(s): %d/%d final, queue %d, %.0f s" % (workers, final, len(photos), depth,
                                                                     now - started))
            if depth == 0 and counts.get("pending", 0) == 0:
                done_at, finished = now, True
                break
            if all(p.poll() is not None for p in procs) or now - started > timeout:
                done_at = now       # the workers gave up (or the run is too long): report what was left
                break
            time.sleep(0.2)
        busy1 = busy_seconds()
        for p in procs:
            if not finished and p.poll() is None:
                p.terminate()
            _, status, ru = os.wait4(p.pid, 0)
            p.returncode = os.waitstatus_to_exitcode(status)
            usage[p.pid] = ru
        for f in logs:
            f.close()
        wall = done_at - started
        cpu = sum(ru.ru_utime + ru.ru_stime for ru in usage.values())
        docs = [doc for doc, _ in _all_docs(index, storage.bucket)]
        finals = sorted(epoch(d["indexed_at"]) for d in docs if d["status"] != "pending")
        counts = index.status_counts(OWNER)
        per_photo = []
        for n in range(workers):
            with open(os.path.join(tmp, "worker-%d.log" % n), errors="replace") as f:
                for line in f:
                    if line.startswith("{") and '"event": "index"' in line:
                        event = json.loads(line)
                        if event.get("status") and event.get("ms") is not None:
                            per_photo.append(event["ms"])
        first = finals[0] - wall0 if finals else None
        steady = (len(finals) - 1) / (finals[-1] - finals[0]) * 60 if len(finals) > 1 and \
            finals[-1] > finals[0] else None
        return {
            "workers": workers, "threads": threads, "pin": pin, "ocr": ocr_threads, "photos": len(photos),
            "queued": queued,
            "queue_s": queue_s, "reconcile_queued": stats["queued"], "finished": finished, "wall": wall,
            "rate": len(finals) / wall * 60 if wall > 0 else 0.0, "first": first, "steady": steady,
            "cpu_per_photo": cpu / max(1, len(finals)),
            "other": max(0.0, busy1 - busy0 - cpu) / wall if None not in (busy0, busy1) and wall > 0 else None,
            "indexed": counts.get("indexed", 0), "unsupported": counts.get("unsupported", 0),
            "failed": counts.get("failed", 0), "pending": counts.get("pending", 0),
            "reused": sum(1 for d in docs if d.get("reused_from")),
            "median_ms": statistics.median(per_photo) if per_photo else None,
            "exit_codes": [p.returncode for p in procs],
        }
    finally:
        components.reset()
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        import shutil
        shutil.rmtree(tmp, ignore_errors=True)


def _all_docs(index, bucket):
    after = ""
    while True:
        page = index.scan(bucket, after, 500)
        yield from page
        if len(page) < 500:
            return
        after = page[-1][0]["key"]


# ---- where one photo's time goes ----------------------------------------------------------------

def profile(photos, k, threads, ocr_threads=None):
    """Each step of one photo's analysis, timed in this process over k of the photos."""
    os.environ["LOCAL_THREADS"] = str(threads)
    if ocr_threads:
        os.environ["BENCH_OCR_THREADS"] = str(ocr_threads)
        exec(compile(OCR_PATCH, "ocr-patch", "exec"), {})
    from chalicelib import media
    from chalicelib.analysis.local import LocalAnalyzer, image_properties
    from chalicelib.analysis.local.image import framed, working
    t = time.perf_counter()
    analyzer = LocalAnalyzer()
    analyzer.warm_up(("labels", "text", "faces", "moderation"))
    load_s = time.perf_counter() - t
    ocr_split = []          # RapidOCR's own timings of its three stages, per photo
    ocr = analyzer.text.model
    if hasattr(analyzer.text, "_model"):
        def spy(*a, **kw):
            result = ocr(*a, **kw)
            ocr_split.append([v or 0.0 for v in getattr(result, "elapse_list", None) or ()])
            return result
        analyzer.text._model = spy
    steps = {name: [] for name in ("decode", "labels", "text", "properties", "faces: detect",
                                   "faces: attributes + embedding", "moderation", "thumbnail")}
    faces_seen = 0
    chosen = photos[:: max(1, len(photos) // k)][:k]
    for i, (_, data) in enumerate(chosen):
        progress("profile %d/%d" % (i + 1, len(chosen)))

        def timed(name, fn):
            t = time.perf_counter()
            out = fn()
            steps[name].append(time.perf_counter() - t)
            return out
        small = timed("decode", lambda: media.decode(data, media.WORKING_SIDE))
        img, _ = framed(working(small))
        timed("labels", lambda: analyzer.labels.predict(img, 20, 20))
        before = len(ocr_split)
        timed("text", lambda: analyzer.text.predict(img))
        if len(ocr_split) > before and len(ocr_split[-1]) != 3:
            ocr_split[-1] = [steps["text"][-1], 0.0, 0.0]     # no text found: only detection ran
        timed("properties", lambda: image_properties(img))
        faces = timed("faces: detect", lambda: analyzer.faces.predict(img))
        faces_seen += len(faces)

        def per_face():
            for face in faces:
                analyzer.attributes.predict(img, face["BoundingBox"])
                analyzer.embedder.embed(img, face["BoundingBox"])
        timed("faces: attributes + embedding", per_face)
        timed("moderation", lambda: analyzer.moderation.predict(img, 50))
        timed("thumbnail", lambda: small.thumbnail(256))
    total = sum(sum(v) for v in steps.values()) / len(chosen)
    rows = [(name, statistics.mean(v) * 1000, statistics.mean(v) / total * 100) for name, v in steps.items()]
    sub = []
    if ocr_split and all(len(x) == 3 for x in ocr_split):
        for n, name in enumerate(("detection", "direction", "recognition")):
            ms = statistics.mean(x[n] for x in ocr_split) * 1000
            sub.append(("text, of which %s" % name, ms, ms / total / 10))
    return rows, sub, total * 1000, load_s, faces_seen, len(chosen)


# ---- main ---------------------------------------------------------------------------------------

def fmt(value, pattern):
    return "-" if value is None else pattern % value


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--photos", type=int, default=500)
    parser.add_argument("--workers", default="1,2", help="worker counts to run, comma-separated")
    parser.add_argument("--threads", default="1", help="LOCAL_THREADS per worker: N (default 1: the same worker in "
                                                       "every run) or auto (cores // workers, what ./dev serve gives)")
    parser.add_argument("--pin", default="off", choices=("on", "off"), help="pin worker i to core i")
    parser.add_argument("--ocr-threads", type=int, help="experiment: onnxruntime threads of the workers' OCR "
                                                        "sessions (default: onnxruntime's, one per core)")
    parser.add_argument("--profile", type=int, default=20, help="photos to profile step by step (0: skip)")
    parser.add_argument("--timeout", type=float, default=3600, help="give up on one run after this long")
    parser.add_argument("--from", dest="folder", help="real photos instead of variants: the first N of this "
                                                      "folder, brought to 1152 px (e.g. var/benchphotos)")
    args = parser.parse_args(argv)
    counts = [int(x) for x in args.workers.split(",") if x.strip()]
    if args.photos < 1 or not counts or min(counts) < 1:
        parser.error("--photos and --workers must be positive")
    photos, nsources = real_photos(args.folder, args.photos) if args.folder else make_photos(args.photos)
    mean_kb = statistics.mean(len(d) for _, d in photos) / 1024
    results = []
    for n in counts:
        threads = max(1, CORES // n) if args.threads == "auto" else int(args.threads)
        results.append(run(photos, n, threads, args.pin == "on", args.timeout, args.ocr_threads))
    prof = None
    if args.profile > 0:
        prof = profile(photos, min(args.profile, len(photos)), max(1, CORES // min(counts))
                       if args.threads == "auto" else int(args.threads), args.ocr_threads)
    progress("")
    sys.stderr.write("\r\033[K")

    stage = stage_env("/tmp", 0)
    print("local ingest: %d photos (%s, %.0f KB mean, distinct bytes, from %d real photos), "
          "features %s, thumbnails %s px, %d cores"
          % (args.photos, "long side %d px JPEG, from %s" % (SIZE[0], args.folder) if args.folder
             else "%dx%d JPEG" % SIZE, mean_kb, nsources, stage["ANALYSIS_FEATURES"],
             stage.get("THUMBNAIL_SIZE", "256"), CORES))
    print()
    print("| workers | LOCAL_THREADS | OCR threads | pinned | photos | queueing s | wall s | photos/min | speedup "
          "| first photo s | steady photos/min | median s/photo (worker) | CPU s/photo | other load (cores) | indexed "
          "| unsupported | failed | left pending |")
    print("|---:|---:|---:|:--:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    base = results[0]["rate"] if results and results[0]["workers"] == 1 else None
    for r in results:
        print("| %d | %d | %s | %s | %d | %.2f | %.1f | %.1f | %s | %s | %s | %s | %.2f | %s | %d | %d | %d | %d |" % (
            r["workers"], r["threads"], r["ocr"] or r["threads"], "yes" if r["pin"] else "no",
            r["photos"], r["queue_s"], r["wall"],
            r["rate"], fmt(r["rate"] / base if base else None, "%.2fx"), fmt(r["first"], "%.1f"),
            fmt(r["steady"], "%.1f"), fmt(r["median_ms"] / 1000 if r["median_ms"] is not None else None, "%.2f"),
            r["cpu_per_photo"], fmt(r["other"], "%.2f"), r["indexed"], r["unsupported"], r["failed"],
            r["pending"]))
    problems = []
    for r in results:
        if not r["finished"] or any(r["exit_codes"]):
            problems.append("%d worker(s): finished=%s, exit codes %s" % (r["workers"], r["finished"],
                                                                         r["exit_codes"]))
        if r["reused"]:
            problems.append("%d worker(s): %d analyses reused (identical bytes)" % (r["workers"], r["reused"]))
        if r["queued"] != r["photos"]:
            problems.append("%d worker(s): %d jobs queued for %d photos" % (r["workers"], r["queued"], r["photos"]))
    by = {r["workers"]: r for r in results}
    print()
    print("| target | measured | met |")
    print("|---|---|:--:|")
    if 1 in by and 2 in by:
        s = by[2]["rate"] / by[1]["rate"]
        same = by[1]["threads"] == by[2]["threads"]
        print("| 2 workers >= 1.8x 1 worker (%d cores%s) | %.2fx | %s |" % (
            CORES, ", the same workers: LOCAL_THREADS %d each" % by[1]["threads"] if same
            else ", LOCAL_THREADS %d vs %d per worker" % (by[1]["threads"], by[2]["threads"]), s,
            "yes" if s >= 1.8 else "no"))
    best = max(results, key=lambda r: r["rate"])
    print("| >= 300 photos/min (1 MP, all local features) | %.1f (%d worker(s)) | %s |"
          % (best["rate"], best["workers"], "yes" if best["rate"] >= 300 else "no"))
    if prof:
        rows, sub, total_ms, load_s, faces_seen, k = prof
        print()
        print("where one photo's analysis time goes (in-process, %d photos, %d faces, LOCAL_THREADS=%s; "
              "OCR threads %s; model loading %.1f s once per process):"
              % (k, faces_seen, os.environ.get("LOCAL_THREADS"), args.ocr_threads or "default", load_s))
        print()
        print("| step | mean ms | share |")
        print("|---|---:|---:|")
        for name, ms, share in sorted(rows, key=lambda r: -r[1]):
            print("| %s | %.0f | %.0f%% |" % (name, ms, share))
            if name == "text":
                for sub_name, sub_ms, sub_share in sub:
                    print("| %s | %.0f | %.0f%% |" % (sub_name, sub_ms, sub_share))
        print("| total | %.0f | 100%% |" % total_ms)
    for p in problems:
        print("problem: " + p)
    print()
    print("command: .venv/bin/python bench/ingest.py --photos %d --workers %s --threads %s --pin %s%s%s --profile %d"
          % (args.photos, ",".join(str(c) for c in counts), args.threads, args.pin,
             " --ocr-threads %d" % args.ocr_threads if args.ocr_threads else "",
             " --from %s" % args.folder if args.folder else "", args.profile))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
