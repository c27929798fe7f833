"""The HTTP API, through the chalice test client, with real Cognito tokens from moto.

Remember: the chalice test client (like `chalice local`) decodes the token
without verifying it and lets requests without one through; the app itself
must refuse missing claims and scope everything to the caller.
"""
import base64
import json

import pytest
import requests

from chalicelib.keys import photo_id
from tests.conftest import BUCKET
from tests.support import images
from tests.support.rekognition import CAR_ON_STREET, DOG_ON_GRASS, PERSON_WITH_DOG
from tests.test_indexing import created, index_event, put

ROUTES = [("POST", "/search"), ("GET", "/photos?q=dog"), ("GET", "/photos/" + "a" * 32),
          ("DELETE", "/photos/" + "a" * 32), ("POST", "/uploads")]


def auth(user):
    return {"Authorization": user.token, "Content-Type": "application/json"}


def add(client, s3, rekognition, user, name, response, body=None):
    key = "usercontent/%s/%s" % (user.sub, name)
    etag = put(s3, key, body)
    rekognition.labels(BUCKET, key, response)
    assert index_event(client, created(key, etag)) == ["indexed"]
    return photo_id(BUCKET, key)


@pytest.fixture
def photos(client, s3, rekognition, users):
    alice, bob = users["alice"], users["bob"]
    return {
        "car": add(client, s3, rekognition, alice, "2026/car.jpg", CAR_ON_STREET),
        "dog": add(client, s3, rekognition, alice, "2026/dog.jpg", DOG_ON_GRASS),
        "both": add(client, s3, rekognition, alice, "2026/me and dog.jpg", PERSON_WITH_DOG),
        "bob_dog": add(client, s3, rekognition, bob, "dog.jpg", DOG_ON_GRASS),
    }


@pytest.mark.parametrize("method,path", ROUTES)
def test_every_route_refuses_a_request_without_a_token(client, method, path):
    r = client.http.request(method, path, headers={"search-key": "dog", "Content-Type": "application/json"},
                            body=b"{}")
    assert r.status_code == 401
    assert r.json_body["error"] == "Unauthorized"


@pytest.mark.parametrize("method,path", ROUTES)
def test_a_token_without_a_subject_is_refused(client, method, path):
    payload = base64.urlsafe_b64encode(json.dumps({"cognito:username": "x", "token_use": "id"}).encode())
    token = "e30." + payload.decode().rstrip("=") + ".sig"
    r = client.http.request(method, path, headers={"Authorization": token, "search-key": "dog"}, body=b"{}")
    assert r.status_code == 401


def test_search_by_header_finds_by_name_parent_and_alias(client, photos, users):
    alice = users["alice"]
    for word, expected in (("dog", {"dog", "both"}), ("Animal", {"dog", "both"}), ("automobile", {"car"}),
                           ("vehicle", {"car"}), ("person dog", {"both", "dog"})):
        r = client.http.post("/search", headers=dict(auth(alice), **{"search-key": word}))
        assert r.status_code == 200, r.body
        assert {p["photo_id"] for p in r.json_body["photos"]} == {photos[n] for n in expected}, word
    # the photo with a person and a dog matches both words: first
    r = client.http.post("/search", headers=dict(auth(alice), **{"search-key": "person dog"}))
    assert r.json_body["photos"][0]["photo_id"] == photos["both"]


def test_a_hit_carries_key_labels_size_time_status_and_a_working_url(client, photos, users, s3):
    r = client.http.get("/photos?q=car", headers=auth(users["alice"]))
    hit, = r.json_body["photos"]
    assert hit["photo_id"] == photos["car"] and hit["key"].endswith("/2026/car.jpg")
    assert hit["status"] == "indexed" and hit["size"] > 0 and hit["uploaded_at"]
    assert hit["labels"][0] == {"name": "Car", "confidence": 98.7, "parents": ["Vehicle", "Transportation"],
                                "aliases": ["Automobile"], "categories": ["Vehicles and Automotive"],
                                "instances": [{"box": {"width": 0.5, "height": 0.4, "left": 0.1, "top": 0.35},
                                               "confidence": 98.7}]}
    assert hit["score"] == 1098.7       # 1000 a matched word + how well it matched
    assert hit["matched"] == [{"word": "car", "label": "Car", "via": "word", "confidence": 98.7}]
    got = requests.get(hit["url"], timeout=10)
    assert got.status_code == 200 and got.content == s3.get_object(Bucket=BUCKET, Key=hit["key"])["Body"].read()
    thumb = requests.get(hit["thumbnail_url"], timeout=10)
    assert thumb.status_code == 200 and thumb.content[:3] == b"\xff\xd8\xff"
    assert "X-Amz-Expires=3600" in hit["url"]
    assert r.json_body["query"] == {"q": "car", "words": ["car"], "phrases": [], "text": [], "colors": [],
                                    "dates": [], "ignored": [], "excluded": [], "people": [], "filters": {},
                                    "date_filters": {}, "sort": "relevance", "min_score": 15.0}


def test_url_expiry_is_configurable(client, photos, users, monkeypatch):
    monkeypatch.setenv("PRESIGN_EXPIRY_SECONDS", "120")
    hit, = client.http.get("/photos?q=car", headers=auth(users["alice"])).json_body["photos"]
    assert "X-Amz-Expires=120" in hit["url"]


def test_search_is_scoped_to_the_caller(client, photos, users):
    r = client.http.get("/photos?q=dog", headers=auth(users["bob"]))
    assert [p["photo_id"] for p in r.json_body["photos"]] == [photos["bob_dog"]]
    assert client.http.get("/photos?q=car", headers=auth(users["bob"])).json_body["photos"] == []


def test_results_page_with_a_cursor(client, photos, users):
    headers = auth(users["alice"])
    first = client.http.get("/photos?q=dog&limit=1", headers=headers).json_body
    second = client.http.get("/photos?q=dog&limit=1&cursor=" + first["next"], headers=headers).json_body
    assert len(first["photos"]) == len(second["photos"]) == 1 and second["next"] is None
    assert {first["photos"][0]["photo_id"], second["photos"][0]["photo_id"]} == {photos["dog"], photos["both"]}
    # POST /search takes the cursor in its JSON body
    body = json.dumps({"limit": 1, "cursor": first["next"]})
    again = client.http.post("/search", headers=dict(headers, **{"search-key": "dog"}), body=body).json_body
    assert without_urls(again["photos"]) == without_urls(second["photos"])


def without_urls(value):
    """An answer without its presigned URLs, which carry the second they were signed in."""
    if isinstance(value, dict):
        return {k: without_urls(v) for k, v in value.items() if not k.endswith("url")}
    if isinstance(value, list):
        return [without_urls(v) for v in value]
    return value


def test_an_empty_query_lists_the_callers_photos_newest_first(client, photos, users):
    listed = client.http.get("/photos", headers=auth(users["alice"])).json_body["photos"]
    assert {p["photo_id"] for p in listed} == {photos["car"], photos["dog"], photos["both"]}


@pytest.mark.parametrize("path", ["/photos?limit=0", "/photos?limit=101", "/photos?limit=x",
                                  "/photos?q=dog&cursor=not-a-cursor", "/photos?q=%22%2B%2B%22"])
def test_bad_parameters_are_400(client, users, services, path):
    r = client.http.get(path, headers=auth(users["alice"]))
    assert r.status_code == 400 and r.json_body["error"] == "BadRequest"


def test_a_cursor_from_a_listing_is_refused_for_a_search(client, photos, users):
    listing = client.http.get("/photos?limit=1", headers=auth(users["alice"])).json_body
    r = client.http.get("/photos?q=dog&cursor=" + listing["next"], headers=auth(users["alice"]))
    assert r.status_code == 400


def test_get_returns_the_owners_full_analysis(client, photos, users):
    r = client.http.get("/photos/" + photos["both"], headers=auth(users["alice"]))
    assert r.status_code == 200
    body = r.json_body
    assert [lab["name"] for lab in body["labels"]] == ["Person", "Dog", "Grass"]
    assert body["engine"] == "rekognition" and body["label_model_version"] == "3.0" and body["url"]


def test_another_users_photo_is_exactly_like_a_missing_one(client, photos, users):
    bob = auth(users["bob"])
    theirs = client.http.get("/photos/" + photos["car"], headers=bob)
    missing = client.http.get("/photos/" + "0" * 32, headers=bob)
    malformed = client.http.get("/photos/..%2F..%2Fetc", headers=bob)
    assert theirs.status_code == missing.status_code == malformed.status_code == 404
    assert theirs.body == missing.body
    assert client.http.delete("/photos/" + photos["car"], headers=bob).status_code == 404
    # and alice's photo is untouched
    assert client.http.get("/photos/" + photos["car"], headers=auth(users["alice"])).status_code == 200


def test_delete_removes_the_object_and_the_document(client, photos, users, s3):
    alice = auth(users["alice"])
    r = client.http.delete("/photos/" + photos["car"], headers=alice)
    assert r.status_code == 200 and r.json_body["deleted"] is True
    assert client.http.get("/photos/" + photos["car"], headers=alice).status_code == 404
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET).get("Contents", [])]
    assert not any(k.endswith("/2026/car.jpg") for k in keys)
    # the S3 removal event that follows finds nothing left to do
    assert client.lambda_.invoke("remove_photo", {"Records": [{
        "eventSource": "aws:s3", "eventName": "ObjectRemoved:Delete",
        "s3": {"bucket": {"name": BUCKET}, "object": {"key": "usercontent/%s/2026/car.jpg" % users["alice"].sub,
                                                      "sequencer": "0A"}}}]}).payload == ["absent"]


def test_an_upload_url_lets_curl_upload_under_the_callers_prefix_only(client, users, services, s3, rekognition):
    alice = users["alice"]
    r = client.http.post("/uploads", headers=auth(alice),
                         body=json.dumps({"name": "beach/day one.jpg", "content_type": "image/jpeg"}))
    assert r.status_code == 201, r.body
    body = r.json_body
    assert body["key"] == "usercontent/%s/beach/day one.jpg" % alice.sub
    assert body["photo_id"] == photo_id(BUCKET, body["key"])
    post = body["upload"]
    policy = json.loads(base64.b64decode(post["fields"]["policy"]))
    assert {"key": body["key"]} in policy["conditions"]
    assert ["content-length-range", 1, 15 * 1024 * 1024] in policy["conditions"]
    assert {"Content-Type": "image/jpeg"} in policy["conditions"]
    data = images.jpeg()
    up = requests.post(post["url"], data=post["fields"], files={"file": ("x.jpg", data)}, timeout=10)
    assert up.status_code in (200, 204), up.text
    head = s3.head_object(Bucket=BUCKET, Key=body["key"])
    # the S3 event for that object indexes it
    rekognition.labels(BUCKET, body["key"], DOG_ON_GRASS)
    assert index_event(client, created(body["key"], head["ETag"])) == ["indexed"]
    found = client.http.get("/photos?q=dog", headers=auth(alice)).json_body["photos"]
    assert [p["photo_id"] for p in found] == [body["photo_id"]]


@pytest.mark.parametrize("payload", [
    {"name": "../%s/evil.jpg"},
    {"name": "a/../../%s/evil.jpg"},
    {"name": "/usercontent/%s/evil.jpg"},
    {"name": "ok.jpg\u0000.png"},
    {"name": ""},
    {"name": "x.jpg", "content_type": "text/html"},
    {"name": "x.svg", "content_type": "image/svg+xml"},
    {"name": "x.pdf", "content_type": "application/pdf"},
    {"name": "x" * 1100 + ".jpg"},
])
def test_forged_or_hostile_upload_requests_are_refused(client, users, services, payload):
    bob = users["bob"]
    payload = {k: (v % bob.sub if "%s" in v else v) for k, v in payload.items()}
    r = client.http.post("/uploads", headers=auth(users["alice"]), body=json.dumps(payload))
    assert r.status_code == 400, payload
    assert r.json_body["error"] == "BadRequest"


def test_a_name_that_looks_like_another_users_key_stays_inside_the_callers_prefix(client, users, services):
    alice, bob = users["alice"], users["bob"]
    r = client.http.post("/uploads", headers=auth(alice),
                         body=json.dumps({"name": "usercontent/%s/x.jpg" % bob.sub}))
    assert r.json_body["key"] == "usercontent/%s/usercontent/%s/x.jpg" % (alice.sub, bob.sub)


def test_an_index_that_is_down_answers_503_and_loses_nothing(client, photos, users, opensearch):
    opensearch.failures.extend([503] * 20)
    r = client.http.get("/photos?q=dog", headers=auth(users["alice"]))
    assert r.status_code == 503 and r.json_body["error"] == "ServiceUnavailable"
    opensearch.failures.clear()
    assert client.http.get("/photos?q=dog", headers=auth(users["alice"])).status_code == 200


def test_filters_and_sort_through_the_api(client, photos, users):
    alice = auth(users["alice"])
    r = client.http.get("/photos?format=jpeg&has_faces=false&sort=oldest", headers=alice)
    assert r.status_code == 200 and r.json_body["query"]["sort"] == "oldest"
    assert r.json_body["query"]["filters"] == {"format": "jpeg", "has_faces": False}
    assert {p["photo_id"] for p in r.json_body["photos"]} == {photos["car"], photos["dog"], photos["both"]}
    body = json.dumps({"filters": {"format": "png"}, "sort": "newest"})
    r = client.http.post("/search", headers=dict(alice, **{"search-key": "dog"}), body=body)
    assert r.status_code == 200 and r.json_body["photos"] == []


@pytest.mark.parametrize("query", ["color=plaid", "near=91,0", "near=abc", "radius_km=3", "taken_from=yesterday",
                                   "has_text=maybe", "sort=random", "sort=relevance", "format=svg"])
def test_bad_filters_are_400(client, users, services, query):
    r = client.http.get("/photos?" + query, headers=auth(users["alice"]))
    assert r.status_code == 400, query
