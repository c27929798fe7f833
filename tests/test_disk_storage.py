"""What only the disk storage must prove: keys stay inside the root, signed URLs resist tampering."""
import os
import time
from urllib.parse import parse_qsl, urlsplit

import pytest

from chalicelib.errors import BadRequest
from chalicelib.storage.disk import DiskStorage, InvalidSignature


@pytest.fixture
def disk(tmp_path, monkeypatch):
    monkeypatch.setenv("LOCAL_SECRET", "test-secret")
    return DiskStorage(str(tmp_path / "bucket"), "local", "http://127.0.0.1:8000")


@pytest.mark.parametrize("key", ["../outside.jpg", "usercontent/u/../../../etc/passwd", "/etc/passwd",
                                 "usercontent/u/a\x00.jpg", "usercontent//a.jpg", "usercontent/./a.jpg",
                                 "usercontent\\u\\a.jpg", "", ".tmp/x"])
def test_keys_cannot_leave_the_root(disk, key):
    with pytest.raises(BadRequest):
        disk.write(key, b"x")
    with pytest.raises(BadRequest):
        disk.read(key)


def test_a_symlink_inside_the_root_is_not_followed(disk, tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("top secret")
    os.makedirs(os.path.join(disk.root, "usercontent"), exist_ok=True)
    os.symlink(str(tmp_path), os.path.join(disk.root, "usercontent", "evil"))
    with pytest.raises(BadRequest):
        disk.read("usercontent/evil/secret.txt")
    assert [o.key for o in disk.list("usercontent/")] == []


def _query(url):
    return dict(parse_qsl(urlsplit(url).query))


def test_signed_urls_refuse_tampering_and_expiry(disk):
    disk.write("usercontent/alice/a.jpg", b"alice's")
    good = _query(disk.presign_get("usercontent/alice/a.jpg", 60))
    assert disk.verify_get(good) == "usercontent/alice/a.jpg"
    for change in ({"key": "usercontent/bob/a.jpg"}, {"expires": str(int(good["expires"]) + 3600)},
                   {"sig": "0" * 64}, {"sig": ""}):
        with pytest.raises(InvalidSignature):
            disk.verify_get(dict(good, **change))
    old = dict(good, expires=str(int(time.time()) - 1))
    old["sig"] = __import__("chalicelib.signing", fromlist=["sign"]).sign("GET", "local", old["key"], old["expires"])
    with pytest.raises(InvalidSignature):
        disk.verify_get(old)
    up = _query(disk.presign_upload("usercontent/alice/b.jpg", "image/jpeg", 100, 60)["url"])
    with pytest.raises(InvalidSignature):
        disk.verify_put(dict(up, max_bytes="100000000"))
    with pytest.raises(InvalidSignature):
        disk.verify_put(dict(up, key="usercontent/bob/b.jpg"))
