"""Real photos through the app with the local engine: indexed, then found by a label,
by a parent, and by a word of the text read in them."""
import pytest

from chalicelib.keys import photo_id
from tests.conftest import BUCKET, app_client, install_components
from tests.support import photos
from tests.test_api import auth
from tests.test_indexing import created, index_event, put


@pytest.fixture
def local_services(bucket, opensearch, monkeypatch):
    from chalicelib import components
    yield install_components(monkeypatch, bucket, opensearch, ANALYSIS_ENGINE="local",
                             ANALYSIS_FEATURES="labels,text,properties", MIN_CONFIDENCE="20")
    components.reset()


@pytest.fixture
def local_client(local_services):
    with app_client() as c:
        yield c


def test_real_photos_are_found_by_label_parent_and_text(local_client, local_services, s3, users):
    alice = users["alice"]
    cat_key = "usercontent/%s/pets/chelsea.jpg" % alice.sub
    sign_key = "usercontent/%s/town/sign.jpg" % alice.sub
    cat_etag = put(s3, cat_key, photos.encode(photos.load("chelsea.png")))
    sign_etag = put(s3, sign_key, photos.encode(photos.sign("OPEN 24 HOURS")))
    assert index_event(local_client, created(cat_key, cat_etag), created(sign_key, sign_etag)) == ["indexed"] * 2
    assert local_services.analyzer.engine == "local"

    def found(q):
        r = local_client.http.get("/photos?q=" + q, headers=auth(alice))
        assert r.status_code == 200
        return [p["photo_id"] for p in r.json_body["photos"]]

    cat, sign = photo_id(BUCKET, cat_key), photo_id(BUCKET, sign_key)
    assert found("cat") == [cat]                 # a label
    assert found("mammal") == [cat]              # a parent
    assert found("open") == [sign]               # a word of the text
    assert found("24%20hours") == [sign]
    detail = local_client.http.get("/photos/" + sign, headers=auth(alice)).json_body
    assert detail["engine"] == "local" and detail["text"][0]["text"] == "OPEN 24 HOURS"
    assert [w["text"] for w in detail["text"][0]["words"]] == ["OPEN", "24", "HOURS"]
    assert detail["properties"]["dominant_colors"] and 0 < detail["properties"]["quality"]["brightness"] <= 100
    assert found("cat") == [cat] and users["bob"] and local_client.http.get(
        "/photos?q=cat", headers=auth(users["bob"])).json_body["photos"] == []


def test_a_corrupt_upload_is_failed_with_a_reason_by_the_local_engine(local_client, local_services, s3, users):
    key = "usercontent/%s/broken.jpg" % users["alice"].sub
    data = photos.encode(photos.load("chelsea.png"))
    etag = put(s3, key, data[: len(data) // 4])
    assert index_event(local_client, created(key, etag)) == ["failed"]
    doc = local_services.index.get(photo_id(BUCKET, key))[0]
    assert doc["reason"].startswith("InvalidImageFormat") and doc["retryable"] is False


def test_a_phone_heic_is_analysed_by_the_local_engine(local_client, local_services, s3, users):
    key = "usercontent/%s/phone/pug.heic" % users["alice"].sub
    with open(photos.path("pug.heic"), "rb") as f:
        etag = put(s3, key, f.read(), "image/heic")
    assert index_event(local_client, created(key, etag)) == ["indexed"]
    doc = local_services.index.get(photo_id(BUCKET, key))[0]
    assert "Dog" in [lab["name"] for lab in doc["labels"][:5]]          # a pug
    assert doc["metadata"]["gps"]["lat"] == 44.8504778 and doc["format"] == "heic"


def test_faces_get_crops_with_signed_urls(local_client, local_services, s3, users, monkeypatch):
    monkeypatch.setenv("ANALYSIS_FEATURES", "labels,faces")
    alice = users["alice"]
    key = "usercontent/%s/people/obama.jpg" % alice.sub
    with open(photos.path("obama.jpg"), "rb") as f:
        etag = put(s3, key, f.read())
    assert index_event(local_client, created(key, etag)) == ["indexed"]
    detail = local_client.http.get("/photos/" + photo_id(BUCKET, key), headers=auth(alice)).json_body
    face, = detail["faces"]
    assert "embedding" not in face and face["gender"] == "Male"
    import io
    import requests
    from PIL import Image
    crop = Image.open(io.BytesIO(requests.get(face["crop_url"], timeout=10).content))
    assert crop.format == "JPEG" and max(crop.size) <= 160
    assert requests.get(detail["thumbnail_url"], timeout=10).status_code == 200
