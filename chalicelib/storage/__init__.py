"""Object storage: where the photos are.

Interface (every implementation passes tests/contract/test_storage_contract.py):

- ``bucket``: the name used in photo ids.
- ``head(key) -> ObjectInfo | None``
- ``read(key, length=None) -> bytes`` (the first `length` bytes, or all)
- ``list(prefix, start_after="") -> iterator of ObjectInfo`` in ascending
  UTF-8 byte order of keys, streaming (pages, never the whole listing).
- ``write(key, data, content_type=None) -> ObjectInfo``: store bytes (atomically).  On
  disk its ``sequencer`` orders every write of the store, as S3 event sequencers do.
- ``delete(key)``: deleting a missing key is fine.  Listing and deleting while another
  process deletes the same keys is fine too (vanished keys are skipped).
- ``check_key(key)``: BadRequest/Conflict when `key` cannot be stored here (on disk a
  photo cannot also be a folder); S3 takes any valid key.
- ``presign_get(key, expires) -> url``
- ``presign_upload(key, content_type, max_bytes, expires)``: a presigned S3
  POST ``{"url", "fields"}``, or (disk) a signed PUT ``{"url", "method", "headers"}``
- ``read_state(key) -> str | None``, ``write_state(key, text)``: small
  system documents (the reconciler's checkpoint), kept outside the photo
  prefix so they trigger no event.
"""
from collections import namedtuple

# `sequencer`: set by write() where the backend orders writes (disk); S3 events carry their own.
ObjectInfo = namedtuple("ObjectInfo", "key etag size last_modified content_type sequencer")
ObjectInfo.__new__.__defaults__ = (None, None)

# File signatures ("magic numbers") of the formats Rekognition accepts.
SIGNATURES = (
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
)
SNIFF_BYTES = 16


def sniff_image_type(head):
    """The image content type of the first bytes of a file, or None."""
    for signature, content_type in SIGNATURES:
        if head.startswith(signature):
            return content_type
    return None


def normalize_etag(etag):
    return (etag or "").strip('"')
