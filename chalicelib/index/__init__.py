"""The photo index: one document per photo, searched per owner.

Interface (every implementation passes tests/contract/test_index_contract.py):

- ``ensure_index()``: create the index and its mapping; idempotent.
- ``get(photo_id) -> (doc, version)``, ``(None, None)`` when absent.
- ``put(doc, version=None)``: write ``doc`` (keyed by ``doc["photo_id"]``).
  With a `version` from ``get`` the write happens only if the document is
  unchanged since; with ``version=None`` only if there is no document yet.
  Otherwise VersionConflict.  ``put(doc, version=ANY)`` writes regardless.
- ``delete(photo_id, version=ANY) -> bool``: False when absent;
  VersionConflict when a given version no longer matches.
- ``search(owner, words, size, after=None, filters=None, sort="relevance") -> Page``:
  the owner's photos that match every word (see below) and every filter
  (chalicelib.index.filters), best first or by time.
- ``list(owner, size, after=None, filters=None, sort="newest") -> Page``: the
  owner's photos that match the filters, newest (or oldest) first; a photo's
  time is when it was taken, else when it was uploaded.
- ``find_by_hash(owner, content_hash, exclude=None) -> doc | None``: an `indexed`
  photo of this owner with these exact bytes, other than photo `exclude` (to reuse
  its analysis).
- ``scan(bucket, after_key="", size=100) -> [(doc, version)]``: documents of
  one bucket in ascending key order (UTF-8 bytes), for the reconciler.
- ``bulk(actions) -> [outcome]``: actions ``("put", doc, version)`` or
  ``("delete", photo_id, version)``; outcomes "ok", "conflict", "missing".
- ``refresh()``: make writes visible to search (a no-op where they already are).
- Internal filters (set by chalicelib.photos, never by a client): ``photo_ids`` (the photos
  of named people) and ``without_words`` (a query's ``-word``: photos none of whose label
  or text terms is one of these).
- ``status_counts(owner) -> {status: n, "retrying": n}``: the owner's photos per status
  (and the failed ones that will be retried), for GET /status.

Query semantics, identical on every backend:
- Words come from chalicelib.index.terms.query_words (case-insensitive, plural
  folded).  A photo matches when EVERY word is a term of at least one of its
  labels (label name, any parent, any alias) or of a line of text read in it.
- Score: for each word, the highest confidence among the labels and text lines
  it matches; summed over the words.  Order: score descending, then photo id
  (or, sorted by time, photo time then photo id).
- Pages: `after` is the opaque `next` of the previous Page; the order is total,
  so pages never repeat or skip a photo that did not change.
"""
import base64
import json
import math
from collections import namedtuple

from chalicelib.errors import BadRequest
from chalicelib.keys import is_photo_id

Page = namedtuple("Page", "hits next")

ANY = object()  # put/delete regardless of the stored version


def encode_cursor(kind, values):
    raw = json.dumps({"k": kind, "v": values}, separators=(",", ":")).encode("utf-8")
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


MAX_CURSOR_CHARS = 1024
MAX_SORT_VALUE = 2 ** 63 - 1    # sort values are SQLite INTEGERs / OpenSearch longs, doubles or photo ids
CURSOR_HELP = "pass the `next` value of the previous page unchanged, with the same q, sort and filters"


def decode_cursor(kind, cursor):
    """The sort values of the last hit of the previous page, validated: a cursor is opaque to
    clients, so anything that is not one of ours (any JSON type, tampered values, another
    query's cursor) is a BadRequest, never a backend error."""
    if cursor is None or cursor == "":
        return None
    if not isinstance(cursor, str):
        raise BadRequest("cursor must be a string: " + CURSOR_HELP)
    if len(cursor) > MAX_CURSOR_CHARS:
        raise BadRequest("cursor is longer than any this service issues: " + CURSOR_HELP)
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        data = json.loads(raw)
        if not isinstance(data, dict) or data.get("k") != kind:     # kind: "search:newest"...
            raise ValueError
        values = data.get("v")
        if not isinstance(values, list) or len(values) != 2 or not _sort_value(kind, values[0]) \
                or not is_photo_id(values[1]):
            raise ValueError
        return values
    except (ValueError, TypeError, RecursionError):
        raise BadRequest(INVALID_CURSOR)


INVALID_CURSOR = "cursor is not valid for this query: " + CURSOR_HELP


def _sort_value(kind, value):
    """By relevance a score (a number); by time a time in milliseconds (a whole number) or null
    (a photo without one): what the backends return, within what they accept back."""
    if isinstance(value, bool):
        return False
    if kind.endswith(":relevance"):
        return isinstance(value, (int, float)) and math.isfinite(value) and abs(value) <= MAX_SORT_VALUE
    return value is None or (isinstance(value, int) and -MAX_SORT_VALUE - 1 <= value <= MAX_SORT_VALUE)
