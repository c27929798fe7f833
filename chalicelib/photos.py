"""What the routes do, scoped to one caller.  app.py only translates."""
from chalicelib import jobs, logs, settings
from chalicelib.errors import BackendUnavailable, BadRequest, Forbidden, NotFound, PayloadTooLarge, VersionConflict
from chalicelib.index import documents
from chalicelib.index.documents import sequencer_newer
from chalicelib.query import expand, is_empty, parse as parse_query
from chalicelib.keys import is_photo_id, photo_id, upload_key
from chalicelib.index import Page
from chalicelib.index.filters import parse as parse_filters, sort_order
from chalicelib.keys import parse_key
from chalicelib.pipeline.indexing import index_object
from chalicelib.pipeline.removal import remove_object
from chalicelib.retry import TransientError
from chalicelib.settings import UPLOAD_CONTENT_TYPES


def page_size(raw):
    default = settings.get_int("PAGE_SIZE", minimum=1)
    maximum = settings.get_int("MAX_PAGE_SIZE", minimum=1)
    if raw in (None, ""):
        return min(default, maximum)
    try:
        value = int(raw)
    except (TypeError, ValueError, OverflowError):     # (JSON's Infinity parses as a float)
        raise BadRequest("limit must be a whole number from 1 to %d" % maximum)
    if not 1 <= value <= maximum:
        raise BadRequest("limit must be a whole number from 1 to %d" % maximum)
    return value


def search(services, caller, q, limit=None, cursor=None, filters=None, sort=None):
    """The caller's photos that match what `q` says (chalicelib.query: words and what they
    mean, phrases, dates, colours, people's names) and every filter
    (chalicelib.index.filters), best first: more of the words matched first, then better
    matched.  An empty `q` lists the photos that match the filters."""
    size = page_size(limit)
    chosen = parse_filters(filters)
    if q is not None and not isinstance(q, str):
        raise BadRequest("q must be a string")
    if q and len(q) > 512:
        raise BadRequest("q is longer than 512 characters")
    parsed = parse_query(q)
    if q and q.strip() and is_empty(parsed):
        if parsed.ignored:
            raise BadRequest("q has only words that search ignores (%s): say what is in the photo, e.g. "
                             "\"cat\" or \"dog on the beach\"" % ", ".join(parsed.ignored))
        raise BadRequest("q has no searchable words")
    from chalicelib.people import resolve_names
    words, people_photos, people = resolve_names(services, caller.sub, list(parsed.words))
    parsed = parsed._replace(words=words)
    min_score = settings.get_float("SEARCH_MIN_SCORE", minimum=0, maximum=100)
    query_plan = expand.plan(parsed)
    groups = expand.index_groups(query_plan)
    order = sort_order(sort, bool(groups))
    narrowed = dict(chosen)
    for name, value in parse_filters(parsed.filters).items():    # a date phrase narrows the filters
        narrowed[name] = value if name not in chosen else \
            max(value, chosen[name]) if name == "taken_from" else min(value, chosen[name])
    if people_photos is not None:
        narrowed["photo_ids"] = people_photos
    if parsed.excluded:
        narrowed.update(without_words=list(parsed.excluded), without_min_confidence=min_score)
    if people_photos == []:
        page = Page([], None)
    elif groups:
        page = services.index.search(caller.sub, groups, size, cursor, narrowed, order, min_score=min_score)
    else:
        page = services.index.list(caller.sub, size, cursor, narrowed, order)
    photos = []
    sign = signer(services)
    for doc in page.hits:
        item = documents.public(doc, sign(doc["key"]), sign)
        if groups:
            item["matched"] = expand.explain(query_plan, doc, min_score)
            if order == "relevance":
                item["score"] = round(doc["_score"], 3) if doc.get("_score") is not None else None
        photos.append(item)
    logs.event("search", "ok", photo_id=None, owner=caller.sub, words=len(groups), hits=len(photos))
    return {"query": {"q": q or "", "words": list(parsed.words), "phrases": [" ".join(p) for p in parsed.phrases],
                      "text": list(parsed.text_words), "colors": list(parsed.colors),
                      "dates": list(parsed.date_words), "ignored": parsed.ignored,
                      "excluded": list(parsed.excluded), "people": people, "filters": chosen,
                      "date_filters": parsed.filters, "sort": order, "min_score": min_score},
            "photos": photos, "next": page.next}


def signer(services):
    """key -> a URL that reads it until PRESIGN_EXPIRY_SECONDS from now."""
    expires = settings.get_int("PRESIGN_EXPIRY_SECONDS", minimum=1, maximum=604800)
    return lambda key: services.storage.presign_get(key, expires)


def own_document(services, caller, pid):
    if not is_photo_id(pid):
        raise NotFound()
    doc, _ = services.index.get(pid)
    # Another owner's photo is answered exactly like a missing one.
    if doc is None or doc.get("owner") != caller.sub:
        raise NotFound()
    return doc


def get(services, caller, pid):
    doc = own_document(services, caller, pid)
    sign = signer(services)
    out = documents.public(doc, sign(doc["key"]), sign)
    out["label_model_version"] = doc.get("label_model_version")
    out["engine"] = doc.get("engine")
    if doc["status"] == documents.STATUS_PENDING:
        out.update(queue_state(services, doc["bucket"], doc["key"]))
    return out


def status(services, caller):
    """How many of the caller's photos are pending, indexed, unsupported, failed (and of the
    failed, how many will be retried), and the queue's length."""
    counts = services.index.status_counts(caller.sub)
    out = {"photos": sum(counts.get(s, 0) for s in documents.STATUSES),
           **{s: counts.get(s, 0) for s in documents.STATUSES}, "retrying": counts.get("retrying", 0)}
    if services.queue is not None:
        try:
            out["queue"] = {"waiting": services.queue.depth()}
        except BackendUnavailable:
            out["queue"] = None
    return out


def delete(services, caller, pid):
    doc = own_document(services, caller, pid)
    services.storage.delete(doc["key"])
    outcome, _ = remove_object(services, doc["bucket"], doc["key"], source="api")
    return {"photo_id": pid, "deleted": True, "outcome": outcome}


def create_upload(services, caller, body):
    """A presigned POST for one new object under the caller's own prefix."""
    if not isinstance(body, dict):
        raise BadRequest("send a JSON object: {\"name\": \"trips/beach.jpg\", \"content_type\": \"image/jpeg\"}")
    content_type = body.get("content_type", "image/jpeg")
    if content_type not in UPLOAD_CONTENT_TYPES:
        raise BadRequest("content_type must be one of %s" % ", ".join(UPLOAD_CONTENT_TYPES))
    key = upload_key(caller.sub, body.get("name"))
    services.storage.check_key(key)     # on disk, a photo cannot also be a folder (409 Conflict)
    max_bytes = settings.get_int("UPLOAD_MAX_BYTES", minimum=1, maximum=settings.REKOGNITION_S3_MAX_BYTES)
    expires = settings.get_int("UPLOAD_EXPIRY_SECONDS", minimum=1, maximum=604800)
    post = services.storage.presign_upload(key, content_type, max_bytes, expires)
    pid = photo_id(services.storage.bucket, key)
    logs.event("upload-url", "issued", photo_id=pid, owner=caller.sub)
    return {"photo_id": pid, "key": key, "upload": post, "max_bytes": max_bytes, "expires_in": expires}


# ---- the local stage's signed URLs (the app plays S3's part) --------------------------------

def _disk(services):
    if not hasattr(services.storage, "verify_get"):
        raise NotFound("no such route for this storage backend")
    return services.storage


def _write_pending(services, pending):
    """The `pending` document of a new upload, unless a later upload of the key already
    wrote its own (the disk store's sequencers order them, as S3's do)."""
    for _ in range(3):
        doc, version = services.index.get(pending["photo_id"])
        if doc is not None and sequencer_newer(doc.get("sequencer") or "", pending["sequencer"]):
            return
        try:
            services.index.put(pending, version)
            return
        except VersionConflict:
            continue


def queue_state(services, bucket, key):
    """Where a pending photo's job is: {"queue": {"position", "waiting"}} ({} without a queue)."""
    if services.queue is None:
        return {}
    try:
        return {"queue": {"position": services.queue.position(bucket, key), "waiting": services.queue.depth()}}
    except BackendUnavailable:
        return {}


def serve_file(services, params):
    """(bytes, content type) for a valid signed GET URL."""
    from chalicelib.storage.disk import InvalidSignature, content_type_of
    storage = _disk(services)
    try:
        key = storage.verify_get(params or {})
    except InvalidSignature:
        raise Forbidden()
    data = storage.read(key)
    if data is None:
        raise NotFound("no such object")
    return data, content_type_of(data)


def check_upload(storage, params, content_type, size=None):
    """(key, max_bytes) of a signed PUT that may be stored: a valid signature (else 403), the
    Content-Type it was signed for (400), 1 to max_bytes bytes (400, 413).  `size` None: not
    known yet, only the signature and the type are checked.  The local server's front end
    (chalicelib.localhttp) calls it with the announced Content-Length before reading any of
    the body; receive_upload calls it again with the length of the body it got."""
    from chalicelib.storage.disk import InvalidSignature
    try:
        key, signed_type, max_bytes = storage.verify_put(params or {})
    except (InvalidSignature, TypeError, ValueError):
        raise Forbidden()
    if (content_type or "").split(";")[0].strip() != signed_type:
        raise BadRequest("Content-Type must be %s, as signed" % signed_type)
    if size is not None and size <= 0:
        raise BadRequest("the upload is empty")
    if size is not None and size > max_bytes:
        raise PayloadTooLarge("the upload is %d bytes; this URL allows %d" % (size, max_bytes))
    return key, max_bytes


def receive_upload(services, params, body, content_type):
    """Store the body of a valid signed PUT and queue its analysis, as the S3 event would;
    the answer comes once the bytes are stored (`pending`; GET /photos/{id} says when it is
    done).  Without a queue (QUEUE_BACKEND=inline) the photo is analysed before answering.
    A crash between storing and queueing is repaired by the reconciler."""
    storage = _disk(services)
    key, _ = check_upload(storage, params, content_type, len(body or b""))
    info = storage.write(key, body)
    pid = photo_id(storage.bucket, key)
    pending = documents.build(pid, parse_key(key).owner, storage.bucket, key, info, info.sequencer,
                              documents.STATUS_PENDING)
    pending["queued_at"] = documents.now_iso()
    _write_pending(services, pending)
    if services.queue is not None:
        services.queue.send([jobs.index_job(storage.bucket, key, info.etag, info.sequencer, source="upload")])
        logs.event("index", "queued", photo_id=pid, source="upload")
        return {"photo_id": pid, "key": key, "status": documents.STATUS_PENDING,
                **queue_state(services, storage.bucket, key)}
    try:
        index_object(services, storage.bucket, key, etag=info.etag, sequencer=info.sequencer, source="upload")
    except TransientError:
        pass  # recorded as failed (retryable); the reconciler tries again
    doc, _ = services.index.get(pid)
    out = {"photo_id": pid, "key": key, "status": doc["status"] if doc else documents.STATUS_PENDING}
    if doc and doc.get("reason"):
        out["reason"] = doc["reason"]
    return out
