"""The storage contract: what every storage backend must do.

Runs against S3Storage on moto's S3 server (real HTTP, so presigned URLs and
posts are exercised for real).  Embedded backends join the `storage` fixture.
"""
import base64
import json

import pytest
import requests

from chalicelib.storage import sniff_image_type
from tests.support import images

BACKENDS = ["s3-moto"]


@pytest.fixture(params=BACKENDS)
def storage(request, bucket, monkeypatch):
    from chalicelib import components
    monkeypatch.setenv("PHOTO_BUCKET", bucket)
    components.reset()
    yield components.storage()
    components.reset()


def write(storage, key, data):
    """Put an object the way a user would (presigned POST)."""
    post = storage.presign_upload(key, "image/jpeg", 10 * 1024 * 1024, 60)
    r = requests.post(post["url"], data=post["fields"], files={"file": ("f", data)}, timeout=10)
    assert r.status_code in (200, 204), r.text


def test_head_describes_an_object_and_none_when_absent(storage):
    data = images.jpeg()
    write(storage, "usercontent/u/a.jpg", data)
    info = storage.head("usercontent/u/a.jpg")
    assert info.key == "usercontent/u/a.jpg" and info.size == len(data) and info.etag and '"' not in info.etag
    assert info.last_modified is not None
    assert storage.head("usercontent/u/missing.jpg") is None


def test_read_returns_all_or_the_first_bytes(storage):
    data = images.png()
    write(storage, "usercontent/u/b.png", data)
    assert storage.read("usercontent/u/b.png") == data
    assert storage.read("usercontent/u/b.png", 16) == data[:16]
    assert sniff_image_type(storage.read("usercontent/u/b.png", 16)) == "image/png"
    assert storage.read("usercontent/u/none.png") is None


def test_list_is_in_utf8_byte_order_and_resumes_after_a_key(storage):
    keys = ["usercontent/u/b.jpg", "usercontent/u/a b.jpg", "usercontent/u/é.jpg", "usercontent/u/Z.jpg",
            "usercontent/u/a+b.jpg", "usercontent/u/日本.jpg", "usercontent/v/x.jpg"]
    for key in keys:
        write(storage, key, b"x")
    write(storage, "system/state.json", b"{}")
    ordered = sorted(keys, key=lambda k: k.encode("utf-8"))
    assert [o.key for o in storage.list("usercontent/")] == ordered
    assert [o.key for o in storage.list("usercontent/", start_after=ordered[2])] == ordered[3:]
    assert [o.key for o in storage.list("usercontent/v/")] == ["usercontent/v/x.jpg"]


def test_delete_removes_and_a_missing_key_is_fine(storage):
    write(storage, "usercontent/u/c.jpg", b"x")
    storage.delete("usercontent/u/c.jpg")
    storage.delete("usercontent/u/c.jpg")
    assert storage.head("usercontent/u/c.jpg") is None


def test_a_presigned_get_url_serves_the_bytes(storage):
    data = images.jpeg()
    write(storage, "usercontent/u/d e+f.jpg", data)
    url = storage.presign_get("usercontent/u/d e+f.jpg", 60)
    assert requests.get(url, timeout=10).content == data


def test_a_presigned_upload_is_pinned_to_its_key_type_and_size(storage):
    post = storage.presign_upload("usercontent/u/new.jpg", "image/jpeg", 1000, 60)
    policy = json.loads(base64.b64decode(post["fields"]["policy"]))
    assert {"key": "usercontent/u/new.jpg"} in policy["conditions"]
    assert {"Content-Type": "image/jpeg"} in policy["conditions"]
    assert ["content-length-range", 1, 1000] in policy["conditions"]
    assert post["fields"]["key"] == "usercontent/u/new.jpg"


def test_state_documents_round_trip(storage):
    assert storage.read_state("system/reconcile-state.json") is None
    storage.write_state("system/reconcile-state.json", '{"after": "usercontent/ü"}')
    assert json.loads(storage.read_state("system/reconcile-state.json")) == {"after": "usercontent/ü"}
