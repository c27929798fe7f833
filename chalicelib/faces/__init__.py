"""Faces and people: face records, similarity search, grouping into people.

Two interfaces, each with an AWS and an embedded implementation:

FaceStore (``faces.sqlite.SQLiteFaceStore``, ``faces.opensearch.OpenSearchFaceStore``;
both pass tests/contract/test_face_store_contract.py) keeps, per owner:

- face records: ``{"face_id", "owner", "photo_id", "n" (1-based, the face's place in
  the photo's ``faces``), "box", "confidence", "crop_key", "person_id" (or None),
  "assigned_by" ("auto" | "user" | None), "rejected" (person ids this face must never
  join again: "not this person"), "grouped" (grouping has looked at it), "matcher_id"
  (the Rekognition FaceId, or None), "created_at"}``, plus, for the local engine, a
  128-d ``embedding`` that only ``embeddings()`` and ``with_embeddings`` return;
- people: ``{"person_id", "owner", "name" (or None), "created_at", "created_by"}``;
- per-owner settings: ``{"owner", "opted_out"}`` (biometric opt-out).

  ``ensure()``; ``put_faces(records)`` (insert or replace); ``get_face(face_id)``;
  ``get_faces(face_ids)``; ``faces_of_photo(photo_id)``;
  ``faces(owner, person_id=None, unassigned=False, ungrouped=False)`` (face id order);
  ``by_matcher_ids(ids) -> {matcher_id: face}``; ``delete_faces(face_ids)``;
  ``assign(face_id, person_id, by, expected)`` (only if the face's person is still
  `expected`; returns bool); ``update_face(face_id, **fields)`` (rejected, grouped);
  ``embeddings(owner) -> (face_ids, photo_ids, float32 matrix)``;
  ``put_person(p)``, ``get_person(id)``, ``delete_person(id)``, ``people(owner)``;
  ``person_counts(owner, person_ids=None) -> {person_id: (faces, photos)}`` (people
  with no face are absent);
  ``get_owner(owner)``, ``put_owner(settings)``; ``delete_owner(owner)`` (every face and
  person of the owner); ``ungrouped(limit)`` (faces grouping has not seen, any owner).

FaceMatcher (``faces.local.EmbeddingMatcher`` on dlib embeddings,
``faces.rekognition.CollectionMatcher`` on a Rekognition collection):

- ``index(photo_doc, image, faces) -> [matcher_id or None]``: register the photo's faces
  (IndexFaces with the photo id as ExternalImageId; the local engine keeps embeddings);
- ``detect_and_index(photo_id, image) -> (FaceDetails, matcher_ids)``, only where
  ``detects_while_indexing`` (Rekognition: IndexFaces with every attribute is the face
  detector too, so a photo's faces cost one call, not DetectFaces and IndexFaces);
- ``remove(matcher_ids)``: DeleteFaces (nothing to do locally);
- ``neighbours(face, threshold, limit) -> [(face_record, similarity)]``: the SAME
  owner's faces at least `threshold` similar, most similar first (SearchFaces);
- ``search_image(owner, image, threshold, limit) -> (searched box, [(face_record,
  similarity)])``: the same for the largest face of an image (SearchFacesByImage); NoFace
  when the image shows none;
- ``compare(source, target, threshold) -> {"source_face": box, "matches": [(box,
  similarity)], "unmatched": [box]}`` (CompareFaces).

`image` is ``{"bytes": b"..."}`` or ``{"bucket", "key"}`` (an S3 object Rekognition reads).

Similarity is on Rekognition's scale, 0-100.  Local embeddings map Euclidean distance d
to ``100 - 100 * d / 3`` (clipped): dlib's "same person" distance 0.6 is similarity 80,
Rekognition's default FaceMatchThreshold.
"""
import hashlib

from chalicelib.errors import PhotoSearchError


class NoFace(PhotoSearchError):
    """The image shows no face."""
    status_code = 400
    code = "NoFace"


class FaceIndexingOff(PhotoSearchError):
    """Face indexing is turned off (FACE_INDEXING=off) or you opted out of it."""
    status_code = 409
    code = "FaceIndexingOff"


class SamePhotoConflict(PhotoSearchError):
    """Two faces of one photo cannot be the same person."""
    status_code = 409
    code = "SamePhotoConflict"


def face_id(photo_id, etag, n):
    """Stable for one version of a photo (re-indexing the same bytes keeps corrections);
    a changed photo gets new faces."""
    return hashlib.sha256(("%s:%s:%d" % (photo_id, etag or "", n)).encode()).hexdigest()[:32]


def is_id(value):
    return isinstance(value, str) and len(value) == 32 and all(c in "0123456789abcdef" for c in value)


PER_DISTANCE = 100.0 / 3.0     # similarity lost per unit of Euclidean distance


def similarity(distance):
    return max(0.0, min(100.0, 100.0 - PER_DISTANCE * float(distance)))


def box_iou(a, b):
    """Intersection over union of two boxes {left, top, width, height} (any key case)."""
    a = {k.lower(): v for k, v in a.items()}
    b = {k.lower(): v for k, v in b.items()}
    left, top = max(a["left"], b["left"]), max(a["top"], b["top"])
    right = min(a["left"] + a["width"], b["left"] + b["width"])
    bottom = min(a["top"] + a["height"], b["top"] + b["height"])
    inter = max(0.0, right - left) * max(0.0, bottom - top)
    union = a["width"] * a["height"] + b["width"] * b["height"] - inter
    return inter / union if union > 0 else 0.0


def match_boxes(ours, theirs, minimum=0.3):
    """For each box of `ours`, the index of the best-overlapping box of `theirs` (each used
    once), or None."""
    pairs = sorted(((box_iou(a, b), i, j) for i, a in enumerate(ours) for j, b in enumerate(theirs)), reverse=True)
    out, used = [None] * len(ours), set()
    for iou, i, j in pairs:
        if iou >= minimum and out[i] is None and j not in used:
            out[i] = j
            used.add(j)
    return out
