"""A client's mistake is a 400 (or 409) that says what to change, never a 500, on both
configurations (tests/support/stacks.py): cursors of any JSON type or with tampered values,
search bodies that are not objects, times whose UTC equivalent is past year 9999, filters that
are not one value, upload names a file system cannot store (a segment over 255 bytes, a file
that would also be a folder) or that display as something else (bidirectional controls)."""
import base64
import json
import unicodedata
from urllib.parse import quote

import pytest

from chalicelib import components
from tests.conftest import app_client
from tests.support import images, stacks


@pytest.fixture(params=["aws", "local"])
def stack(request, monkeypatch, tmp_path):
    s = stacks.aws(request, monkeypatch) if request.param == "aws" else stacks.local(monkeypatch, tmp_path)
    yield s
    components.reset()


@pytest.fixture
def client(stack):
    with app_client() as c:
        yield c


@pytest.fixture
def alice(stack):
    return stack.headers["alice"]


@pytest.fixture
def dog(stack):
    stacks.seed_photo(stack.services, stack.subs["alice"], "pets/rex.jpg")
    return stacks.seed_photo(stack.services, stack.subs["alice"], "pets/rex2.jpg")


def post(client, headers, path, body):
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return client.http.post(path, headers=headers, body=raw)


def cursor_of(data):
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")


# ---- cursors -----------------------------------------------------------------------------

NOT_A_CURSOR = [{"k": "list:newest", "v": [1, "a"]}, [1, 2], 10 ** 30, True, 1.5, {"a": {"b": [1]}}, [[[]]]]
TAMPERED = [[{"a": 1}, "0" * 32], [[1], "0" * 32], [10 ** 30, "0" * 32], [-(10 ** 30), "0" * 32], [1, 5],
            [1, {"a": 1}], [1, "'; drop table photos; --"], [True, "0" * 32], ["x", "0" * 32], [1], [1, 2, 3],
            [float("nan"), "0" * 32], [1e300, "0" * 32]]


@pytest.mark.parametrize("value", NOT_A_CURSOR, ids=str)
def test_a_cursor_that_is_not_a_string_is_400(client, alice, dog, value):
    r = post(client, alice, "/search", {"q": "dog", "cursor": value})
    assert r.status_code == 400, r.body
    assert r.json_body["error"] == "BadRequest" and "cursor" in r.json_body["message"]
    assert "`next`" in r.json_body["message"]


@pytest.mark.parametrize("values", TAMPERED, ids=str)
@pytest.mark.parametrize("kind", ["list:newest", "list:oldest", "search:relevance", "search:newest"])
def test_a_cursor_with_tampered_values_is_400(client, alice, dog, kind, values):
    cursor = cursor_of({"k": kind, "v": values})
    if kind.startswith("list"):
        r = client.http.get("/photos?sort=%s&cursor=%s" % (kind[5:], cursor), headers=alice)
    else:
        r = post(client, alice, "/search", {"q": "dog", "sort": kind[7:], "cursor": cursor})
    assert r.status_code == 400, r.body
    assert "cursor is not valid" in r.json_body["message"]


@pytest.mark.parametrize("sort", ["newest", "oldest"])
def test_a_time_cursor_holds_a_whole_number_of_milliseconds(client, alice, dog, sort):
    r = client.http.get("/photos?sort=%s&cursor=%s" % (sort, cursor_of({"k": "list:" + sort, "v": [1.5, "0" * 32]})),
                        headers=alice)
    assert r.status_code == 400 and "cursor is not valid" in r.json_body["message"]


@pytest.mark.parametrize("stack", ["aws"], indirect=True)
def test_a_cursor_the_cluster_refuses_is_400(client, alice, dog, stack, opensearch):
    cursor = client.http.get("/photos?limit=1", headers=alice).json_body["next"]
    opensearch.failures.append(400)     # what OpenSearch answers to search_after values it cannot parse
    r = client.http.get("/photos?limit=1&cursor=" + cursor, headers=alice)
    assert r.status_code == 400, r.body
    assert "cursor is not valid" in r.json_body["message"]


@pytest.mark.parametrize("text", ["{}", "[1,2]", "1" * 31, "%7B%22k%22%3A1%7D", "x" * 5000,
                                  base64.urlsafe_b64encode(b"[" * 1500).decode()])
def test_a_cursor_in_the_query_string_that_is_not_ours_is_400(client, alice, dog, text):
    r = client.http.get("/photos?cursor=" + quote(text, safe="%"), headers=alice)
    assert r.status_code == 400 and "cursor" in r.json_body["message"]


def test_real_cursors_still_page_through_everything(client, alice, dog):
    first = client.http.get("/photos?limit=1", headers=alice).json_body
    second = client.http.get("/photos?limit=1&cursor=" + first["next"], headers=alice).json_body
    assert second["next"] is None and len(first["photos"]) == len(second["photos"]) == 1
    again = post(client, alice, "/search", {"q": "dog", "limit": 1})
    after = post(client, alice, "/search", {"q": "dog", "limit": 1, "cursor": again.json_body["next"]})
    assert after.status_code == 200 and len(after.json_body["photos"]) == 1
    assert after.json_body["photos"][0]["photo_id"] != again.json_body["photos"][0]["photo_id"]


# ---- bodies, times, filters ---------------------------------------------------------------

@pytest.mark.parametrize("body", [[1, 2], "dog", 5, [{"q": "dog"}]], ids=str)
def test_a_search_body_must_be_a_json_object(client, alice, body):
    r = post(client, alice, "/search", body)
    assert r.status_code == 400, r.body
    assert "JSON object" in r.json_body["message"]


def test_times_past_year_9999_or_before_year_1_in_utc_select_what_they_say(client, alice, dog):
    end = client.http.get("/photos?uploaded_to=9999-12-31T23:00:00-12:00", headers=alice)
    assert end.status_code == 200, end.body
    assert end.json_body["query"]["filters"] == {"uploaded_to": "9999-12-31T23:59:59.999Z"}
    assert len(end.json_body["photos"]) == 2
    start = post(client, alice, "/search", {"filters": {"uploaded_from": "0001-01-01T00:00:00+01:00"}})
    assert start.status_code == 200 and start.json_body["query"]["filters"] == {
        "uploaded_from": "0001-01-01T00:00:00.000Z"}
    assert len(start.json_body["photos"]) == 2
    never = client.http.get("/photos?taken_from=9999-12-31T23:00:00-12:00", headers=alice)
    assert never.status_code == 200 and never.json_body["photos"] == []


@pytest.mark.parametrize("filters,says", [
    ({"near": "1,2", "radius_km": [1]}, "radius_km"),
    ({"camera_make": {"a": 1}}, "camera_make must be a string"),
    ({"color": ["red"]}, "color must be a string"),
    ({"camera_model": "x\ud800"}, "unpaired surrogate"),
    ({"uploaded_to": "10000-01-01"}, "uploaded_to must be a date"),
], ids=str)
def test_a_filter_that_is_not_one_value_is_400(client, alice, dog, filters, says):
    r = post(client, alice, "/search", {"filters": filters})
    assert r.status_code == 400, r.body
    assert says in r.json_body["message"]


# ---- upload names ---------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["a" * 300 + ".jpg", "trips/" + "é" * 128 + "/x.jpg", "x/" + "日" * 86],
                         ids=["300-ascii", "256-bytes-folder", "258-bytes-cjk"])
def test_a_name_segment_over_255_bytes_is_refused_when_the_upload_is_asked_for(client, alice, name):
    r = post(client, alice, "/uploads", {"name": name})
    assert r.status_code == 400, r.body
    assert "at most 255 bytes" in r.json_body["message"] and "shorten" in r.json_body["message"]


def test_a_name_segment_of_255_bytes_is_stored(client, alice, stack):
    r = post(client, alice, "/uploads", {"name": "trips/" + "é" * 123 + "12345.jpg"})
    assert r.status_code == 201, r.body
    info = stack.services.storage.write(r.json_body["key"], images.jpeg())
    assert info.size == len(images.jpeg())


def test_a_photo_cannot_also_be_a_folder_on_disk(client, alice, stack):
    sub = stack.subs["alice"]
    stack.services.storage.write("usercontent/%s/coll/a.jpg" % sub, images.jpeg())
    stack.services.storage.write("usercontent/%s/albums/2026/x.jpg" % sub, images.jpeg())
    for name, taken in (("coll/a.jpg/b.jpg", "coll/a.jpg is already a photo"),
                        ("coll/a.jpg/deeper/b.jpg", "coll/a.jpg is already a photo"),
                        ("albums/2026", "albums/2026 is already a folder"),
                        ("albums", "albums is already a folder")):
        r = post(client, alice, "/uploads", {"name": name})
        if stack.name == "local":
            assert r.status_code == 409, (name, r.body)
            assert r.json_body["error"] == "Conflict"
            assert taken in r.json_body["message"] and "choose another name" in r.json_body["message"]
        else:       # S3 keys are names, not paths: both exist side by side
            assert r.status_code == 201, (name, r.body)
            stack.services.storage.write(r.json_body["key"], images.jpeg())
    # a new name next to them, and a new version of a photo, are fine everywhere
    for name in ("coll/b.jpg", "coll/a.jpg", "albums/2026/y.jpg"):
        assert post(client, alice, "/uploads", {"name": name}).status_code == 201, name


BIDI_CONTROLS = [chr(c) for c in (*range(0x202A, 0x202F), *range(0x2066, 0x206A), 0x200E, 0x200F, 0x061C)]


@pytest.mark.parametrize("char", BIDI_CONTROLS, ids=lambda c: "U+%04X" % ord(c))
def test_a_name_with_a_bidirectional_control_is_refused_naming_it(client, alice, char):
    r = post(client, alice, "/uploads", {"name": "invoice%sgpj.exe" % char})
    assert r.status_code == 400, r.body
    message = r.json_body["message"]
    assert "U+%04X" % ord(char) in message and unicodedata.name(char) in message and "remove it" in message


def test_a_name_with_an_unpaired_surrogate_is_400(client, alice):
    r = post(client, alice, "/uploads", b'{"name": "a\\ud800.jpg"}')
    assert r.status_code == 400, r.body
    assert "unpaired surrogate" in r.json_body["message"]


# ---- 503 answers say when to come back -------------------------------------------------------

def test_every_503_says_when_to_try_again(client, alice, stack, request):
    pid = stacks.seed_photo(stack.services, stack.subs["alice"], "x.jpg")
    if stack.name == "aws":
        request.getfixturevalue("opensearch").failures.extend([503] * 20)
    else:   # the app's own connection refuses writes (test_sqlite_unavailable.py has locks and more)
        stack.services.index._db().execute("PRAGMA query_only=1")
    try:
        r = client.http.delete("/photos/" + pid, headers=alice)
    finally:
        if stack.name == "aws":
            request.getfixturevalue("opensearch").failures.clear()
        else:
            stack.services.index._db().execute("PRAGMA query_only=0")
    assert r.status_code == 503, r.body
    assert r.json_body["error"] == "ServiceUnavailable"
    assert int(r.headers["Retry-After"]) > 0


@pytest.mark.parametrize("raw", ["Ali\u202ece", "\u2066Bob", "Eve\ud800"])
def test_a_person_name_with_a_bidirectional_control_or_a_lone_surrogate_is_refused(raw):
    from chalicelib import people
    from chalicelib.errors import BadRequest
    with pytest.raises(BadRequest, match="U\\+"):
        people._name(raw)
