"""End to end against a real `chalice local --stage local` (tools/localserver.py) on loopback:
real HTTP, real tokens, files on disk, a real SQLite file, the local models."""
import os
import signal
import socket
import subprocess
import sys
import time
from urllib.parse import parse_qsl, urlencode, urlsplit

import pytest
import requests

from tests.support import photos

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class LocalStack:
    def __init__(self, data_dir):
        self.data = str(data_dir)
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.base = "http://127.0.0.1:%d" % self.port
        self.env = {"LOCAL_STORAGE_DIR": os.path.join(self.data, "bucket"),
                    "SQLITE_PATH": os.path.join(self.data, "index.sqlite3"),
                    "LOCAL_SECRET_FILE": os.path.join(self.data, "secret"),
                    "QUEUE_PATH": os.path.join(self.data, "queue.sqlite3"),
                    "QUEUE_LEASE_SECONDS": "20"}
        self.proc = None

    def start(self):
        env = dict(os.environ, **self.env)
        env.pop("AWS_ENDPOINT_URL", None)
        self.log = open(os.path.join(self.data, "server.log"), "ab")
        self.proc = subprocess.Popen([sys.executable, os.path.join(ROOT, "tools", "localserver.py"), "--port",
                                      str(self.port), "--reconcile-seconds", "1"], cwd=ROOT, env=env,
                                     stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.time() + 60
        while time.time() < deadline:
            assert self.proc.poll() is None, open(os.path.join(self.data, "server.log")).read()[-3000:]
            try:
                if requests.get(self.base + "/photos", timeout=2).status_code == 401:
                    return self
            except requests.ConnectionError:
                time.sleep(0.2)
        raise AssertionError("the local server did not start")

    def stop(self):
        self.proc.terminate()
        self.proc.wait(20)
        self.log.close()

    def crash(self):
        """kill -9 the server, its workers and the reconciler at once (the process group)."""
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(20)
        self.log.close()


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    s = LocalStack(tmp_path_factory.mktemp("local-stack"))
    saved = {k: os.environ.get(k) for k in list(s.env) + ["STORAGE_BACKEND", "INDEX_BACKEND", "PHOTO_BUCKET"]}
    os.environ.update(s.env)   # this process issues tokens with the same secret
    s.start()
    yield s
    s.stop()
    for k, v in saved.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


def token(name, **claims):
    from chalicelib import auth, signing
    if not claims:
        return auth.issue_local_token(name)
    base = signing.decode_jwt(auth.issue_local_token(name))
    base.update(claims)
    return signing.encode_jwt(base)


def headers(name):
    return {"Authorization": token(name)}


def upload(stack, user, name, data, content_type="image/jpeg"):
    up = requests.post(stack.base + "/uploads", headers=headers(user), timeout=30,
                       json={"name": name, "content_type": content_type})
    assert up.status_code == 201, up.text
    put = requests.put(up.json()["upload"]["url"], data=data, headers={"Content-Type": content_type}, timeout=120)
    return up.json(), put


def settled(stack, user, pid, timeout=60):
    """GET /photos/{pid} once its analysis is done (uploads answer `pending` at once)."""
    deadline = time.time() + timeout
    while True:
        r = requests.get(stack.base + "/photos/" + pid, headers=headers(user), timeout=30)
        assert r.status_code == 200, r.text
        if r.json()["status"] != "pending" or time.time() > deadline:
            return r.json()
        time.sleep(0.2)


def found(stack, user, q):
    r = requests.get(stack.base + "/photos", params={"q": q}, headers=headers(user), timeout=30)
    assert r.status_code == 200, r.text
    return [p["photo_id"] for p in r.json()["photos"]]


def eventually(check, timeout=30):
    deadline = time.time() + timeout
    while True:
        value = check()
        if value or time.time() > deadline:
            return value
        time.sleep(0.3)


def test_requests_without_a_valid_token_are_refused(stack):
    from chalicelib import signing
    forged_none = "eyJhbGciOiJub25lIn0." + token("alice").split(".")[1] + "."
    cases = {
        "no token": {},
        "garbage": {"Authorization": "not-a-token"},
        "unsigned (alg none)": {"Authorization": forged_none},
        "expired": {"Authorization": token("alice", exp=int(time.time()) - 5)},
        "wrong issuer": {"Authorization": token("alice", iss="someone-else")},
        "access token": {"Authorization": token("alice", token_use="access")},
    }
    os.environ["LOCAL_SECRET"] = "a-different-secret"
    try:
        cases["wrongly signed"] = {"Authorization": token("alice")}
    finally:
        del os.environ["LOCAL_SECRET"]
    assert signing.decode_jwt(token("alice"))["cognito:username"] == "alice"
    for what, hdrs in cases.items():
        r = requests.get(stack.base + "/photos?q=cat", headers=hdrs, timeout=10)
        assert r.status_code == 401, what
        assert r.json()["error"] == "Unauthorized"


def test_upload_index_search_get_delete_and_isolation(stack):
    cat, put = upload(stack, "alice", "pets/chelsea.jpg", photos.encode(photos.load("chelsea.png")))
    assert put.status_code == 201 and put.json()["status"] == "pending", put.text    # answered once stored
    sign, put = upload(stack, "alice", "town/open sign+1.jpg", photos.encode(photos.sign("OPEN 24 HOURS")))
    assert settled(stack, "alice", cat["photo_id"])["status"] == "indexed"
    assert settled(stack, "alice", sign["photo_id"])["status"] == "indexed"
    assert found(stack, "alice", "cat") == [cat["photo_id"]]
    assert found(stack, "alice", "mammal") == [cat["photo_id"]]
    assert found(stack, "alice", "open hours") == [sign["photo_id"]]
    r = requests.post(stack.base + "/search", headers=dict(headers("alice"), **{"search-key": "open"}), timeout=30)
    assert [p["photo_id"] for p in r.json()["photos"]] == [sign["photo_id"]]

    detail = requests.get(stack.base + "/photos/" + cat["photo_id"], headers=headers("alice"), timeout=30).json()
    assert detail["status"] == "indexed" and detail["engine"] == "local"
    image = requests.get(detail["url"], timeout=30)
    assert image.status_code == 200 and image.headers["Content-Type"] == "image/jpeg"
    assert image.content == photos.encode(photos.load("chelsea.png"))

    assert found(stack, "bob", "cat") == []
    for method in ("get", "delete"):
        r = getattr(requests, method)(stack.base + "/photos/" + cat["photo_id"], headers=headers("bob"), timeout=30)
        assert r.status_code == 404
    r = requests.delete(stack.base + "/photos/" + cat["photo_id"], headers=headers("alice"), timeout=30)
    assert r.status_code == 200
    assert requests.get(stack.base + "/photos/" + cat["photo_id"], headers=headers("alice"),
                        timeout=30).status_code == 404
    assert requests.get(detail["url"], timeout=30).status_code == 404
    assert not os.path.exists(os.path.join(stack.env["LOCAL_STORAGE_DIR"], cat["key"]))


def test_a_corrupt_upload_ends_failed_with_a_reason(stack):
    data = photos.encode(photos.load("coffee.png"))
    up, put = upload(stack, "alice", "broken.jpg", data[: len(data) // 5])
    assert put.status_code == 201 and put.json()["status"] == "pending"
    done = settled(stack, "alice", up["photo_id"])
    assert done["status"] == "failed" and done["reason"].startswith("InvalidImageFormat")


def _with(url, **changes):
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query), **{k: str(v) for k, v in changes.items()})
    return "%s://%s%s?%s" % (parts.scheme, parts.netloc, parts.path, urlencode(query))


def test_tampered_or_expired_urls_are_refused(stack):
    up, put = upload(stack, "alice", "coffee.png", photos.encode(photos.load("coffee.png"), "PNG"), "image/png")
    url = requests.get(stack.base + "/photos/" + up["photo_id"], headers=headers("alice"), timeout=30).json()["url"]
    assert requests.get(url, timeout=30).status_code == 200
    assert requests.get(_with(url, key=up["key"].replace("coffee", "other")), timeout=30).status_code == 403
    assert requests.get(_with(url, expires=int(time.time()) + 99999), timeout=30).status_code == 403
    assert requests.get(_with(url, sig="0" * 64), timeout=30).status_code == 403
    from chalicelib import signing
    bucket = "local"
    past = int(time.time()) - 10
    expired = _with(url, expires=past, sig=signing.sign("GET", bucket, up["key"], past))
    assert requests.get(expired, timeout=30).status_code == 403

    fresh = requests.post(stack.base + "/uploads", headers=headers("alice"), json={"name": "x.jpg"}, timeout=30)
    put_url = fresh.json()["upload"]["url"]
    jpeg = {"Content-Type": "image/jpeg"}
    assert requests.put(_with(put_url, max_bytes=10 ** 9), data=b"\xff\xd8\xff", headers=jpeg,
                        timeout=30).status_code == 403
    assert requests.put(_with(put_url, key="usercontent/someone-else/x.jpg"), data=b"\xff\xd8\xff", headers=jpeg,
                        timeout=30).status_code == 403
    small = requests.post(stack.base + "/uploads", headers=headers("alice"), json={"name": "y.jpg"}, timeout=30)
    big_url = _with(small.json()["upload"]["url"])
    assert requests.put(big_url, data=b"\xff\xd8\xff", headers={"Content-Type": "image/png"},
                        timeout=30).status_code == 400


def test_files_dropped_into_or_deleted_from_the_folder_are_reconciled(stack):
    from chalicelib import auth
    folder = os.path.join(stack.env["LOCAL_STORAGE_DIR"], "usercontent", auth.local_sub("carol"), "dropped")
    os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, "a cat.jpg")
    with open(path, "wb") as f:
        f.write(photos.encode(photos.load("chelsea.png")))
    ids = eventually(lambda: found(stack, "carol", "cat"))
    assert len(ids) == 1
    os.remove(path)
    assert eventually(lambda: found(stack, "carol", "cat") == [])


def test_a_crash_mid_ingest_is_repaired_by_the_reconciler(stack):
    """The upload stored the file and a `pending` document, then the process died."""
    from chalicelib import auth
    from chalicelib.index import ANY, documents
    from chalicelib.index.sqlite import SQLiteIndex
    from chalicelib.keys import photo_id
    from chalicelib.storage.disk import DiskStorage
    storage = DiskStorage(stack.env["LOCAL_STORAGE_DIR"], "local", stack.base)
    key = "usercontent/%s/crash/coffee.jpg" % auth.local_sub("dave")
    info = storage.write(key, photos.encode(photos.load("coffee.png")))
    index = SQLiteIndex(stack.env["SQLITE_PATH"])
    pid = photo_id("local", key)
    index.put(documents.build(pid, auth.local_sub("dave"), "local", key, info, "", "pending"), ANY)
    status = lambda: requests.get(stack.base + "/photos/" + pid, headers=headers("dave"), timeout=30).json()["status"]
    assert eventually(lambda: status() == "indexed")
    assert found(stack, "dave", "espresso") == [pid]


def test_a_burst_of_uploads_is_answered_at_once_and_all_get_indexed(stack):
    """Twelve uploads at once: each PUT answers `pending` with its place in the queue as soon
    as the bytes are stored; the workers then index every one."""
    from concurrent.futures import ThreadPoolExecutor
    data = photos.encode(photos.load("chelsea.png"))
    with ThreadPoolExecutor(12) as pool:
        done = list(pool.map(lambda n: upload(stack, "gina", "burst/%02d.jpg" % n, data), range(12)))
    answers = [put.json() for _, put in done]
    assert [a["status"] for a in answers] == ["pending"] * 12
    assert all("position" in a["queue"] for a in answers)
    assert [settled(stack, "gina", up["photo_id"], timeout=120)["status"] for up, _ in done] == ["indexed"] * 12
    status = requests.get(stack.base + "/status", headers=headers("gina"), timeout=30).json()
    assert status["indexed"] == 12 and status["pending"] == 0


def test_a_crash_of_server_and_workers_loses_no_queued_photo(stack):
    ups = [upload(stack, "hank", "crash/%d.jpg" % n, photos.encode(photos.load("coffee.png")))[0] for n in range(4)]
    stack.crash()                      # kill -9 everything, some jobs mid-analysis, some still queued
    stack.start()
    assert [settled(stack, "hank", up["photo_id"], timeout=90)["status"] for up in ups] == ["indexed"] * 4


def test_data_survives_a_restart(stack):
    up, put = upload(stack, "erin", "keep.jpg", photos.encode(photos.load("chelsea.png")))
    assert settled(stack, "erin", up["photo_id"])["status"] == "indexed"
    stack.stop()
    stack.start()
    assert found(stack, "erin", "cat") == [up["photo_id"]]
    assert requests.get(requests.get(stack.base + "/photos/" + up["photo_id"], headers=headers("erin"),
                                     timeout=30).json()["url"], timeout=30).status_code == 200


def test_people_over_http_grouped_named_and_found_by_name(stack):
    ids = []
    for name in ("obama.jpg", "obama2.jpg", "obama3.jpg"):
        up, put = upload(stack, "dana", "people/" + name, open(photos.path(name), "rb").read())
        ids.append(up["photo_id"])
    assert [settled(stack, "dana", pid)["status"] for pid in ids] == ["indexed"] * 3
    listing = requests.get(stack.base + "/people", headers=headers("dana"), timeout=30).json()
    person, = listing["people"]
    assert person["photo_count"] == 3 and requests.get(person["cover"]["crop_url"], timeout=30).status_code == 200
    r = requests.patch(stack.base + "/people/" + person["person_id"], json={"name": "Barack Obama"},
                       headers=headers("dana"), timeout=30)
    assert r.status_code == 200 and r.json()["name"] == "Barack Obama"
    assert sorted(found(stack, "dana", "barack")) == sorted(ids)
    face = requests.get(stack.base + "/photos/%s/faces" % ids[0], headers=headers("dana"), timeout=30).json()
    similar = requests.get(stack.base + "/faces/%s/photos" % face["faces"][0]["face_id"], headers=headers("dana"),
                           timeout=30).json()
    assert [p["photo_id"] for p in similar["photos"]][0] == ids[0] and len(similar["photos"]) == 3
    assert requests.get(stack.base + "/people", headers=headers("erin"), timeout=30).json()["people"] == []
