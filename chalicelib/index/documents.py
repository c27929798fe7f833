"""The photo document: what the index stores for one photo."""
from datetime import datetime, timezone

from chalicelib.index.terms import label_terms, text_terms
from chalicelib.keys import face_crop_number

STATUS_PENDING = "pending"      # stored, analysis not finished (the reconciler completes it)
STATUS_INDEXED = "indexed"
STATUS_UNSUPPORTED = "unsupported"
STATUS_FAILED = "failed"
STATUSES = (STATUS_PENDING, STATUS_INDEXED, STATUS_UNSUPPORTED, STATUS_FAILED)
# 2: whole multi-word names, neighbouring words of text (and run together), evidence; 3: NOT_A_KIND;
# 4: terms.UNFOLDED ("lens" stays "lens"), IE_SINGULARS ("collies" -> "collie"); 5: IRREGULAR ("leaves" ->
# "leaf"), "-oes", "-uses", "-ches" plurals, "man eater" (tests/test_search_language.py pins the folding to it)
TERMS_VERSION = 5
# kept with a photo's faces, never shown: the local engine's embedding (documents from before
# the face store) and the Rekognition FaceId of the face in the collection
INTERNAL_FACE_FIELDS = ("embedding", "rekognition_face_id")


def now_iso():
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def iso(value):
    if value is None:
        return None
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    return str(value)


def build(photo_id, owner, bucket, key, info, sequencer, status, labels=(), reason=None,
          retryable=False, engine=None, model_version=None, attempts=0, text=(), properties=None, faces=(),
          moderation=None, metadata=None, thumbnails=None, evidence=()):
    """A complete document.  `info` is the storage ObjectInfo read just before analysis;
    `labels`, `text`, `properties` and `evidence` come from chalicelib.analysis.normalize_*.
    `evidence`: concepts the engine has weaker or indirect evidence for ({"name", "confidence"}),
    searchable but never shown as labels (chalicelib.analysis.local: labels below the shown
    cutoff, and ConSE scores of concepts that are not classes)."""
    return with_current_terms({
        "photo_id": photo_id,
        "owner": owner,
        "bucket": bucket,
        "key": key,
        "etag": info.etag,
        "size": info.size,
        "content_type": info.content_type,
        "uploaded_at": iso(info.last_modified),
        "indexed_at": now_iso(),
        "sequencer": sequencer or "",
        "status": status,
        "reason": reason,
        "retryable": bool(retryable),
        "attempts": attempts,
        "engine": engine,
        "label_model_version": model_version,
        "labels": list(labels),
        "evidence": list(evidence),
        "text_lines": list(text),
        "properties": properties,
        "faces": list(faces),
        "moderation": moderation,
        "metadata": metadata,
        "thumbnails": thumbnails,
        "content_hash": None,          # SHA-256 of the bytes analysed (set by the pipeline)
        # flat fields for filters and sorting (chalicelib.media for what they mean)
        **filter_fields(metadata, properties, faces, text, iso(info.last_modified) or now_iso()),
    })


def with_current_terms(doc):
    """The document with its search terms derived again by today's chalicelib.index.terms (the
    reconciler rewrites documents whose `terms_version` is older: new phrase and text terms)."""
    out = dict(doc, terms_version=TERMS_VERSION)       # (build makes every document through here)
    out["labels"] = [dict(label, terms=label_terms(label)) for label in doc.get("labels") or ()]
    out["text_lines"] = [dict(line, terms=text_terms(line["text"])) for line in doc.get("text_lines") or ()]
    out["evidence"] = [dict(item, terms=label_terms(item)) for item in doc.get("evidence") or ()]
    search_terms = []
    for item in out["labels"] + out["text_lines"] + out["evidence"]:
        search_terms.extend(t for t in item["terms"] if t not in search_terms)
    out["search_terms"] = search_terms
    return out


def term_matches(doc):
    """(scope, term, confidence, kind, name) for every search term of a document, in the scopes
    of chalicelib.index: each label and evidence term ("any"), each term of a line of text read
    ("any" and "text") and each dominant colour ("color").  kind/name say what the term came
    from (for `matched` in a search's answer).  Stored terms are used when they are today's,
    else derived from the names."""
    from chalicelib.index import COLOR_CONFIDENCE
    current = doc.get("terms_version") == TERMS_VERSION
    for kind, field in (("label", "labels"), ("evidence", "evidence")):
        for item in doc.get(field) or ():
            for term in item["terms"] if current and "terms" in item else label_terms(item):
                yield "any", term, item["confidence"], kind, item["name"]
    for line in doc.get("text_lines") or ():
        for term in line["terms"] if current and "terms" in line else text_terms(line["text"]):
            yield "any", term, line["confidence"], "text", line["text"]
            yield "text", term, line["confidence"], "text", line["text"]
    for color in doc.get("colors") or ():
        yield "color", color, COLOR_CONFIDENCE, "color", color


def filter_fields(metadata, properties, faces, text, uploaded_at):
    metadata = metadata or {}
    gps = metadata.get("gps")
    return {
        "taken_at": metadata.get("taken_at_utc"),
        "photo_time": metadata.get("taken_at_utc") or uploaded_at,
        "camera_make": (metadata.get("camera_make") or "").casefold() or None,
        "camera_model": (metadata.get("camera_model") or "").casefold() or None,
        "format": metadata.get("format"),
        "location": {"lat": gps["lat"], "lon": gps["lon"]} if gps else None,
        "face_count": len(faces),
        "has_text": bool(text),
        "colors": sorted({c["simplified"] for c in (properties or {}).get("dominant_colors", ())
                          if c.get("simplified") and c.get("percent", 0) >= 10}),
    }


def public(doc, url=None, sign=None):
    """What an owner sees of a document (no bucket, no internal bookkeeping)."""
    out = {
        "photo_id": doc["photo_id"],
        "key": doc["key"],
        "size": doc.get("size"),
        "content_type": doc.get("content_type"),
        "uploaded_at": doc.get("uploaded_at"),
        "indexed_at": doc.get("indexed_at"),
        "status": doc["status"],
        "labels": [{k: v for k, v in label.items() if k != "terms"} for label in doc.get("labels", ())],
        "text": [{k: v for k, v in line.items() if k != "terms"} for line in doc.get("text_lines", ())],
    }
    if doc.get("properties"):
        out["properties"] = doc["properties"]
    if doc.get("metadata"):
        out["metadata"] = doc["metadata"]
    if doc.get("reused_from"):
        out["reused_analysis_of"] = doc["reused_from"]
    if doc.get("moderation") is not None:
        out["moderation"] = doc["moderation"]
    if doc.get("faces"):
        out["faces"] = [{k: v for k, v in face.items() if k not in INTERNAL_FACE_FIELDS} for face in doc["faces"]]
    if doc.get("reason"):
        out["reason"] = doc["reason"]
    if url:
        out["url"] = url
    thumbs = doc.get("thumbnails") or {}
    if sign and thumbs.get("thumbnail"):
        out["thumbnail_url"] = sign(thumbs["thumbnail"])
    if sign and out.get("faces"):
        for n, face in enumerate(out["faces"], 1):
            crop = [k for k in thumbs.get("faces", ()) if face_crop_number(k) == n]
            if crop:
                face["crop_url"] = sign(crop[0])
    return out


def sequencer_newer(a, b):
    """True when S3 sequencer `a` is later than `b` (right-pad with zeros, compare as hex text)."""
    if not a:
        return False
    if not b:
        return True
    width = max(len(a), len(b))
    return a.upper().ljust(width, "0") > b.upper().ljust(width, "0")
