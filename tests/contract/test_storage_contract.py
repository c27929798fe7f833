"""The storage contract: what every storage backend must do.

Runs against S3Storage on moto's S3 server (real HTTP, so presigned URLs and
posts are exercised for real) and DiskStorage on a real folder (its signed
URLs are checked by the same functions the app's /files route uses; the
end-to-end tests fetch them over HTTP).
"""
import base64
import json
from urllib.parse import parse_qsl, urlsplit

import pytest
import requests

from chalicelib.storage import sniff_image_type
from tests.support import images

BACKENDS = ["s3-moto", "disk"]


@pytest.fixture(params=BACKENDS)
def storage(request, monkeypatch, tmp_path):
    from chalicelib import components
    if request.param == "disk":
        monkeypatch.setenv("STORAGE_BACKEND", "disk")
        monkeypatch.setenv("LOCAL_STORAGE_DIR", str(tmp_path / "bucket"))
        monkeypatch.setenv("LOCAL_SECRET", "contract-test-secret")
        monkeypatch.setenv("PHOTO_BUCKET", "local")
    else:
        monkeypatch.setenv("PHOTO_BUCKET", request.getfixturevalue("bucket"))
    components.reset()
    yield components.storage()
    components.reset()


def upload(storage, key, data, content_type="image/jpeg"):
    """Put an object the way a user would: through the presigned upload."""
    up = storage.presign_upload(key, content_type, 10 * 1024 * 1024, 60)
    if up.get("method") == "PUT":
        params = dict(parse_qsl(urlsplit(up["url"]).query))
        assert storage.verify_put(params) == (key, content_type, 10 * 1024 * 1024)
        storage.write(key, data)
    else:
        r = requests.post(up["url"], data=up["fields"], files={"file": ("f", data)}, timeout=10)
        assert r.status_code in (200, 204), r.text


def fetch(storage, url):
    if "/files?" in url:
        return storage.read(storage.verify_get(dict(parse_qsl(urlsplit(url).query))))
    return requests.get(url, timeout=10).content


def write(storage, key, data):
    storage.write(key, data)


def test_head_describes_an_object_and_none_when_absent(storage):
    data = images.jpeg()
    upload(storage, "usercontent/u/a.jpg", data)
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
    assert fetch(storage, url) == data


def test_an_overwrite_changes_the_etag(storage):
    write(storage, "usercontent/u/e.jpg", b"one")
    first = storage.head("usercontent/u/e.jpg").etag
    write(storage, "usercontent/u/e.jpg", b"two!")
    assert storage.head("usercontent/u/e.jpg").etag != first


def test_a_presigned_upload_is_pinned_to_its_key_type_and_size(storage):
    post = storage.presign_upload("usercontent/u/new.jpg", "image/jpeg", 1000, 60)
    if post.get("method") == "PUT":
        params = dict(parse_qsl(urlsplit(post["url"]).query))
        assert storage.verify_put(params) == ("usercontent/u/new.jpg", "image/jpeg", 1000)
        return
    policy = json.loads(base64.b64decode(post["fields"]["policy"]))
    assert {"key": "usercontent/u/new.jpg"} in policy["conditions"]
    assert {"Content-Type": "image/jpeg"} in policy["conditions"]
    assert ["content-length-range", 1, 1000] in policy["conditions"]
    assert post["fields"]["key"] == "usercontent/u/new.jpg"


def test_state_documents_round_trip(storage):
    assert storage.read_state("system/reconcile-state.json") is None
    storage.write_state("system/reconcile-state.json", '{"after": "usercontent/ü"}')
    assert json.loads(storage.read_state("system/reconcile-state.json")) == {"after": "usercontent/ü"}


def test_check_key_refuses_only_what_the_backend_cannot_store(storage, request):
    """Before an upload: on disk a file cannot also be a folder, so a key under a stored file, or
    a key that is a folder of stored files, is refused (409, saying which name is taken).  S3 keys
    are names, not paths: there every such key is accepted, and really stored."""
    from chalicelib.errors import VersionConflict
    write(storage, "usercontent/u/coll/a.jpg", b"x")
    write(storage, "usercontent/u/albums/2026/x.jpg", b"x")
    for key in ("usercontent/u/new.jpg", "usercontent/u/coll/b.jpg", "usercontent/u/coll/a.jpg",
                "usercontent/u/albums/2026/y.jpg", "usercontent/u/albums/2027/x.jpg"):
        storage.check_key(key)      # new names, and a new version of a stored photo
    clashes = {"usercontent/u/coll/a.jpg/b.jpg": "usercontent/u/coll/a.jpg is already a photo",
               "usercontent/u/coll/a.jpg/c/d.jpg": "usercontent/u/coll/a.jpg is already a photo",
               "usercontent/u/albums/2026": "usercontent/u/albums/2026 is already a folder",
               "usercontent/u/albums": "usercontent/u/albums is already a folder"}
    for key, says in clashes.items():
        if request.node.callspec.params["storage"] == "disk":
            with pytest.raises(VersionConflict) as refused:
                storage.check_key(key)
            assert refused.value.status_code == 409
            assert says in refused.value.message and "choose another name" in refused.value.message
        else:
            storage.check_key(key)
            write(storage, key, b"y")
            assert storage.read(key) == b"y"
    assert storage.read("usercontent/u/coll/a.jpg") == b"x"
