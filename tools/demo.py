"""The offline demo: the whole product on embedded defaults, no cloud.

    ./dev demo            # keeps serving until Ctrl-C
    ./dev demo --exit     # exits after the demo (for CI)

Starts the local server on 127.0.0.1 (chalice local --stage local + reconciler), issues a
token, uploads 20+ real photos (four of one person) taken out of registry packages (tools/fetch_test_images.py)
plus two signs it renders itself, through the API with a progress bar, then prints a few
searches with labels, scores and working URLs, the people grouped from the faces (one is
named and found by the name), and the curl commands to try next.  It ends with the web page:
a fresh password for the demo user's account and "open http://127.0.0.1:8000/".  A
second run reuses what is installed and indexed.
"""
import argparse
import io
import os
import secrets
import socket
import subprocess
import sys
import time

import requests

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from PIL import Image, ImageDraw, ImageFont  # noqa: E402

from chalicelib.cli import load_stage  # noqa: E402

DATA = os.path.join(ROOT, "var", "testdata")
PHOTOS = ["chelsea.png", "coffee.png", "astronaut.png", "rocket.jpg", "motorcycle_left.png", "camera.png",
          "china.jpg", "flower.jpg", "horse.png", "coins.png", "moon.png", "hubble_deep_field.jpg", "page.png",
          "grass.png", "brick.png", "obama.jpg", "obama2.jpg", "obama3.jpg", "obama_partial_face.jpg", "biden.jpg",
          "logo.png", "color.png"]
SIGNS = [("open-sign.jpg", "OPEN 24 HOURS", "coffee.png"), ("bakery-sign.jpg", "Fresh Bread Daily", "china.jpg")]
SEARCHES = [("cat", "an object"), ("photos of a cat", "filler words ignored"), ("kitty", "a synonym"),
            ("animal", "a parent category"), ("open", "a word of text in a photo"),
            ('"fresh bread"', "a quoted phrase of text"), ("person", "people (from faces)")]


def say(text=""):
    print(text, flush=True)


def bar(done, total, label):
    width = 30
    filled = int(width * done / total) if total else width     # nothing to do (a second run): full
    sys.stderr.write("\r[%s%s] %d/%d %s\033[K" % ("#" * filled, "." * (width - filled), done, total, label))
    sys.stderr.flush()


def sign(text, background):
    img = Image.open(os.path.join(DATA, background)).convert("RGB")
    draw = ImageDraw.Draw(img)
    try:
        font = ImageFont.truetype("/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf", 36)
    except OSError:   # no fonts-dejavu-core: Pillow's own scalable font
        font = ImageFont.load_default(36)
    left, top, right, bottom = draw.textbbox((24, 24), text, font=font)
    if right + 40 > img.width:
        img = img.resize((right + 40, int(img.height * (right + 40) / img.width)))
        draw = ImageDraw.Draw(img)
    draw.rectangle([left - 12, top - 10, right + 12, bottom + 10], fill=(255, 255, 255))
    draw.text((24, 24), text, font=font, fill=(0, 0, 0))
    out = io.BytesIO()
    img.save(out, "JPEG", quality=92)
    return out.getvalue()


def photos():
    for name in PHOTOS:
        with open(os.path.join(DATA, name), "rb") as f:
            data = f.read()
        yield name, data, "image/png" if name.endswith(".png") else "image/jpeg"
    for name, text, background in SIGNS:
        yield name, sign(text, background), "image/jpeg"


def show_people(base, headers):
    """People grouped from the faces, one named, found by the name; a face's other photos."""
    listing = requests.get(base + "/people", headers=headers, timeout=30).json()
    found = listing.get("people", [])
    say("people grouped from faces: %d (and %d faces not yet grouped with anyone)"
        % (len(found), listing.get("unassigned_faces", 0)))
    for person in found:
        say("  %s  %-14s %d faces in %d photos  (cover %s)" % (
            person["person_id"][:8], person["name"] or "(no name)", person["face_count"], person["photo_count"],
            "works" if person["cover"] and requests.get(person["cover"]["crop_url"], timeout=30).ok else "none"))
    if not found:
        say()
        return
    first = found[0]
    if not first["name"]:
        requests.patch(base + "/people/" + first["person_id"], json={"name": "Barack Obama"}, headers=headers,
                       timeout=30).raise_for_status()
        say("named %s \"Barack Obama\" (PATCH /people/%s)" % (first["person_id"][:8], first["person_id"]))
    name = requests.get(base + "/people/" + first["person_id"], headers=headers, timeout=30).json()["name"]
    word = name.split()[-1].lower()
    hits = requests.get(base + "/photos", params={"q": word}, headers=headers, timeout=30).json()["photos"]
    say("search %r (a person's name): %s" % (word, ", ".join(p["key"].rsplit("/", 1)[-1] for p in hits)))
    cover = first["cover"]["face_id"]
    similar = requests.get(base + "/faces/%s/photos" % cover, headers=headers, timeout=30).json()["photos"]
    say("photos of face %s, most similar first: %s\n" % (cover[:8], ", ".join(
        "%s %.1f" % (p["photo"]["key"].rsplit("/", 1)[-1], p["similarity"]) for p in similar)))


def demo_account(name):
    """The demo user's account for the web page, with a fresh random password (it is the demo's
    own account: the same sub as the token the demo uploads with)."""
    from chalicelib import accounts
    from chalicelib.errors import BadRequest
    password = secrets.token_urlsafe(9)
    try:
        accounts.add_user(name, password)
    except BadRequest:
        accounts.set_password(name, password)
    return password


def port_free(host, port):
    with socket.socket() as s:
        return s.connect_ex((host, port)) != 0


def wait_ready(base, server, timeout=90):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if server.poll() is not None:
            raise SystemExit("the local server stopped (exit %s); see its output above" % server.returncode)
        try:
            if requests.get(base + "/photos", timeout=2).status_code == 401:
                return
        except requests.ConnectionError:
            pass
        time.sleep(0.3)
    raise SystemExit("the local server did not answer within %d s" % timeout)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--user", default="demo")
    parser.add_argument("--exit", action="store_true", help="stop the server and exit after the demo (for CI)")
    args = parser.parse_args(argv)
    host = "127.0.0.1"
    base = "http://%s:%d" % (host, args.port)
    if not port_free(host, args.port):
        raise SystemExit("port %d is in use: stop what runs there, or pass --port N" % args.port)

    say("photo-search offline demo: starting the local server on %s (data in var/local/)" % base)
    log = open(os.path.join(ROOT, "var", "local-server.log"), "ab")
    server = subprocess.Popen([sys.executable, os.path.join(ROOT, "tools", "localserver.py"), "--host", host,
                               "--port", str(args.port), "--reconcile-seconds", "30"],
                              cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_ready(base, server)
        os.environ["LOCAL_PUBLIC_URL"] = base
        load_stage("local")
        from chalicelib import auth
        token = auth.issue_local_token(args.user)
        headers = {"Authorization": token}
        say("token for user %r (sub %s) issued\n" % (args.user, auth.local_sub(args.user)))

        items = list(photos())
        counts, waiting = {}, []
        start = time.time()
        for i, (name, data, content_type) in enumerate(items):
            bar(i, len(items), "upload " + name)
            up = requests.post(base + "/uploads", headers=headers, timeout=30,
                               json={"name": "demo/" + name, "content_type": content_type}).json()
            existing = requests.get(base + "/photos/" + up["photo_id"], headers=headers, timeout=30)
            if existing.status_code == 200 and existing.json()["status"] != "pending" \
                    and existing.json()["size"] == len(data):
                counts["already there"] = counts.get("already there", 0) + 1
                continue
            put = requests.put(up["upload"]["url"], data=data, headers=up["upload"]["headers"], timeout=120)
            if put.status_code != 201:
                counts["error %d" % put.status_code] = counts.get("error %d" % put.status_code, 0) + 1
                continue
            waiting.append(up["photo_id"])        # answered `pending` once stored; the workers analyse it
        uploaded = time.time() - start
        total = len(waiting)
        while waiting:                            # the analysis, as GET /photos/{id} reports it
            bar(total - len(waiting), total, "analysing (%d workers)" % (os.cpu_count() or 1))
            for pid in list(waiting):
                doc = requests.get(base + "/photos/" + pid, headers=headers, timeout=30).json()
                if doc["status"] != "pending":
                    waiting.remove(pid)
                    counts[doc["status"]] = counts.get(doc["status"], 0) + 1
            if waiting:
                time.sleep(0.3)
            if time.time() - start > 900:
                raise SystemExit("photos still pending after 15 minutes: see var/local-server.log")
        bar(total, total, "done")
        sys.stderr.write("\n")
        say("uploaded %d photos in %.1f s, all analysed after %.1f s: %s\n" % (
            len(items), uploaded, time.time() - start, ", ".join("%d %s" % (n, s) for s, n in sorted(counts.items()))))

        for q, what in SEARCHES:
            found = requests.get(base + "/photos", params={"q": q, "limit": 3}, headers=headers, timeout=30).json()
            ignored = found.get("query", {}).get("ignored")
            say("search %r (%s): %d shown%s" % (q, what, len(found["photos"]),
                                                 " (ignored: %s)" % ", ".join(ignored) if ignored else ""))
            for p in found["photos"]:
                labels = ", ".join("%s %.0f" % (lab["name"], lab["confidence"]) for lab in p["labels"][:4])
                text = " | text: %s" % p["text"][0]["text"] if p.get("text") else ""
                ok = requests.get(p["url"], timeout=30).status_code == 200
                how = "; ".join("%s -> %s (%s)" % (m["word"], m.get("label") or m.get("text") or m.get("color"), m["via"])
                                for m in p.get("matched", ()))
                say("  %-28s score %6.1f  %s%s" % (p["key"].rsplit("/", 1)[-1], p["score"] or 0, labels, text))
                say("    matched: %s" % how)
                say("    %s  (url %s)" % (p["url"], "works" if ok else "FAILED"))
            say()

        show_people(base, headers)

        say("Try it yourself (%s):" % ("start the server again with ./dev serve --port %d" % args.port if args.exit
                                        else "the server keeps running until Ctrl-C"))
        say("  TOKEN=$(.venv/bin/python -m chalicelib.cli token %s)" % args.user)
        say("  curl -H \"Authorization: $TOKEN\" \"%s/photos?q=cat\"" % base)
        say("  curl -X POST %s/search -H \"Authorization: $TOKEN\" -H \"search-key: open hours\"" % base)
        say("  curl -X POST %s/uploads -H \"Authorization: $TOKEN\" -H 'Content-Type: application/json' "
            "-d '{\"name\": \"my/photo.jpg\"}'" % base)
        say("  curl -X PUT \"<upload.url from the answer>\" -H 'Content-Type: image/jpeg' --data-binary @photo.jpg")
        say("  curl -X DELETE -H \"Authorization: $TOKEN\" %s/photos/<photo_id>" % base)
        say("  curl -H \"Authorization: $TOKEN\" %s/people" % base)
        say("  curl -X PATCH %s/people/<person_id> -H \"Authorization: $TOKEN\" -H 'Content-Type: application/json' -d '{\"name\": \"Alice\"}'" % base)
        say("  curl -H \"Authorization: $TOKEN\" \"%s/faces/<face_id>/photos?threshold=85\"" % base)
        say("  cp photo.jpg var/local/bucket/usercontent/%s/  # picked up by the reconciler within 30 s"
            % auth.local_sub(args.user))
        password = demo_account(args.user)
        say("\nThe web page: sign in as %s with the password %s (new every demo run; "
            "./dev user passwd %s sets your own)." % (args.user, password, args.user))
        say("The server %s" % ("stops now; ./dev serve --port %d serves the same library again, then"
                               % args.port if args.exit else "keeps serving until Ctrl-C:"))
        say("open %s/" % base)
        if args.exit:
            return 0
        while server.poll() is None:
            time.sleep(1)
        return server.returncode
    except KeyboardInterrupt:
        return 0
    finally:
        if server.poll() is None:
            server.terminate()
            try:
                server.wait(15)
            except subprocess.TimeoutExpired:
                server.kill()


if __name__ == "__main__":
    sys.exit(main())
