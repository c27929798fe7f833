"""Indexing one object, idempotently and in order.

Order rules (S3 delivers events at least once and in any order):
- A document remembers the S3 ``sequencer`` of the event that wrote it.  An
  event whose sequencer is not newer is a duplicate or stale and does nothing,
  unless the document records a transient failure to retry.
- The object is read (HEAD) before analysis.  If it is gone, or its ETag is no
  longer the event's, a later event describes it: this one does nothing.
- If the stored document already describes this ETag and is final, nothing is
  analysed again (only the sequencer is recorded).
- Writes are conditional on the version read (optimistic concurrency); on a
  conflict the newer document is re-read and the rules applied again.
"""
import hashlib
import traceback
from datetime import datetime, timedelta, timezone

from chalicelib import keys, logs, media, settings
from chalicelib.pipeline import faces as face_steps
from chalicelib.analysis import ImageRejected, PhotoSource, normalize_evidence, normalize_faces, normalize_labels, \
    normalize_moderation, normalize_properties, normalize_text
from chalicelib.errors import BackendUnavailable, BadRequest, VersionConflict
from chalicelib.index import documents
from chalicelib.index.documents import STATUS_FAILED, STATUS_INDEXED, STATUS_PENDING, STATUS_UNSUPPORTED, \
    sequencer_newer
from chalicelib.keys import parse_key, photo_id
from chalicelib.retry import TransientError, call_with_retries
from chalicelib.settings import PHOTO_PREFIX
from chalicelib.storage import SNIFF_BYTES, normalize_etag, sniff_image_type

WRITE_ATTEMPTS = 3


class Outcome:
    IGNORED = "ignored"          # not a photo key, or another bucket
    DUPLICATE = "duplicate"      # this event (or an older one) was already applied
    STALE = "stale"              # a newer event already wrote the document
    GONE = "gone"                # the object no longer exists
    SUPERSEDED = "superseded"    # the object changed since this event; a later event indexes it
    UNCHANGED = "unchanged"      # the document already describes this content
    INDEXED = STATUS_INDEXED
    UNSUPPORTED = STATUS_UNSUPPORTED
    FAILED = STATUS_FAILED


def needs_retry(doc):
    """A transient failure, an analysis that never finished (a crash mid-ingest), faces
    that could not be registered, or faces from before face indexing existed."""
    status = doc.get("status")
    if status == STATUS_PENDING or (status == STATUS_FAILED and doc.get("retryable", False)):
        return True
    if status == STATUS_INDEXED and doc.get("faces"):
        return doc.get("faces_indexed") is False or ("faces_indexed" not in doc and settings.face_indexing())
    return False


def _already_applied(doc, sequencer, etag):
    """The outcome if `doc` makes an event (sequencer, etag) redundant, else None."""
    if doc is None:
        return None
    if sequencer and doc.get("sequencer"):
        if sequencer_newer(doc["sequencer"], sequencer):
            return Outcome.STALE
        if doc["sequencer"].upper() == sequencer.upper() and not needs_retry(doc):
            return Outcome.DUPLICATE
    if etag and doc.get("etag") == etag and not needs_retry(doc) and not sequencer:
        return Outcome.UNCHANGED
    return None


def index_object(services, bucket, key, etag=None, sequencer=None, deadline=None, source="event"):
    """Index `key`; returns (outcome, photo_id).  Raises TransientError when
    analysis keeps failing transiently (after recording a retryable failure)."""
    timer = logs.Timer()
    etag = normalize_etag(etag) or None
    parsed = parse_key(key)
    if parsed is None or bucket != services.storage.bucket:
        logs.event("index", Outcome.IGNORED, photo_id=None, key_length=len(key), source=source)
        return Outcome.IGNORED, None
    pid = photo_id(bucket, key)
    doc, version = services.index.get(pid)
    redundant = _already_applied(doc, sequencer, etag)
    if redundant:
        logs.event("index", redundant, photo_id=pid, source=source, ms=timer.ms)
        return redundant, pid

    info = services.storage.head(key)
    if info is None:
        logs.event("index", Outcome.GONE, photo_id=pid, source=source, ms=timer.ms)
        return Outcome.GONE, pid
    if etag and info.etag != etag:
        logs.event("index", Outcome.SUPERSEDED, photo_id=pid, source=source, ms=timer.ms)
        return Outcome.SUPERSEDED, pid

    if doc is not None and doc.get("etag") == info.etag and not needs_retry(doc):
        new = dict(doc, sequencer=sequencer or doc.get("sequencer", ""))
        outcome = _write(services, new, version, sequencer, info.etag, analysed=False)
        logs.event("index", outcome, photo_id=pid, source=source, ms=timer.ms)
        return outcome, pid

    new, error = analyse(services, parsed.owner, bucket, key, info, sequencer, doc, deadline)
    outcome = _write(services, new, version, sequencer, info.etag, analysed=True)
    if outcome == Outcome.GONE:
        face_steps.remove_photo_faces(services, pid)
    else:
        face_steps.forget_stale(services, services.index.get(pid)[0] if outcome in (
            Outcome.STALE, Outcome.SUPERSEDED) else new)
    if outcome == STATUS_INDEXED and new.get("faces_indexed"):
        face_steps.group_photo(services, pid)
    fields = dict(photo_id=pid, source=source, ms=timer.ms, status=new["status"])
    if new.get("reason"):
        fields["reason"] = new["reason"]
    logs.event("index", outcome, **fields, labels=len(new["labels"]), text_lines=len(new["text_lines"]))
    if error is not None and new.get("retryable"):
        raise error           # retried by the queue or Lambda (a failure given up on is final)
    return outcome, pid


def attempts_of(previous):
    """This analysis's attempt number: one more than the last one while it is being retried."""
    return previous.get("attempts", 0) + 1 if previous and needs_retry(previous) else 1


def retry_due(doc, now=None):
    """A retryable failure's backoff has passed (documents without `retry_at` are due)."""
    return (doc.get("retry_at") or "") <= (now or documents.now_iso())


def _give_up_or_retry(doc, attempts):
    """Cap the retries of one object: after MAX_ATTEMPTS it is `failed` for good (visible to
    its owner, never analysed again until the file changes); before that the next try waits
    RETRY_BACKOFF_SECONDS x 2^(attempts-1)."""
    limit = settings.get_int("MAX_ATTEMPTS", minimum=1, maximum=100)
    if attempts >= limit:
        doc["retryable"] = False
        doc["reason"] = "%s (gave up after %d attempts)" % (doc["reason"].replace(" (will be retried)", ""),
                                                            attempts)
        doc["retry_at"] = None
    else:
        wait = settings.get_float("RETRY_BACKOFF_SECONDS", minimum=0) * 2 ** (attempts - 1)
        doc["retry_at"] = documents.iso(datetime.now(timezone.utc) + timedelta(seconds=wait))
    return doc


def analyse(services, owner, bucket, key, info, sequencer, previous=None, deadline=None):
    """The document for the object as it is now: (doc, transient_error_or_None).

    Whatever goes wrong with this one object (a decoder bug on a hostile file, an analyzer
    error) ends in a final document, `failed` with the reason, never in an exception that
    stops a reconcile pass or the rest of an event.  Only a backend being down is raised
    (that is not the object's fault, and the work is retried as a whole)."""
    attempts = attempts_of(previous)
    try:
        new, error = _analyse(services, owner, bucket, key, info, sequencer, attempts, deadline)
    except (BackendUnavailable, VersionConflict):
        raise
    except Exception as e:   # noqa: BLE001 -- one object's failure must never stop another's
        logs.event("index", "error", photo_id=photo_id(bucket, key), error=type(e).__name__, message=str(e)[:300],
                   traceback=traceback.format_exc(limit=6)[-2000:])
        new = documents.build(photo_id(bucket, key), owner, bucket, key, info, sequencer, STATUS_FAILED,
                              reason="ProcessingError: %s: %s (will be retried)" % (type(e).__name__,
                                                                                     str(e)[:200]),
                              retryable=True, engine=getattr(services.analyzer, "engine", None), attempts=attempts)
        error = None
    if new.get("status") == STATUS_FAILED and new.get("retryable"):
        _give_up_or_retry(new, attempts)
    return new, error


def _analyse(services, owner, bucket, key, info, sequencer, attempts, deadline):
    pid = photo_id(bucket, key)

    def doc(status, labels=(), reason=None, retryable=False, content_type=None, model_version=None, text=(),
            properties=None, faces=(), moderation=None, metadata=None, thumbnails=None, evidence=()):
        described = info._replace(content_type=content_type or info.content_type)
        return documents.build(pid, owner, bucket, key, described, sequencer, status, labels, reason, retryable,
                               engine=getattr(services.analyzer, "engine", None), model_version=model_version,
                               attempts=attempts, text=text, properties=properties, faces=faces,
                               moderation=moderation, metadata=metadata, thumbnails=thumbnails, evidence=evidence)

    if info.size == 0:
        return doc(STATUS_UNSUPPORTED, reason="EmptyObject: the object has no bytes"), None
    max_bytes = settings.get_int("MAX_PHOTO_BYTES", minimum=1)
    if info.size > max_bytes:
        return doc(STATUS_UNSUPPORTED, reason="ImageTooLarge: %d bytes is over the %d byte limit"
                   % (info.size, max_bytes)), None
    data = services.storage.read(key) or b""
    try:
        metadata = media.read_metadata(data, settings.get_int("DECODE_MAX_PIXELS", minimum=1))
    except media.NotAnImage:
        metadata = None
    except ValueError as e:
        return doc(STATUS_UNSUPPORTED, reason="ImageTooLarge: %s" % e), None
    if metadata is None:
        if sniff_image_type(data[:SNIFF_BYTES]):   # a JPEG/PNG signature over bytes that do not parse
            return doc(STATUS_FAILED, reason="InvalidImageFormat: the image is corrupt or truncated"), None
        return doc(STATUS_UNSUPPORTED, reason="NotSupportedImageType: JPEG, PNG, HEIC/HEIF, WebP, GIF, TIFF "
                                              "and BMP images are analysed"), None
    content_type = sniff_image_type(data[:SNIFF_BYTES]) or "image/" + metadata["format"]
    converted = None
    try:
        # The pixels are decoded once, within DECODE_MAX_BYTES, before any analysis is paid for
        # (truncated or damaged files fail here).  That picture (`small`) makes the thumbnail,
        # the face crops and the JPEG converted for Rekognition (a format it does not take, an
        # orientation to apply, too many bytes, under 80 px: padded), and the local engine
        # analyses it.  Only Rekognition reads a converted JPEG.
        for_rekognition = getattr(services.analyzer, "engine", None) != "local" \
            or getattr(services.matcher, "engine", None) == "rekognition"
        convert = for_rekognition and (media.needs_conversion(metadata)
                                       or len(data) > settings.REKOGNITION_S3_MAX_BYTES
                                       or min(metadata["width"], metadata["height"]) < media.MIN_SIDE)
        small = media.decode(data, media.CONVERTED_SIDE if convert else media.WORKING_SIDE,
                             settings.get_int("DECODE_MAX_PIXELS", minimum=1),
                             settings.get_int("DECODE_MAX_BYTES", minimum=1))
        if convert:
            converted = small.jpeg(min_side=media.MIN_SIDE)
    except media.TooLarge as e:
        return doc(STATUS_UNSUPPORTED, reason="ImageTooLarge: %s" % e, content_type=content_type,
                   metadata=metadata), None
    except media.Corrupt as e:
        return doc(STATUS_FAILED, reason="InvalidImageFormat: the image cannot be decoded (%s)" % e,
                   content_type=content_type, metadata=metadata), None
    content_hash = hashlib.sha256(data).hexdigest()
    same = services.index.find_by_hash(owner, content_hash, exclude=pid)
    if same is not None and same.get("engine") == getattr(
            services.analyzer, "engine", None):
        # Identical bytes this owner already had analysed: reuse that analysis (not paid twice).
        faces = same.get("faces") or []
        new = doc(STATUS_INDEXED, [{k: v for k, v in lab.items() if k != "terms"} for lab in same["labels"]],
                  content_type=content_type, model_version=same.get("label_model_version"),
                  text=[{k: v for k, v in line.items() if k != "terms"} for line in same.get("text_lines") or ()],
                  properties=same.get("properties"), faces=faces, moderation=same.get("moderation"),
                  evidence=[{k: v for k, v in item.items() if k != "terms"} for item in same.get("evidence") or ()],
                  metadata=metadata, thumbnails=write_thumbnails(services, key, small,
                                                                croppable(services, owner, faces)))
        new["content_hash"], new["reused_from"] = content_hash, same["photo_id"]
        face_steps.register(services, new, _image(bucket, key, converted), deadline, vectors_from=same["photo_id"])
        return new, None
    source = PhotoSource(bucket, key, info.etag, lambda: data, converted, small)
    features = settings.features()
    min_conf = settings.get_float("MIN_CONFIDENCE", minimum=0, maximum=100)
    max_labels = settings.get_int("MAX_LABELS", minimum=1, maximum=1000)
    image = _image(bucket, key, converted)
    # With a Rekognition collection, IndexFaces finds the faces (with every attribute) and
    # registers them in one call: DetectFaces would be a second bill for the same faces.
    combined = "faces" in features and face_steps.detects_while_indexing(services, owner)
    matcher_ids = None
    try:
        result = call_with_retries(lambda: services.analyzer.analyze(
            source, tuple(f for f in features if not (combined and f == "faces")), min_conf, max_labels),
            deadline=deadline)
        if combined:
            result["FaceDetails"], matcher_ids = call_with_retries(
                lambda: services.matcher.detect_and_index(pid, image), deadline=deadline)
    except ImageRejected as e:
        return _hashed(doc(STATUS_FAILED, reason="%s: %s" % (e.code, e.reason) if e.reason != e.code else e.code,
                           content_type=content_type, metadata=metadata), content_hash), None
    except TransientError as e:
        return doc(STATUS_FAILED, reason="%s (will be retried)" % e, retryable=True,
                   content_type=content_type, metadata=metadata), e
    faces = normalize_faces(result.get("FaceDetails"))
    thumbs = write_thumbnails(services, key, small, croppable(services, owner, faces))
    new = _hashed(doc(STATUS_INDEXED, normalize_labels(result), content_type=content_type, thumbnails=thumbs,
                      model_version=result.get("LabelModelVersion"), text=normalize_text(result.get("TextDetections")),
                      properties=normalize_properties(result.get("ImageProperties")),
                      faces=faces, evidence=normalize_evidence(result),
                      moderation=normalize_moderation(result["ModerationLabels"]) if "ModerationLabels" in result
                      else None, metadata=metadata), content_hash)
    face_steps.register(services, new, image, deadline, matcher_ids=matcher_ids)
    return new, None


def _image(bucket, key, converted):
    """What Rekognition reads for this photo: the converted JPEG, or the object itself."""
    return {"bytes": converted} if converted else {"bucket": bucket, "key": key}


def _hashed(doc, content_hash):
    doc["content_hash"] = content_hash
    return doc


def croppable(services, owner, faces):
    """The faces to crop: none for an owner who opted out of face recognition (a crop of a
    face is biometric data too)."""
    if faces and services.faces is not None and services.faces.get_owner(owner).get("opted_out"):
        return []
    return faces


def write_thumbnails(services, key, picture, faces):
    """Write the thumbnail and one crop per face of the decoded media.Picture; their keys, or
    None when thumbnails are off."""
    size = settings.get_int("THUMBNAIL_SIZE", minimum=0, maximum=2048)
    if not size:
        return None
    thumb = picture.thumbnail(size)
    try:
        services.storage.write(keys.thumbnail_key(key), thumb, "image/jpeg")
    except BadRequest:
        # on disk, the older layout's thumbnail file thumbnails/<path> is where today's folder
        # goes: remove it (and its crops) and write again
        legacy = keys.THUMBNAIL_PREFIX + key[len(PHOTO_PREFIX):]
        for n in range(1, 101):
            if n > 1 and services.storage.head("%s.face-%d.jpg" % (legacy, n)) is None:
                break
            services.storage.delete("%s.face-%d.jpg" % (legacy, n))
        services.storage.delete(legacy)
        services.storage.write(keys.thumbnail_key(key), thumb, "image/jpeg")
    out = {"thumbnail": keys.thumbnail_key(key), "faces": []}
    if faces:
        boxes = [f["box"] for f in faces]
        for n, crop in enumerate(picture.face_crops(boxes), 1):
            if crop is not None:
                services.storage.write(keys.face_crop_key(key, n), crop, "image/jpeg")
                out["faces"].append(keys.face_crop_key(key, n))
    return out


def _keeps_current(current, sequencer, etag):
    """After a write conflict: does the document someone else just wrote win?"""
    if current is None:
        return False
    if sequencer and current.get("sequencer") and sequencer_newer(current["sequencer"], sequencer):
        return True           # a newer event's document, even one still waiting for its retry
    if needs_retry(current):
        return False
    if sequencer and current.get("sequencer") and not sequencer_newer(sequencer, current["sequencer"]):
        return True
    return current.get("etag") == etag


def _write(services, new, version, sequencer, etag, analysed):
    """Conditional write; on a conflict, re-read and re-apply the order rules.

    A photo removed while it was analysed stays removed: when the document is gone after a
    conflict, or the object is gone once our write landed, the document (if it is ours)
    and the files made from it are deleted and the outcome is GONE."""
    for _ in range(WRITE_ATTEMPTS):
        try:
            services.index.put(new, version)
            break
        except VersionConflict:
            current, version = services.index.get(new["photo_id"])
            now = services.storage.head(new["key"])
            if now is None and current is None:
                _drop_derived(services, new, analysed)
                return Outcome.GONE
            if now is not None and now.etag != etag:
                # the file changed while we analysed (a reconcile job has no sequencer to tell):
                # its own event or job describes it; ours must not overwrite anything
                _remake_derived(services, current, new, analysed)
                return Outcome.SUPERSEDED
            if _keeps_current(current, sequencer, etag):
                _remake_derived(services, current, new, analysed)
                return Outcome.STALE
    else:
        raise VersionConflict("photo %s kept changing while being indexed" % new["photo_id"])
    if _object_gone(services, new["key"]):
        # deleted between our HEAD and our write: its removal may have run before the write
        current, current_version = services.index.get(new["photo_id"])
        if current is not None and current.get("etag") == etag:
            try:
                services.index.delete(new["photo_id"], current_version)
            except VersionConflict:
                pass     # a newer writer owns the document now
        _drop_derived(services, new, analysed)
        return Outcome.GONE
    return new["status"] if analysed else Outcome.UNCHANGED


def _object_gone(services, key):
    """Gone, not merely changed: a changed object has a newer event that rewrites the document."""
    return services.storage.head(key) is None


def _remake_derived(services, current, ours, analysed):
    """Our analysis lost to a newer one, but its thumbnail and crops went to the same keys:
    make the winner's again from the file as it is (a no-op when the winner was not
    indexed, or is ours)."""
    if not analysed or current is None or current.get("etag") == ours.get("etag") or \
            current.get("status") != STATUS_INDEXED or not ours.get("thumbnails"):
        return
    info = services.storage.head(current["key"])
    if info is None or info.etag != current.get("etag"):
        return        # changed again: its own writer makes its files
    data = services.storage.read(current["key"])
    try:
        picture = media.decode(data or b"")
    except (media.Corrupt, media.NotAnImage, ValueError):
        return
    write_thumbnails(services, current["key"], picture, croppable(services, current["owner"],
                                                                current.get("faces") or []))
    logs.event("thumbnails", "remade", photo_id=current["photo_id"])


def _drop_derived(services, doc, analysed):
    """The thumbnail and crops this analysis wrote, when the photo turned out to be gone."""
    if analysed:
        thumbs = doc.get("thumbnails") or {}
        for key in [thumbs.get("thumbnail")] + list(thumbs.get("faces", ())):
            if key:
                services.storage.delete(key)
