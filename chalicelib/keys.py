"""Object keys and photo ids.

Layout: ``usercontent/<owner>/<any/relative/path>`` where ``<owner>`` is the
uploader's Cognito ``sub``.  A photo id is derived from bucket and key only,
so every event about one object lands on one document.
"""
import hashlib
import re
import unicodedata
from collections import namedtuple
from urllib.parse import unquote_plus

from chalicelib.errors import BadRequest
from chalicelib.settings import PHOTO_PREFIX

PhotoKey = namedtuple("PhotoKey", "owner relative")

MAX_KEY_BYTES = 1024  # S3's limit
MAX_SEGMENT_BYTES = 255  # a file or folder name on disk (ext4, APFS, NTFS...): the local stage stores keys as paths
# Bidirectional controls (embeddings, overrides, isolates, marks): a name with them displays
# differently from what it is ("photo\u202egpj.exe" shows as "photoexe.jpg").
BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c")


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
    if any("\ud800" <= c <= "\udfff" for c in name):
        raise BadRequest("name must be valid Unicode text: it contains an unpaired surrogate (\\u%04x)"
                         % ord(next(c for c in name if "\ud800" <= c <= "\udfff")))
    name = unicodedata.normalize("NFC", name)
    if any(ord(c) < 32 or ord(c) == 127 for c in name):
        raise BadRequest("name must not contain control characters")
    bidi = next((c for c in name if c in BIDI_CONTROLS), None)
    if bidi is not None:
        raise BadRequest("name must not contain the bidirectional control character U+%04X (%s): it makes a "
                         "name display differently from what it is; remove it" % (ord(bidi), unicodedata.name(bidi)))
    if name.startswith("/") or "\\" in name:
        raise BadRequest("name must be a relative path with / separators")
    parts = name.split("/")
    if any(p in ("", ".", "..") for p in parts):
        raise BadRequest("name must not contain empty, '.' or '..' segments")
    long_part = next((p for p in parts if len(p.encode("utf-8")) > MAX_SEGMENT_BYTES), None)
    if long_part is not None:
        raise BadRequest("each folder or file name in name must be at most %d bytes in UTF-8 (file systems' limit); "
                         "%r is %d bytes: shorten it" % (MAX_SEGMENT_BYTES, long_part[:40] + "...",
                                                         len(long_part.encode("utf-8"))))
    key = owner_prefix(owner) + name
    if len(key.encode("utf-8")) > MAX_KEY_BYTES:
        raise BadRequest("name is too long (S3 keys are at most %d bytes)" % MAX_KEY_BYTES)
    return key


THUMBNAIL_PREFIX = "thumbnails/"
THUMBNAIL_LEAF = "thumb.jpg"
FACE_CROP_LEAF = re.compile(r"face-([1-9][0-9]*)\.jpg")


def derived_folder(key):
    """thumbnails/<owner>/<same path>/: the folder of everything made from photo `key`.

    Outside usercontent/, so writing there triggers no event.  Every derived key is this
    folder plus one fixed leaf name (thumb.jpg, face-N.jpg) that has no "/", so two photos'
    derived keys can never be equal: a photo named like another's crop gets its own folder.
    """
    return THUMBNAIL_PREFIX + key[len(PHOTO_PREFIX):] + "/"


def thumbnail_key(key):
    return derived_folder(key) + THUMBNAIL_LEAF


def face_crop_key(key, n):
    return "%sface-%d.jpg" % (derived_folder(key), n)


def photo_of_derived(derived):
    """The photo key a derived key was made from, or None (not in today's layout)."""
    if not derived.startswith(THUMBNAIL_PREFIX):
        return None
    folder, _, leaf = derived.rpartition("/")
    if leaf != THUMBNAIL_LEAF and not FACE_CROP_LEAF.fullmatch(leaf):
        return None
    key = PHOTO_PREFIX + folder[len(THUMBNAIL_PREFIX):]
    return key if parse_key(key) else None


def face_crop_number(derived):
    """N of a face crop key (today's .../face-N.jpg or the older ....face-N.jpg), else None."""
    match = re.search(r"[/.]face-([1-9][0-9]*)\.jpg$", derived)
    return int(match.group(1)) if match else None
