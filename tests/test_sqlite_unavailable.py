"""The local stage's SQLite file (photo index and face store) when it cannot be used: locked by
another process past the busy timeout, read-only, or impossible to open.  Every such request
answers 503 ServiceUnavailable with a Retry-After header, never 500, and the same requests work
again as soon as the file can be used.

The busy timeout is the adapters' `busy_timeout` (30 s by default; 0.2 s here).  Read-only: the
tests may run as root, for whom chmod does not stop writes, so the app's own connections are
switched to ``PRAGMA query_only`` (SQLite then refuses writes with the same SQLITE_READONLY error
a read-only file gives); a chmod variant runs where the user is not root.
"""
import contextlib
import os
import sqlite3
import subprocess
import sys
import time

import pytest

from chalicelib import components
from chalicelib.faces.sqlite import SQLiteFaceStore
from chalicelib.index.sqlite import SQLiteIndex, unavailable
from tests.conftest import app_client
from tests.support import stacks

BUSY_TIMEOUT = 0.2

LOCKER = r"""
import sqlite3, sys
conn = sqlite3.connect(sys.argv[1], isolation_level=None)
conn.execute("BEGIN EXCLUSIVE")
print("locked", flush=True)
sys.stdin.readline()
conn.execute("COMMIT")
"""


@pytest.fixture
def db_path(tmp_path):
    return str(tmp_path / "index.sqlite3")


@pytest.fixture
def stack(monkeypatch, tmp_path, db_path):
    index, store = SQLiteIndex(db_path, busy_timeout=BUSY_TIMEOUT), SQLiteFaceStore(db_path, busy_timeout=BUSY_TIMEOUT)
    index.ensure_index()
    store.ensure()
    yield stacks.local(monkeypatch, tmp_path, index=index, faces=store)
    components.reset()


@pytest.fixture
def client(stack):
    with app_client() as c:
        yield c


@pytest.fixture
def seeded(stack):
    sub = stack.subs["alice"]
    pid = stacks.seed_photo(stack.services, sub, "pets/rex.jpg")
    face_id, person_id = stacks.seed_person(stack.services, sub, pid)
    return pid, face_id, person_id


@contextlib.contextmanager
def locked_by_another_process(path):
    """Another process holds the database's write lock (BEGIN EXCLUSIVE) until the block ends."""
    proc = subprocess.Popen([sys.executable, "-c", LOCKER, path], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            text=True)
    try:
        assert proc.stdout.readline().strip() == "locked"
        yield
    finally:
        proc.stdin.write("\n")
        proc.stdin.close()
        proc.wait(10)


def request(client, headers, method, path, body=None):
    import json
    return client.http.request(method, path, headers=headers, body=json.dumps(body).encode() if body else b"")


def writes(pid, face_id, person_id):
    """Requests that write to the index or the face store."""
    return [("DELETE", "/photos/" + pid, None), ("POST", "/faces/opt-in", None),
            ("PATCH", "/people/" + person_id, {"name": "Max"}), ("DELETE", "/faces/%s/person" % face_id, None)]


def assert_unavailable(r, says):
    assert r.status_code == 503, r.body
    assert r.json_body["error"] == "ServiceUnavailable" and says in r.json_body["message"], r.json_body
    assert int(r.headers["Retry-After"]) > 0


def test_a_write_lock_held_by_another_process_answers_503_then_writes_resume(client, stack, seeded, db_path):
    pid, face_id, person_id = seeded
    alice = stack.headers["alice"]
    with locked_by_another_process(db_path):
        started = time.monotonic()
        for method, path, body in writes(pid, face_id, person_id):
            assert_unavailable(request(client, alice, method, path, body), "is locked by another process")
        assert time.monotonic() - started < 4 * (BUSY_TIMEOUT + 0.5)    # each waited the busy timeout only
        # reads go on meanwhile (WAL): the photo and the person are still there
        assert client.http.get("/photos/" + pid, headers=alice).status_code == 200
        assert client.http.get("/people/" + person_id, headers=alice).json_body["name"] == "Rex"
    r = request(client, alice, "PATCH", "/people/" + person_id, {"name": "Max"})
    assert r.status_code == 200 and r.json_body["name"] == "Max"
    assert request(client, alice, "DELETE", "/photos/" + pid).status_code == 200
    assert client.http.get("/photos/" + pid, headers=alice).status_code == 404


def test_a_read_only_database_answers_503_then_writes_resume(client, stack, seeded):
    pid, face_id, person_id = seeded
    alice = stack.headers["alice"]
    connections = [stack.services.index._db(), stack.services.faces._db()]    # the app's, on this thread
    for conn in connections:
        conn.execute("PRAGMA query_only=1")
    try:
        for method, path, body in writes(pid, face_id, person_id):
            assert_unavailable(request(client, alice, method, path, body), "is read-only")
        assert client.http.get("/photos?q=dog", headers=alice).status_code == 200
    finally:
        for conn in connections:
            conn.execute("PRAGMA query_only=0")
    assert request(client, alice, "PATCH", "/people/" + person_id, {"name": "Max"}).status_code == 200
    assert request(client, alice, "DELETE", "/photos/" + pid).status_code == 200


def chmod_stops_writes():
    """False for root (or any process that may override file permissions)."""
    import tempfile
    with tempfile.TemporaryDirectory() as folder:
        probe = os.path.join(folder, "probe")
        open(probe, "w").close()
        os.chmod(probe, 0o444)
        try:
            open(probe, "a").close()
        except PermissionError:
            return True
        return False


def test_a_read_only_file_answers_503(monkeypatch, tmp_path, db_path):
    if not chmod_stops_writes():
        # root writes read-only files: run this test again in a process without that capability
        assert not os.environ.get("PHOTO_SEARCH_NO_DAC"), "setpriv did not drop CAP_DAC_OVERRIDE"
        import subprocess
        import sys
        done = subprocess.run(["setpriv", "--bounding-set=-dac_override,-dac_read_search", sys.executable, "-m",
                               "pytest", "-q", "-p", "no:cacheprovider",
                               "%s::test_a_read_only_file_answers_503" % os.path.abspath(__file__)],
                              cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                              env=dict(os.environ, PHOTO_SEARCH_NO_DAC="1"), capture_output=True, text=True,
                              timeout=600)
        assert done.returncode == 0 and "1 passed" in done.stdout, done.stdout[-3000:] + done.stderr[-2000:]
        return
    setup = stacks.local(monkeypatch, tmp_path, index=SQLiteIndex(db_path), faces=SQLiteFaceStore(db_path))
    setup.services.index.ensure_index()
    setup.services.faces.ensure()
    pid = stacks.seed_photo(setup.services, setup.subs["alice"], "a.jpg")
    setup.services.index.close()
    setup.services.faces._db().close()      # (SQLite would reuse a writable descriptor still open)
    os.chmod(db_path, 0o444)
    try:
        stack = stacks.local(monkeypatch, tmp_path, index=SQLiteIndex(db_path, busy_timeout=BUSY_TIMEOUT),
                             faces=SQLiteFaceStore(db_path, busy_timeout=BUSY_TIMEOUT))
        with app_client() as client:
            r = client.http.delete("/photos/" + pid, headers=stack.headers["alice"])
        assert_unavailable(r, "is read-only")
    finally:
        os.chmod(db_path, 0o644)
        components.reset()


def test_a_file_that_cannot_be_opened_answers_503(monkeypatch, tmp_path):
    (tmp_path / "not-a-folder").write_text("a file where the index's folder should be")
    path = str(tmp_path / "not-a-folder" / "index.sqlite3")
    stack = stacks.local(monkeypatch, tmp_path, index=SQLiteIndex(path), faces=SQLiteFaceStore(path))
    try:
        with app_client() as client:
            for method, route in (("GET", "/photos"), ("POST", "/search"), ("GET", "/people")):
                r = request(client, stack.headers["alice"], method, route)
                assert_unavailable(r, "cannot be opened")
    finally:
        components.reset()


def test_sql_errors_stay_internal_errors():
    """Only "not now" conditions are 503: a bug (bad SQL, a constraint) must not look transient."""
    conn = sqlite3.connect(":memory:")
    conn.execute("CREATE TABLE t (x PRIMARY KEY)")
    conn.execute("INSERT INTO t VALUES (1)")
    for sql in ("SELECT * FROM missing", "INSERT INTO t VALUES (1)", "SELEC 1"):
        with pytest.raises(sqlite3.Error) as e:
            conn.execute(sql)
        assert unavailable("x.sqlite3", e.value) is None, sql
