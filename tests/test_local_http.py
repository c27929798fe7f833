"""The local stage's HTTP front end under plain `chalice local --stage local` (no launcher):
bursts of connections, bodies checked before they are read, URLs that point back at the
server that was asked.  A real `chalice local` process on loopback, raw sockets where the
framing matters."""
import http.client
import json
import os
import socket
import subprocess
import sys
import threading
import time
from urllib.parse import urlencode, urlsplit

import pytest
import requests

from tests.support import photos

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CHALICE = os.path.join(os.path.dirname(sys.executable), "chalice")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ChaliceLocal:
    """`chalice local --stage local --port P` with the stage's data in a temporary folder.

    --no-autoreload: the reloader would restart the server whenever a file of the working
    tree changes; the server is otherwise exactly what a developer gets."""

    def __init__(self, data_dir):
        self.data = str(data_dir)
        self.port = free_port()
        self.base = "http://127.0.0.1:%d" % self.port
        self.env = dict(os.environ, LOCAL_STORAGE_DIR=os.path.join(self.data, "bucket"),
                        SQLITE_PATH=os.path.join(self.data, "index.sqlite3"),
                        LOCAL_SECRET_FILE=os.path.join(self.data, "secret"))
        for name in ("AWS_ENDPOINT_URL", "LOCAL_PUBLIC_URL", "TRUSTED_PROXY", "LOCAL_SECRET", "STORAGE_BACKEND",
                     "INDEX_BACKEND", "PHOTO_BUCKET", "AUTH_MODE", "ANALYSIS_ENGINE"):
            self.env.pop(name, None)
        self.proc = None
        self._tokens = {}

    def start(self):
        self.log = open(os.path.join(self.data, "server.log"), "ab")
        self.proc = subprocess.Popen([CHALICE, "local", "--stage", "local", "--no-autoreload", "--port",
                                      str(self.port)], cwd=ROOT, env=self.env, stdout=self.log,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.time() + 60
        while time.time() < deadline:
            assert self.proc.poll() is None, self.output()
            try:
                if requests.get(self.base + "/photos", timeout=2).status_code == 401:
                    return self
            except requests.ConnectionError:
                time.sleep(0.2)
        raise AssertionError("chalice local did not start:\n" + self.output())

    def output(self):
        with open(os.path.join(self.data, "server.log"), errors="replace") as f:
            return f.read()[-4000:]

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.log.close()

    def token(self, name):
        """An ID token as a developer gets one: `python -m chalicelib.cli token NAME`."""
        if name not in self._tokens:
            out = subprocess.run([sys.executable, "-m", "chalicelib.cli", "token", name], cwd=ROOT, env=self.env,
                                 capture_output=True, text=True, timeout=60, check=True)
            self._tokens[name] = out.stdout.strip()
        return self._tokens[name]

    def headers(self, name):
        return {"Authorization": self.token(name)}

    def status(self, field):
        """A field of /proc/<pid>/status, in kB."""
        with open("/proc/%d/status" % self.proc.pid) as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
        raise AssertionError("no %s in /proc/%d/status" % (field, self.proc.pid))


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    s = ChaliceLocal(tmp_path_factory.mktemp("chalice-local")).start()
    yield s
    s.stop()


def exchange(port, head, body=b"", timeout=10.0, half_close=False):
    """Send a raw request (`head` without the blank line), read one response:
    (status, headers, parsed JSON or raw bytes).  `half_close`: then stop sending."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    try:
        sock.sendall(head.encode("latin-1") + b"\r\n\r\n" + body)
        if half_close:
            sock.shutdown(socket.SHUT_WR)
        response = http.client.HTTPResponse(sock)
        response.begin()
        data = response.read()
        try:
            data = json.loads(data)
        except ValueError:
            pass
        return response.status, {k.lower(): v for k, v in response.getheaders()}, data
    finally:
        sock.close()


def request_head(method, target, port, headers=()):
    lines = ["%s %s HTTP/1.1" % (method, target), "Host: 127.0.0.1:%d" % port]
    lines += ["%s: %s" % h for h in headers]
    return "\r\n".join(lines)


def bad_put_target():
    until = int(time.time()) + 600
    return "/files?" + urlencode({"key": "usercontent/someone/x.jpg", "content_type": "image/jpeg",
                                  "max_bytes": 10 ** 12, "expires": until, "sig": "0" * 64})


def signed_put(server, user="alice", name="a.jpg", content_type="image/jpeg"):
    r = requests.post(server.base + "/uploads", json={"name": name, "content_type": content_type},
                      headers=server.headers(user), timeout=30)
    assert r.status_code == 201, r.text
    return r.json()


def target_of(url):
    parts = urlsplit(url)
    return parts.path + "?" + parts.query


def assert_error(answer, status, code):
    got_status, headers, body = answer
    assert got_status == status, answer
    assert headers["content-type"].startswith("application/json"), answer
    assert body["error"] == code and isinstance(body["message"], str) and body["message"], answer


# ---- (5) bursts -------------------------------------------------------------------------

def burst(n, call):
    """`n` threads start `call()` at the same instant; the exceptions they raised."""
    barrier = threading.Barrier(n)
    results, errors = [], []

    def run():
        barrier.wait()
        try:
            results.append(call())
        except Exception as e:   # noqa: BLE001 -- a reset, a timeout: what the test counts
            errors.append(e)

    threads = [threading.Thread(target=run) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    return results, errors


def test_a_burst_of_concurrent_connections_is_served_without_resets(server):
    """Each request a fresh connection, all opened at once: the listen backlog must hold them."""
    target = "/files?" + urlencode({"key": "usercontent/u/x.jpg", "expires": int(time.time()) + 60, "sig": "0"})
    head = request_head("GET", target, server.port, [("Connection", "close")])
    for _ in range(3):
        results, errors = burst(200, lambda: exchange(server.port, head, timeout=30))
        assert errors == [], "%d of 200 failed, e.g. %r" % (len(errors), errors[:3])
        assert [r[0] for r in results] == [403] * 200


def test_a_burst_of_authorized_requests_is_served(server):
    auth = server.headers("burst")
    results, errors = burst(120, lambda: requests.get(server.base + "/photos", headers=dict(auth, Connection="close"),
                                                      timeout=60).status_code)
    assert errors == [], "%d of 120 failed, e.g. %r" % (len(errors), errors[:3])
    assert results == [200] * 120


# ---- (6) bodies checked before they are read --------------------------------------------

def test_a_badly_signed_upload_is_refused_before_its_body_arrives(server):
    head = request_head("PUT", bad_put_target(), server.port,
                        [("Content-Type", "image/jpeg"), ("Content-Length", str(300 * 1024 * 1024))])
    start = time.monotonic()
    answer = exchange(server.port, head, timeout=10)    # not one byte of the 300 MB sent
    print("refused in %.3f s" % (time.monotonic() - start))
    assert time.monotonic() - start < 5
    assert_error(answer, 403, "Forbidden")
    assert answer[1].get("connection", "").lower() == "close"


def test_a_refused_body_does_not_grow_the_server_memory(server):
    """300 MB streamed at a badly signed URL: the server refuses at the headers and drops what
    still arrives, chunk by chunk; its peak RSS does not grow by anything like the body."""
    size = 300 * 1024 * 1024
    try:
        with open("/proc/%d/clear_refs" % server.proc.pid, "w") as f:
            f.write("5")       # reset VmHWM to the current RSS
    except OSError:
        pass
    before = server.status("VmHWM")
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=30)
    head = request_head("PUT", bad_put_target(), server.port,
                        [("Content-Type", "image/jpeg"), ("Content-Length", str(size))])
    sent = [0]

    def stream():
        chunk = b"\xff" * (1024 * 1024)
        try:
            sock.sendall(head.encode() + b"\r\n\r\n")
            while sent[0] < size:
                sock.sendall(chunk)
                sent[0] += len(chunk)
        except OSError:
            pass       # the server may stop listening once it has answered

    sender = threading.Thread(target=stream)
    sender.start()
    response = http.client.HTTPResponse(sock)
    response.begin()
    body = json.loads(response.read())
    sender.join(60)
    sock.close()
    time.sleep(0.5)
    grown = server.status("VmHWM") - before
    print("VmHWM before %d kB, after %d kB (+%d kB); %d MB of the body sent" % (
        before, before + grown, grown, sent[0] // (1024 * 1024)))
    assert response.status == 403 and body["error"] == "Forbidden"
    assert grown < 48 * 1024, "the server's peak RSS grew by %d kB" % grown


def test_an_upload_needs_a_valid_content_length_within_its_signed_limit(server):
    up = signed_put(server)
    target, limit = target_of(up["upload"]["url"]), up["max_bytes"]
    jpeg = ("Content-Type", "image/jpeg")
    assert_error(exchange(server.port, request_head("PUT", target, server.port, [jpeg])), 411, "LengthRequired")
    for bad in ("abc", "-5", "1e3", "12, 13", ""):
        assert_error(exchange(server.port, request_head("PUT", target, server.port, [jpeg, ("Content-Length", bad)])),
                     400, "BadRequest")
    assert_error(exchange(server.port, request_head("PUT", target, server.port,
                                                    [jpeg, ("Content-Length", "5"), ("Content-Length", "7")])),
                 400, "BadRequest")
    assert_error(exchange(server.port, request_head("PUT", target, server.port,
                                                    [jpeg, ("Transfer-Encoding", "chunked")])), 411, "LengthRequired")
    # over the signed limit: refused at the headers (nothing of the body is sent)
    assert_error(exchange(server.port, request_head("PUT", target, server.port,
                                                    [jpeg, ("Content-Length", str(limit + 1))])),
                 413, "PayloadTooLarge")
    assert_error(exchange(server.port, request_head("PUT", target, server.port,
                                                    [jpeg, ("Content-Length", str(10 ** 15))])),
                 413, "PayloadTooLarge")
    # a badly signed URL is refused first, whatever its Content-Length
    assert_error(exchange(server.port, request_head("PUT", bad_put_target(), server.port, [jpeg])), 403, "Forbidden")
    # a body shorter than announced (the client stops sending): a clean 400, not a half-written file
    assert_error(exchange(server.port, request_head("PUT", target, server.port, [jpeg, ("Content-Length", "1000")]),
                          body=b"\xff\xd8\xff", half_close=True), 400, "BadRequest")


def test_expect_100_continue_is_answered_before_the_body(server):
    """curl sends `Expect: 100-continue` for large bodies: a refusal comes instead of the 100."""
    head = request_head("PUT", bad_put_target(), server.port,
                        [("Content-Type", "image/jpeg"), ("Content-Length", str(10 ** 9)), ("Expect", "100-continue")])
    assert_error(exchange(server.port, head), 403, "Forbidden")
    # a good one gets its 100 Continue, then the body goes through
    up = signed_put(server, name="continued.jpg")
    data = photos.encode(photos.load("coffee.png"))
    head = request_head("PUT", target_of(up["upload"]["url"]), server.port,
                        [("Content-Type", "image/jpeg"), ("Content-Length", str(len(data))), ("Expect", "100-continue")])
    with socket.create_connection(("127.0.0.1", server.port), timeout=60) as sock:
        sock.sendall(head.encode() + b"\r\n\r\n")
        interim = b""
        while not interim.endswith(b"\r\n\r\n"):
            interim += sock.recv(1)
        assert interim.startswith(b"HTTP/1.1 100 "), interim
        sock.sendall(data)
        response = http.client.HTTPResponse(sock)
        response.begin()
        assert response.status == 201 and json.loads(response.read())["photo_id"] == up["photo_id"]


def test_a_signed_upload_with_a_correct_length_still_works_on_a_kept_alive_connection(server):
    up = signed_put(server, name="kept.jpg")
    data = photos.encode(photos.load("chelsea.png"))
    with requests.Session() as s:
        r = s.put(up["upload"]["url"], data=data, headers={"Content-Type": "image/jpeg"}, timeout=120)
        assert r.status_code == 201, r.text
        assert r.json()["photo_id"] == up["photo_id"]
        again = s.get(server.base + "/photos/" + up["photo_id"], headers=server.headers("alice"), timeout=30)
        assert again.status_code == 200 and again.json()["size"] == len(data)


def test_other_routes_answer_a_bad_or_oversized_content_length_cleanly(server):
    auth = ("Authorization", server.token("alice"))
    js = ("Content-Type", "application/json")
    for bad in ("abc", "-1"):
        assert_error(exchange(server.port, request_head("POST", "/uploads", server.port, [auth, js,
                                                                                         ("Content-Length", bad)])),
                     400, "BadRequest")
    assert_error(exchange(server.port, request_head("POST", "/search", server.port,
                                                    [auth, js, ("Content-Length", str(50 * 1024 * 1024))])),
                 413, "PayloadTooLarge")
    assert_error(exchange(server.port, request_head("GET", "/photos", server.port,
                                                    [auth, ("Content-Length", "x")])), 400, "BadRequest")
    assert_error(exchange(server.port, request_head("POST", "/search", server.port,
                                                    [auth, js, ("Transfer-Encoding", "chunked")])),
                 411, "LengthRequired")
    # and a normal JSON body still goes through
    body = json.dumps({"q": "cat"}).encode()
    status, _, answer = exchange(server.port, request_head("POST", "/search", server.port,
                                                           [auth, js, ("Content-Length", str(len(body)))]), body)
    assert status == 200 and answer["query"]["q"] == "cat"


# ---- (13) URLs point at the server that was asked ---------------------------------------

def urls_in(value):
    """Every URL in a JSON answer (photo, thumbnail, face crops)."""
    if isinstance(value, dict):
        value = list(value.values())
    if isinstance(value, list):
        for item in value:
            yield from urls_in(item)
    elif isinstance(value, str) and value.startswith(("http://", "https://")):
        yield value


def test_urls_point_at_the_port_chalice_local_listens_on(server):
    up = signed_put(server, name="port.jpg")
    parts = urlsplit(up["upload"]["url"])
    assert (parts.scheme, parts.netloc) == ("http", "127.0.0.1:%d" % server.port)
    data = photos.encode(photos.load("coffee.png"))
    put = requests.put(up["upload"]["url"], data=data, headers=up["upload"]["headers"], timeout=120)
    assert put.status_code == 201, put.text
    detail = requests.get(server.base + "/photos/" + up["photo_id"], headers=server.headers("alice"), timeout=30)
    assert detail.status_code == 200, detail.text
    urls = list(urls_in(detail.json()))
    assert detail.json()["url"] in urls
    if detail.json()["status"] == "indexed":
        assert detail.json()["thumbnail_url"] in urls
    for url in urls:
        assert urlsplit(url).netloc == "127.0.0.1:%d" % server.port
        assert requests.get(url, timeout=30).status_code == 200
    listed = requests.get(server.base + "/photos", headers=server.headers("alice"), timeout=30).json()["photos"]
    assert all(urlsplit(p["url"]).netloc == "127.0.0.1:%d" % server.port for p in listed)


def test_urls_follow_the_host_asked_for_and_refuse_a_hostile_host(server):
    auth = server.headers("alice")
    r = requests.post(server.base + "/uploads", json={"name": "h.jpg"}, timeout=30,
                      headers=dict(auth, Host="localhost:%d" % server.port))
    assert urlsplit(r.json()["upload"]["url"]).netloc == "localhost:%d" % server.port
    for hostile in ("evil.example/x?y=", "a b", "host:99999", "exa_mple.com@x", "[::1"):
        r = requests.post(server.base + "/uploads", json={"name": "h.jpg"}, timeout=30,
                          headers=dict(auth, Host=hostile))
        assert r.status_code == 201
        assert urlsplit(r.json()["upload"]["url"]).netloc == "127.0.0.1:%d" % server.port, hostile
    # without TRUSTED_PROXY, X-Forwarded-* are ignored
    r = requests.post(server.base + "/uploads", json={"name": "h.jpg"}, timeout=30,
                      headers=dict(auth, **{"X-Forwarded-Host": "proxy.example", "X-Forwarded-Proto": "https"}))
    assert urlsplit(r.json()["upload"]["url"])[:2] == ("http", "127.0.0.1:%d" % server.port)


def test_base_url_rules(monkeypatch):
    from chalicelib import baseurl
    monkeypatch.delenv("TRUSTED_PROXY", raising=False)
    assert baseurl.from_headers({"host": "photos.lan:8813"}) == "http://photos.lan:8813"
    assert baseurl.from_headers({"host": "[::1]:8000"}) == "http://[::1]:8000"
    assert baseurl.from_headers({"host": "evil/x"}) is None
    assert baseurl.from_headers({}) is None
    proxied = {"host": "127.0.0.1:8000", "x-forwarded-host": "photos.example.org, inner", "x-forwarded-proto": "https"}
    assert baseurl.from_headers(proxied) == "http://127.0.0.1:8000"
    monkeypatch.setenv("TRUSTED_PROXY", "on")
    assert baseurl.from_headers(proxied) == "https://photos.example.org"
    assert baseurl.from_headers(dict(proxied, **{"x-forwarded-proto": "gopher"})) == "http://photos.example.org"
    assert baseurl.from_headers(dict(proxied, **{"x-forwarded-host": "bad host"})) == "https://127.0.0.1:8000"


def test_local_public_url_overrides_the_request(tmp_path):
    from chalicelib import baseurl
    from chalicelib.storage.disk import DiskStorage
    fixed = DiskStorage(str(tmp_path), "local", "https://photos.example.org/")
    derived = DiskStorage(str(tmp_path), "local", "")
    with baseurl.using({"host": "127.0.0.1:8813"}):
        assert fixed.presign_get("usercontent/u/a.jpg", 60).startswith("https://photos.example.org/files?")
        assert derived.presign_get("usercontent/u/a.jpg", 60).startswith("http://127.0.0.1:8813/files?")
        assert derived.presign_upload("usercontent/u/a.jpg", "image/jpeg", 10, 60)["url"].startswith(
            "http://127.0.0.1:8813/files?")
    assert derived.presign_get("usercontent/u/a.jpg", 60).startswith(baseurl.current() + "/files?")
