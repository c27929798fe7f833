"""Object keys and photo ids.

Layout: ``usercontent/<owner>/<any/relative/path>`` where ``<owner>`` is the
uploader's Cognito ``sub``.  A photo id is derived from bucket and key only,
so every event about one object lands on one document.
"""
import hashlib
import unicodedata
from collections import namedtuple
from urllib.parse import unquote_plus

from chalicelib.errors import BadRequest
from chalicelib.settings import PHOTO_PREFIX

PhotoKey = namedtuple("PhotoKey", "owner relative")

MAX_KEY_BYTES = 1024  # S3's limit


def photo_id(bucket, key):
    """Deterministic, URL-safe, collision-safe id of one object.

    SHA-256 over a length-prefixed encoding (so ``("a", "bc")`` and
    ``("ab", "c")`` differ), truncated to 128 bits, in lowercase hex.  It is
    one-way: an id says nothing about the key or the owner.
    """
    b, k = bucket.encode("utf-8"), key.encode("utf-8")
    digest = hashlib.sha256(b"%d:" % len(b) + b + b"%d:" % len(k) + k).hexdigest()
    return digest[:32]


def is_photo_id(value):
    return isinstance(value, str) and len(value) == 32 and all(c in "0123456789abcdef" for c in value)


def parse_key(key):
    """PhotoKey for a key in the layout, or None for any other key.

    Folder markers (a trailing ``/``) and keys with empty segments are not
    photos.
    """
    if not key.startswith(PHOTO_PREFIX) or key.endswith("/"):
        return None
    owner, sep, relative = key[len(PHOTO_PREFIX):].partition("/")
    if not owner or not sep or not relative:
        return None
    return PhotoKey(owner, relative)


def key_from_event(raw_key):
    """S3 event keys are URL-encoded with ``+`` for a space."""
    return unquote_plus(raw_key)


def owner_prefix(owner):
    return "%s%s/" % (PHOTO_PREFIX, owner)


def upload_key(owner, name):
    """The key for a new upload of `name` under `owner`'s own prefix.

    `name` is a relative path; anything that could leave the prefix or that
    S3 and file systems treat specially is refused with BadRequest.
    """
    if not isinstance(name, str) or not name.strip():
        raise BadRequest("name must be a non-empty relative path, e.g. trips/beach.jpg")
    name = unicodedata.normalize("NFC", name)
    if any(ord(c) < 32 or ord(c) == 127 for c in name):
        raise BadRequest("name must not contain control characters")
    if name.startswith("/") or "\\" in name:
        raise BadRequest("name must be a relative path with / separators")
    parts = name.split("/")
    if any(p in ("", ".", "..") for p in parts):
        raise BadRequest("name must not contain empty, '.' or '..' segments")
    key = owner_prefix(owner) + name
    if len(key.encode("utf-8")) > MAX_KEY_BYTES:
        raise BadRequest("name is too long (S3 keys are at most %d bytes)" % MAX_KEY_BYTES)
    return key


THUMBNAIL_PREFIX = "thumbnails/"


def thumbnail_key(key):
    """thumbnails/<owner>/<same path>: outside usercontent/, so it triggers no event."""
    return THUMBNAIL_PREFIX + key[len(PHOTO_PREFIX):]


def face_crop_key(key, n):
    return "%s.face-%d.jpg" % (thumbnail_key(key), n)
