"""The web page's load budget, measured in the browser the tests use (Debian's chromium).

    ./dev bench-page [--photos 1000] [--runs 5]

Builds a local-stage library of --photos photos for one user in a temporary folder: 24 real
photos (var/testdata, two of them signs with text) are analysed for real by the local engine
in this process, and the rest are copies of them under other names (their bytes, documents and
thumbnails; without faces, so nothing is queued again).  Then it starts the local server
(tools/localserver.py, no workers) on it, signs in once, and opens the search page --runs
times in a fresh browser context (cold cache), then --runs times again with the cache warm.

For each load it records, from the page's own performance timeline:
- first render: the first page of results (30 tiles) on screen (the page's ``photos-shown``
  mark, set right after the tiles are added), since navigation start;
- thumbnails: every thumbnail in the window (1280 x 860) loaded;
- what was transferred (headers + bodies, uncompressed as the local server sends them):
  the page itself (HTML, CSS, JS, icon), the API's JSON, and the thumbnails.

Budget (issue 12): first render under 1 s with 1,000 photos; the page itself under 150 KB.
"""
import argparse
import io
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time

import requests

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

SOURCES = ["chelsea.png", "coffee.png", "astronaut.png", "rocket.jpg", "motorcycle_left.png", "camera.png",
           "china.jpg", "flower.jpg", "horse.png", "coins.png", "moon.png", "hubble_deep_field.jpg", "page.png",
           "grass.png", "brick.png", "obama.jpg", "biden.jpg", "logo.png", "color.png", "hopper.jpg",
           "exif_gps.jpg", "r_canon.jpg"]
SIGNS = [("open-sign.jpg", "OPEN 24 HOURS", "coffee.png"), ("bakery-sign.jpg", "Fresh Bread Daily", "china.jpg")]
USER, PASSWORD = "bench", "page load bench password"
BUDGET_MS, BUDGET_BYTES = 1000, 150 * 1024


def source_photos():
    from PIL import Image
    from tests.support import photos
    for name in SOURCES:
        img = Image.open(photos.path(name))
        if name.endswith(".jpg"):
            with open(photos.path(name), "rb") as f:
                yield name, f.read()
        else:
            out = io.BytesIO()
            img.convert("RGB").save(out, "JPEG", quality=90)
            yield name.rsplit(".", 1)[0] + ".jpg", out.getvalue()
    for name, text, background in SIGNS:
        yield name, photos.encode(photos.sign(text, background=background))


def seed(count, stream):
    """`count` indexed photos for USER: the sources analysed for real, the rest copies."""
    from chalicelib import auth, components
    from chalicelib.index import ANY
    from chalicelib.keys import photo_id, thumbnail_key
    from chalicelib.pipeline.indexing import index_object
    services = components.services()
    storage, index = services.storage, services.index
    sub = auth.local_sub(USER)
    start = time.monotonic()
    analysed = []
    for name, data in source_photos():
        key = "usercontent/%s/originals/%s" % (sub, name)
        info = storage.write(key, data)
        index_object(services, storage.bucket, key, etag=info.etag, sequencer=info.sequencer, source="bench")
        doc, _ = index.get(photo_id(storage.bucket, key))
        if doc["status"] == "indexed" and (doc.get("thumbnails") or {}).get("thumbnail"):
            analysed.append((name, data, storage.read(doc["thumbnails"]["thumbnail"]), doc))
    stream.write("analysed %d real photos in %.1f s\n" % (len(analysed), time.monotonic() - start))
    actions = []
    for i in range(count - len(analysed)):
        name, data, thumb, source = analysed[i % len(analysed)]
        key = "usercontent/%s/%02d/%04d-%s" % (sub, i // 100, i, name)
        info = storage.write(key, data)
        storage.write(thumbnail_key(key), thumb)
        doc = dict(source, photo_id=photo_id(storage.bucket, key), key=key, etag=info.etag, sequencer=info.sequencer,
                   size=info.size, faces=[], thumbnails={"thumbnail": thumbnail_key(key)})
        for flat, value in (("face_count", 0), ("has_faces", False)):
            if flat in doc:
                doc[flat] = value
        actions.append(("put", doc, ANY))
    index.bulk(actions)
    index.refresh()
    stream.write("%d photos in the library after %.1f s\n" % (len(analysed) + len(actions), time.monotonic() - start))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(env, port, log):
    server = subprocess.Popen([sys.executable, os.path.join(ROOT, "tools", "localserver.py"), "--port", str(port),
                               "--workers", "0", "--reconcile-seconds", "3600"], cwd=ROOT, env=env,
                              stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    base = "http://127.0.0.1:%d" % port
    deadline = time.time() + 60
    while time.time() < deadline:
        if server.poll() is not None:
            raise SystemExit("the local server stopped; see its log")
        try:
            if requests.get(base + "/photos", timeout=2).status_code == 401:
                return server, base
        except requests.ConnectionError:
            time.sleep(0.2)
    raise SystemExit("the local server did not start")


PAGE_FILES = ("document", "stylesheet", "script")


def load(context, base):
    """Open the search page once; (timings in ms, bytes by kind)."""
    page = context.new_page()
    sizes = {"page": 0, "api": 0, "thumbnails": 0}
    finished = []

    def done(request):
        finished.append(request)

    page.on("requestfinished", done)
    page.on("pageerror", lambda e: sys.stderr.write("page error: %s\n" % e))
    page.on("console", lambda m: sys.stderr.write("console: %s\n" % m.text))
    page.goto(base + "/#/search")
    deadline = time.time() + 30
    while not page.evaluate("performance.getEntriesByName('photos-shown').length > 0 && "
                            "[...document.querySelectorAll('.tile img')].filter(i => i.getBoundingClientRect().top"
                            " < innerHeight).every(i => i.complete)"):
        if time.time() > deadline:
            page.screenshot(path=os.path.join(tempfile.gettempdir(), "page-load-failed.png"))
            raise SystemExit("the search page did not show its photos within 30 s (screenshot: %s)"
                             % os.path.join(tempfile.gettempdir(), "page-load-failed.png"))
        time.sleep(0.02)
    timing = page.evaluate("""() => {
        const shown = performance.getEntriesByName('photos-shown')[0].startTime;
        const imgs = new Set([...document.querySelectorAll('.tile img')]
            .filter(i => i.getBoundingClientRect().top < innerHeight).map(i => i.currentSrc));
        const ends = performance.getEntriesByType('resource').filter(r => imgs.has(r.name)).map(r => r.responseEnd);
        const paint = performance.getEntriesByName('first-contentful-paint')[0];
        return {shown, thumbnails: Math.max(shown, ...ends), fcp: paint ? paint.startTime : null,
                tiles: document.querySelectorAll('.tile').length};
    }""")
    for request in finished:
        try:
            size = request.sizes()
        except Exception:       # a request whose page went away
            continue
        total = size["responseBodySize"] + size["responseHeadersSize"] + size["requestHeadersSize"]
        if "/files?" in request.url:
            sizes["thumbnails"] += total
        elif request.resource_type in PAGE_FILES or "/web/" in request.url:
            sizes["page"] += total
        else:
            sizes["api"] += total
    page.close()
    return timing, sizes


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--photos", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    args = parser.parse_args(argv)
    data = tempfile.mkdtemp(prefix="page-load-")
    env = {"LOCAL_STORAGE_DIR": os.path.join(data, "bucket"), "SQLITE_PATH": os.path.join(data, "index.sqlite3"),
           "LOCAL_SECRET_FILE": os.path.join(data, "secret"), "QUEUE_PATH": os.path.join(data, "queue.sqlite3"),
           "LOCAL_ACCOUNTS_PATH": os.path.join(data, "accounts.sqlite3")}
    os.environ.update(env)
    os.environ.pop("AWS_ENDPOINT_URL", None)
    from chalicelib.cli import load_stage
    load_stage("local")
    os.environ["QUEUE_BACKEND"] = "inline"          # the seeding analyses in this process
    seed(args.photos, sys.stderr)
    from chalicelib import accounts
    accounts.add_user(USER, PASSWORD)
    log = open(os.path.join(data, "server.log"), "ab")
    server, base = start_server(dict(os.environ, QUEUE_BACKEND="sqlite"), free_port(), log)
    from playwright.sync_api import sync_playwright
    try:
        signed = requests.post(base + "/auth/signin", json={"username": USER, "password": PASSWORD}, timeout=30)
        signed.raise_for_status()
        status = requests.get(base + "/status", headers={"Authorization": signed.json()["token"]}, timeout=30).json()
        sys.stderr.write("library: %d photos, %d indexed, queue %s\n" % (status["photos"], status["indexed"],
                                                                      status.get("queue")))
        session = ("sessionStorage.setItem('token', %s); sessionStorage.setItem('username', %s);"
                   % (json.dumps(signed.json()["token"]), json.dumps(USER)))
        results = {"cold": [], "warm": []}
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=args.chromium, headless=True)
            for _ in range(args.runs):           # a new context each time: nothing cached
                context = browser.new_context(viewport={"width": 1280, "height": 860})
                context.add_init_script(session)
                results["cold"].append(load(context, base))
                context.close()
            context = browser.new_context(viewport={"width": 1280, "height": 860})
            context.add_init_script(session)
            load(context, base)                  # fill the cache
            for _ in range(args.runs):
                results["warm"].append(load(context, base))
            context.close()
            version = browser.version
            browser.close()
    finally:
        server.terminate()
        server.wait(20)
        log.close()
    report(results, args, version, status["photos"])
    cold_shown = statistics.median(t["shown"] for t, _ in results["cold"])
    page_bytes = max(s["page"] for _, s in results["cold"])
    return 0 if cold_shown < BUDGET_MS and page_bytes < BUDGET_BYTES else 1


def report(results, args, version, photos):
    def ms(values):
        return "%d / %d" % (statistics.median(values), max(values))

    def kb(values):
        return "%.1f" % (statistics.median(values) / 1024)

    print("\nSearch page, local stage, %d photos, chromium %s, %d loads each (median / max):\n"
          % (photos, version, args.runs))
    print("| cache | first contentful paint ms | first render (30 tiles) ms | thumbnails in view loaded ms "
          "| page itself KB | API JSON KB | thumbnails KB |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for kind in ("cold", "warm"):
        rows = results[kind]
        print("| %s | %s | %s | %s | %s | %s | %s |" % (
            kind, ms([t["fcp"] or 0 for t, _ in rows]), ms([t["shown"] for t, _ in rows]),
            ms([t["thumbnails"] for t, _ in rows]), kb([s["page"] for _, s in rows]),
            kb([s["api"] for _, s in rows]), kb([s["thumbnails"] for _, s in rows])))
    cold_shown = statistics.median(t["shown"] for t, _ in results["cold"])
    page_bytes = max(s["page"] for _, s in results["cold"])
    print("\nbudget: first render < %d ms: %s (%d ms); page itself < %d KB: %s (%.1f KB)"
          % (BUDGET_MS, "met" if cold_shown < BUDGET_MS else "NOT met", cold_shown, BUDGET_BYTES // 1024,
             "met" if page_bytes < BUDGET_BYTES else "NOT met", page_bytes / 1024))
    print("measured with: ./dev bench-page --photos %d --runs %d" % (args.photos, args.runs))


if __name__ == "__main__":
    sys.exit(main())
