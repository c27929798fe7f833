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
- ``search(owner, groups, size, after=None, filters=None, sort="relevance", min_score=0) -> Page``:
  the owner's photos that match at least one group of words (see below) and every filter
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
  of named people) and ``without_words`` (a query's ``-word``: photos none of whose label,
  evidence or text terms is one of these with at least the confidence
  ``without_min_confidence``, default 0).
- ``status_counts(owner) -> {status: n, "retrying": n}``: the owner's photos per status
  (and the failed ones that will be retried), for GET /status.

Query semantics, identical on every backend:
- A query is a list of groups, one per word a person typed (chalicelib.query builds them);
  a group is a list of alternatives ``Alt(term, weight, scope)``: the word itself (weight 1),
  the concepts it means (synonyms, WordNet, embeddings: weight < 1), spelling slips.  A plain
  string in the list is the group ``[Alt(word, 1.0, "any")]``.
- Scopes: ``any`` matches a term of a label (name, parent, alias: chalicelib.index.terms
  .label_terms), of the evidence or of a line of text read in the photo; ``text`` only text
  read in the photo; ``color`` a dominant colour of the photo (``colors``), which counts as
  confidence COLOR_CONFIDENCE.
- An alternative matches a photo when weight x confidence >= min_score (the relevance
  cutoff), confidence being the best of the terms it matches in its scope.  A group's score
  is the best of its matching alternatives' weight x confidence.
- A photo is a hit when at least one group matches.  Score: MATCHED_GROUP per matching group
  plus the group's score, summed: a photo matching more of the words always ranks above one
  matching fewer.  A *boost* group (a list whose first item is the string BOOST: a colour word
  beside other words, "red car") adds only its score, and never makes a hit on its own.  Order: score descending, then photo id (or, sorted by time, photo time then
  photo id).
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
Alt = namedtuple("Alt", "term weight scope")
SCOPES = ("any", "text", "color")
COLOR_CONFIDENCE = 100.0
MATCHED_GROUP = 1000.0
MAX_ALTERNATIVES = 20000    # per query, over all groups (each OCR slip of a word is one: 10 words of 20 letters)
BOOST = "boost"


def as_groups(words):
    """[(boost, [Alt])] from a list of plain words or groups (see Query semantics), validated."""
    groups = []
    for item in words:
        if isinstance(item, str):
            item = [Alt(item, 1.0, "any")]
        boost = bool(item) and item[0] == BOOST
        group = [Alt(*a) for a in (item[1:] if boost else item)]
        for alt in group:
            if alt.scope not in SCOPES or not 0 < alt.weight <= 1 or not alt.term:
                raise ValueError("bad alternative %r" % (alt,))
        groups.append((boost, group))
    if groups and all(boost for boost, _ in groups):
        raise ValueError("a query of boost groups only")
    if sum(len(g) for _, g in groups) > MAX_ALTERNATIVES:
        raise BadRequest("the query is too long: use fewer or shorter words")
    return groups


def min_confidence(alt, min_score):
    """The smallest confidence with which `alt` matches under the cutoff `min_score`."""
    return min_score / alt.weight

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
