"""Peak memory of indexing one photo: the real pipeline call (chalicelib.pipeline.indexing.
index_object), each case in a fresh process.

    .venv/bin/python bench/memory.py                                  # every case, both engines
    .venv/bin/python bench/memory.py --engines rekognition --cases png16,100mp

Engines: `rekognition` (the Lambda's path: Rekognition through botocore's Stubber, so the
converted JPEG is serialized as it would be sent; ANALYSIS_FEATURES=labels,text,faces like the
dev stage, FACE_INDEXING=off so DetectFaces answers the faces) and `local` (every local model,
as the local stage runs them).  Storage is the disk backend, the index SQLite.

Each case runs in a new process: imports, then one small photo indexed to warm up (botocore's
service model, the models, the codecs), then `baseline` = the RSS then; the case's photo is
indexed and `peak` = the peak RSS (ru_maxrss; read as VmHWM on Linux, see _peak_kb).
`growth` = peak - baseline is what the photo costs; `peak` is what the process needs.

The photos are made once into var/bench/memory/.  The JPEGs carry EXIF orientation 6, like a
phone photo held upright, so Rekognition is sent a converted JPEG (the costlier path).  Prints
one table and the command that made it; progress goes to stderr.
"""
import argparse
import gc
import io
import json
import os
import resource
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
CACHE = os.path.join(ROOT, "var", "bench", "memory")
BUCKET = "bench"

# name: (what, stored width, height, how)
CASES = {
    "12mp": ("JPEG 12 MP", 4032, 3024, "jpeg"),
    "24mp": ("JPEG 24 MP", 6000, 4000, "jpeg"),
    "48mp": ("JPEG 48 MP", 8064, 6048, "jpeg"),
    "100mp": ("JPEG 99 MP", 11500, 8625, "jpeg"),
    "48mp-progressive": ("JPEG 48 MP progressive", 8064, 6048, "progressive"),
    "48mp-heic": ("HEIC 48 MP", 8064, 6048, "heic"),
    "png16": ("PNG 9999x9999 16-bit gray", 9999, 9999, "png16"),
    "png-100mp": ("PNG 10000x10000 RGB", 10000, 10000, "png"),
}
ENGINES = ("rekognition", "local")


def progress(msg):
    sys.stderr.write("\r\033[K" + msg)
    sys.stderr.flush()


# ---- the photos ---------------------------------------------------------------------------------

def _photo(width, height):
    """A real photo (a face in it) brought to width x height, with sensor-like noise so the
    JPEG weighs what a camera's does."""
    from PIL import Image, ImageChops, ImageOps
    base = ImageOps.fit(Image.open(os.path.join(ROOT, "var", "testdata", "astronaut.png")).convert("RGB"),
                        (width, height), Image.BICUBIC)
    noise = Image.effect_noise((width, height), 8).convert("RGB")
    return ImageChops.add(base, noise, scale=1.0, offset=-128)


def make(case):
    """The case's file (made once, then cached): its path."""
    what, width, height, how = CASES[case]
    path = os.path.join(CACHE, case + {"png": ".png", "png16": ".png", "heic": ".heic"}.get(how, ".jpg"))
    if os.path.exists(path):
        return path
    os.makedirs(CACHE, exist_ok=True)
    progress("making %s ..." % what)
    if how == "png16":
        from tests.support.hostile import png16
        data = png16(width, height)
    elif how == "png":
        from PIL import Image
        img = Image.linear_gradient("L").resize((width, height)).convert("RGB")
        out = io.BytesIO()
        img.save(out, "PNG", compress_level=1)
        data = out.getvalue()
    elif how == "heic":
        import pillow_heif
        pillow_heif.register_heif_opener()
        out = io.BytesIO()
        _photo(width, height).save(out, "HEIF", quality=80)
        data = out.getvalue()
    else:
        from PIL import Image
        img = _photo(width, height)
        exif = Image.Exif()
        exif[0x0112] = 6
        out = io.BytesIO()
        img.save(out, "JPEG", quality=92, exif=exif.tobytes(), progressive=how == "progressive")
        data = out.getvalue()
    with open(path + ".tmp", "wb") as f:
        f.write(data)
    os.replace(path + ".tmp", path)
    return path


def _environment(workdir, engine):
    return {
        "STORAGE_BACKEND": "disk", "INDEX_BACKEND": "sqlite", "PHOTO_BUCKET": BUCKET,
        "LOCAL_STORAGE_DIR": os.path.join(workdir, "bucket"), "SQLITE_PATH": os.path.join(workdir, "index.sqlite3"),
        "LOCAL_SECRET_FILE": os.path.join(workdir, "secret"), "AUTH_MODE": "local",
        "ANALYSIS_ENGINE": engine, "MIN_CONFIDENCE": "20",
        "ANALYSIS_FEATURES": "labels,text,faces" if engine == "rekognition" else
        "labels,text,faces,properties,moderation",
        "FACE_INDEXING": "off" if engine == "rekognition" else "on",
        "AWS_ACCESS_KEY_ID": "AKIDBENCH", "AWS_SECRET_ACCESS_KEY": "bench", "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1", "LOG_LEVEL": "WARNING",
    }


def measure(case, engine, path=None, env=None):
    """Index the case's photo in a fresh process: a dict (baseline, peak, growth in MB...)."""
    path = path or make(case)
    with tempfile.TemporaryDirectory() as workdir:
        environ = dict(os.environ, **_environment(workdir, engine), **(env or {}))
        environ.pop("AWS_ENDPOINT_URL", None)
        # the object is stored by this process, so the measured one only indexes it
        from chalicelib.storage.disk import DiskStorage
        with open(path, "rb") as f:
            data = f.read()
        DiskStorage(environ["LOCAL_STORAGE_DIR"], BUCKET).write(_key(path), data)
        del data
        proc = subprocess.run([sys.executable, os.path.abspath(__file__), "--worker", _key(path)], env=environ,
                              capture_output=True, text=True, cwd=ROOT)
    if proc.returncode != 0:
        return {"error": (proc.stderr.strip().splitlines() or ["exit %d" % proc.returncode])[-1]}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _key(path):
    return "usercontent/bench/" + os.path.basename(path)


# ---- the measured process -----------------------------------------------------------------------

def _peak_kb():
    """This process's peak RSS, kB.  ru_maxrss, except that on Linux it also holds the parent's
    peak at fork (kept across exec: a big parent such as pytest would hide the growth), so the
    address space's own high-water mark, VmHWM, is read where there is one."""
    try:
        with open("/proc/self/status") as f:
            return int(next(line for line in f if line.startswith("VmHWM:")).split()[1])
    except (OSError, StopIteration, ValueError):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def _reset_peak():
    """Bring the high-water mark down to the RSS now (Linux; elsewhere it stays the warm-up's)."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        pass


def _stub_rekognition():
    """A Rekognition client answering from a Stubber: labels (one boxed), a line of text, a face."""
    import boto3
    from botocore.stub import Stubber
    client = boto3.client("rekognition", region_name="us-east-1")
    stubber = Stubber(client)
    box = {"Width": 0.3, "Height": 0.4, "Left": 0.35, "Top": 0.2}
    answers = [
        ("detect_labels", {"Labels": [{"Name": "Person", "Confidence": 99.0, "Instances": [
            {"BoundingBox": box, "Confidence": 99.0}], "Parents": [], "Aliases": [], "Categories": []}],
            "LabelModelVersion": "3.0"}),
        ("detect_text", {"TextDetections": [{"DetectedText": "NASA", "Type": "LINE", "Id": 0, "Confidence": 99.0,
                                             "Geometry": {"BoundingBox": box, "Polygon": []}}]}),
        ("detect_faces", {"FaceDetails": [{"BoundingBox": box, "Confidence": 99.9, "Landmarks": []}]}),
    ]
    for _ in range(2):   # the warm-up photo, then the measured one
        for method, answer in answers:
            stubber.add_response(method, answer)
    stubber.activate()
    return client


def _worker(key):
    from PIL import Image

    from chalicelib import components
    from chalicelib.pipeline.indexing import index_object
    engine = os.environ["ANALYSIS_ENGINE"]
    if engine == "rekognition":
        from chalicelib.analysis.rekognition import RekognitionAnalyzer
        from chalicelib.faces.rekognition import CollectionMatcher
        client = _stub_rekognition()
        components.configure(analyzer=RekognitionAnalyzer(client),
                             matcher=CollectionMatcher(client, "bench", components.face_store()))
    services = components.services()
    if engine == "local":
        services.analyzer.warm_up(("labels", "text", "faces", "moderation"))
    warm = io.BytesIO()
    exif = Image.Exif()
    exif[0x0112] = 6
    _photo(640, 480).save(warm, "JPEG", quality=90, exif=exif.tobytes())
    services.storage.write("usercontent/bench/warm-up.jpg", warm.getvalue())
    del warm
    index_object(services, BUCKET, "usercontent/bench/warm-up.jpg")
    gc.collect()
    _reset_peak()
    baseline = _peak_kb()
    started = time.monotonic()
    outcome, pid = index_object(services, BUCKET, key)
    seconds = time.monotonic() - started
    peak = _peak_kb()
    doc = services.index.get(pid)[0] or {}
    print(json.dumps({"outcome": outcome, "status": doc.get("status"), "reason": doc.get("reason"),
                      "baseline": round(baseline / 1024), "peak": round(peak / 1024),
                      "growth": round((peak - baseline) / 1024), "seconds": round(seconds, 2)}))


# ---- the table ----------------------------------------------------------------------------------

def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", default=",".join(CASES), help="comma-separated: " + ",".join(CASES))
    parser.add_argument("--engines", default=",".join(ENGINES), help="comma-separated: " + ",".join(ENGINES))
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        return _worker(args.worker)
    cases = [c for c in args.cases.split(",") if c]
    engines = [e for e in args.engines.split(",") if e]
    unknown = [c for c in cases if c not in CASES] + [e for e in engines if e not in ENGINES]
    if unknown:
        parser.error("unknown: %s" % ", ".join(unknown))
    rows = []
    for case in cases:
        path = make(case)
        for engine in engines:
            progress("%s, %s engine ..." % (CASES[case][0], engine))
            rows.append((case, os.path.getsize(path), engine, measure(case, engine, path)))
    progress("")
    command = " ".join(["python", os.path.relpath(os.path.abspath(__file__), ROOT)] + sys.argv[1:])
    print("command: %s   (Python %s, %s)" % (command, sys.version.split()[0], _versions()))
    print("MB = MiB of RSS; baseline = after imports and a warm-up photo; peak = peak RSS; growth = peak - baseline")
    header = ("photo", "file MB", "engine", "result", "baseline", "peak", "growth", "s")
    lines = [header]
    for case, size, engine, r in rows:
        result = r.get("error") or r["status"] + (" (%s)" % r["reason"].split(":")[0] if r.get("reason") else "")
        lines.append((CASES[case][0], "%.1f" % (size / 2 ** 20), engine, result, str(r.get("baseline", "")),
                      str(r.get("peak", "")), str(r.get("growth", "")), str(r.get("seconds", ""))))
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    for n, line in enumerate(lines):
        print(" | ".join(cell.ljust(w) if i in (0, 2, 3) else cell.rjust(w)
                         for i, (cell, w) in enumerate(zip(line, widths))))
        if n == 0:
            print("-+-".join("-" * w for w in widths))


def _versions():
    import PIL
    return "Pillow %s" % PIL.__version__


if __name__ == "__main__":
    main()
