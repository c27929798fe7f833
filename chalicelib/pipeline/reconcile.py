"""Reconciliation: make the index agree with storage.

Walks the objects under ``usercontent/`` and the index's documents in the same
key order (UTF-8 byte order, which is also code point order) and merges the
two streams, holding only one page of each in memory:

- object without document, or with a document of another ETag: analyse it
  (with a job queue: write a `pending` document and queue a job; the pass is
  then a cheap diff and the workers analyse in parallel);
- document without object: delete it (and its faces, thumbnail and crops);
- document with a retryable failure: analyse again;
- indexed photo whose search terms are older than chalicelib.index.terms (``terms_version``):
  derive them again from the stored document (no analysis);
- indexed photo whose thumbnail or face crops are missing: make them again
  (the thumbnails/ listing is walked alongside, see DerivedWalk); derived files
  whose photo is gone are deleted at the end of a complete pass;
- one photo's failure (any exception) is logged and counted in ``errors``; the
  pass goes on.  A backend that is down stops the pass (the checkpoint keeps
  what was written);
- then faces registered but never grouped into people are grouped.

Writes go through the index's bulk API in batches.  Before the time budget
runs out the walk stops after a flushed batch and saves the last key it
finished as a checkpoint in storage; the next run continues from there, and a
run that reaches the end clears it.
"""
import json
import time
from datetime import datetime, timedelta, timezone

from chalicelib import jobs, keys, logs, media, settings
from chalicelib.index import documents
from chalicelib.keys import parse_key, photo_id
from chalicelib.pipeline.indexing import analyse, croppable, needs_retry, retry_due, write_thumbnails
from chalicelib.pipeline import faces as face_steps
from chalicelib.pipeline.removal import delete_derived
from chalicelib.errors import BackendUnavailable
from chalicelib.retry import TransientError
from chalicelib.settings import PHOTO_PREFIX


class Stats(dict):
    FIELDS = ("scanned", "indexed", "queued", "removed", "retried", "failed", "skipped", "repaired", "grouped",
              "errors", "orphans")

    def __init__(self):
        super().__init__({f: 0 for f in self.FIELDS})


def _guarded(stream, what):
    """A listing that fails ends the pass (BackendUnavailable), never looks like its end:
    documents past a broken storage listing would otherwise look like photos that are gone."""
    try:
        yield from stream
    except BackendUnavailable:
        raise
    except Exception as e:   # noqa: BLE001
        raise BackendUnavailable("the %s listing failed: %s: %s" % (what, type(e).__name__, e))


def _documents(index, bucket, after_key, page_size):
    while True:
        page = index.scan(bucket, after_key, page_size)
        yield from page
        if len(page) < page_size:
            return
        after_key = page[-1][0]["key"]


def load_checkpoint(storage):
    raw = storage.read_state(settings.get("RECONCILE_STATE_KEY"))
    if not raw:
        return ""
    try:
        return json.loads(raw).get("after", "")
    except ValueError:
        return ""


def save_checkpoint(storage, after):
    storage.write_state(settings.get("RECONCILE_STATE_KEY"),
                        json.dumps({"after": after, "saved_at": time.time()}))


def reconcile(services, time_left=None, progress=None, restart=False, safety=None):
    """Run one reconciliation pass.

    `time_left()` returns the seconds this run may still use (None: no limit);
    the run stops when fewer than `safety` seconds remain (default
    RECONCILE_SAFETY_SECONDS, the margin a Lambda needs to finish cleanly,
    capped at a fifth of the budget the run starts with).
    `progress(stats, key)` is called after every object or document.
    Returns the stats, with ``complete`` (reached the end) and ``elapsed``.
    """
    storage, index = services.storage, services.index
    start = time.monotonic()
    if safety is None:
        safety = settings.get_float("RECONCILE_SAFETY_SECONDS", minimum=0)
        if time_left is not None:  # never more than a fifth of the whole budget
            safety = min(safety, time_left() * 0.2)
    batch_size = settings.get_int("RECONCILE_BATCH_SIZE", minimum=1, maximum=1000)
    after = "" if restart else load_checkpoint(storage)
    stats, batch, done_key = Stats(), [], after

    def out_of_time():
        return time_left is not None and time_left() < safety

    def flush():
        nonlocal batch, done_key
        if not batch:
            return
        outcomes = index.bulk([action for action, _, _ in batch])
        send = []
        for (action, key, counter), outcome in zip(batch, outcomes):
            if outcome == "conflict":   # an event handler wrote newer data meanwhile
                stats["skipped"] += 1
            elif counter:
                stats[counter] += 1
            if counter == "queued":     # the pending document is written: now the job
                if outcome == "ok":
                    send.append(jobs.index_job(storage.bucket, key, action[1]["etag"], source="reconcile"))
            elif action[0] == "put":    # the photo's faces follow the document that won
                face_steps.forget_stale(services, action[1] if outcome == "ok" else index.get(
                    action[1]["photo_id"])[0])
            done_key = max(done_key, key)
        if send:
            services.queue.send(send)
        batch = []

    derived = DerivedWalk(storage, after) if settings.get_int("THUMBNAIL_SIZE", minimum=0) else None
    objects = _guarded(storage.list(PHOTO_PREFIX, start_after=after), "storage")
    docs = _guarded(_documents(index, storage.bucket, after, batch_size), "index")
    obj, entry = next(objects, None), next(docs, None)
    complete = True
    while obj is not None or entry is not None:
        if out_of_time():
            complete = False
            break
        doc, version = entry if entry is not None else (None, None)
        try:
            if doc is None or (obj is not None and obj.key < doc["key"]):
                key, current = obj.key, obj
                obj = next(objects, None)
                if derived is not None:
                    derived.take(current.key)
                action = _for_object(services, current, None, None, stats)
            elif obj is None or doc["key"] < obj.key:
                key = doc["key"]
                entry = next(docs, None)
                action = (("delete", doc["photo_id"], version), "removed")
                delete_derived(services, doc)
            else:
                key, current = obj.key, obj
                obj, entry = next(objects, None), next(docs, None)
                have = derived.take(current.key) if derived is not None else None
                action = _for_object(services, current, doc, version, stats)
                if action is None and have is not None and doc.get("status") == "indexed":
                    action = _repair_thumbnails(services, current, doc, version, have)
        except BackendUnavailable:
            raise           # the backend is down: stop; the checkpoint holds what was flushed
        except Exception as e:   # noqa: BLE001 -- one photo never stops the pass
            logs.event("reconcile", "error", photo_id=photo_id(storage.bucket, key), error=type(e).__name__,
                       message=str(e)[:300])
            stats["errors"] += 1
            action = None
        stats["scanned"] += 1
        if action is not None and action[0] is None:      # files repaired, document unchanged
            stats[action[1]] += 1
            done_key = max(done_key, key)
        elif action is not None:
            (op, counter) = action
            batch.append((op, key, counter))
        else:
            done_key = max(done_key, key)
        if len(batch) >= batch_size:
            flush()
            save_checkpoint(storage, done_key)
        if progress:
            progress(stats, key)
    flush()
    save_checkpoint(storage, "" if complete else done_key)
    if derived is not None and complete:
        try:
            stats["orphans"] = derived.finish()
        except Exception as e:   # noqa: BLE001 -- tidying up; the next pass tries again
            logs.event("reconcile", "orphans-error", photo_id=None, error=type(e).__name__, message=str(e)[:300])
    if not out_of_time():
        # faces registered but never grouped (photos indexed above, or a crash in between)
        stats["grouped"] = face_steps.group_waiting(services)
    stats["complete"] = complete
    stats["elapsed"] = round(time.monotonic() - start, 3)
    logs.event("reconcile", "complete" if complete else "paused", photo_id=None, resume_after_set=not complete,
               **{k: stats[k] for k in Stats.FIELDS}, elapsed=stats["elapsed"])
    return stats


def _for_object(services, obj, doc, version, stats):
    """The bulk action for one object (None when its document is current)."""
    parsed = parse_key(obj.key)
    if parsed is None:
        return None
    if doc is not None and doc.get("etag") == obj.etag and not needs_retry(doc):
        if doc.get("terms_version") != documents.TERMS_VERSION and doc.get("status") == documents.STATUS_INDEXED:
            # indexed before today's search terms: derive them again from the stored document
            full, current = services.index.get(doc["photo_id"])
            if full is not None and current == version:
                return ("put", documents.with_current_terms(full), version), "repaired"
        return None
    if doc is not None and doc.get("etag") == obj.etag and not retry_due(doc):
        return None         # a failed object waiting out its backoff
    if services.queue is not None:
        return _queue_object(services, obj, parsed, doc, version)
    info = services.storage.head(obj.key)
    if info is None:  # deleted while we walked: its removal event handles it
        return None
    new, error = analyse(services, parsed.owner, services.storage.bucket, obj.key, info,
                         doc.get("sequencer", "") if doc and doc.get("etag") == info.etag else "", doc)
    pid = photo_id(services.storage.bucket, obj.key)
    if isinstance(error, TransientError):
        counter = "failed"
    elif doc is not None and needs_retry(doc):
        counter = "retried"
    else:
        counter = "indexed"
    logs.event("index", new["status"], photo_id=pid, source="reconcile", reason=new.get("reason"))
    return ("put", new, version), counter


def _queue_object(services, obj, parsed, doc, version):
    """With a job queue the pass only diffs: the photo gets a `pending` document (its owner
    sees it waiting; the next pass does not queue it again while the job is young) and,
    once that is written, a job."""
    now = documents.now_iso()
    if doc is not None and doc.get("etag") == obj.etag and doc.get("queued_at") and \
            doc["queued_at"] > documents.iso(datetime.now(timezone.utc) - timedelta(
                seconds=settings.get_float("QUEUE_REQUEUE_SECONDS", minimum=0))) and not (
            getattr(services.queue, "knows_positions", False)
            and services.queue.position(services.storage.bucket, obj.key) is None):
        return None         # queued recently: its job is still on its way (a queue that can tell says so)
    if doc is not None and doc.get("etag") == obj.etag:
        pending = dict(doc, queued_at=now)           # a retry: the document keeps its attempts
    else:
        pending = documents.build(photo_id(services.storage.bucket, obj.key), parsed.owner, services.storage.bucket,
                                  obj.key, obj, "", documents.STATUS_PENDING)
        pending["queued_at"] = now
    return ("put", pending, version), "queued"


class DerivedWalk:
    """The keys under thumbnails/, read in order alongside the photos.

    A photo's derived files sit in thumbnails/<path>/ (keys.derived_folder).  Listing order
    and photo order differ only where one photo's path is a prefix of another's ("a" and
    "a.jpg": the folder "a/" sorts after "a.jpg/"), so keys are read ahead into a buffer
    keyed by photo until the listing passes the current photo's folder.  Buffered keys of
    photos the walk has passed without asking are orphans (their photo is gone): deleted
    when the pass completes, after checking the photo really is gone.
    """

    def __init__(self, storage, after):
        self.storage = storage
        self.listing = storage.list(keys.THUMBNAIL_PREFIX, start_after=keys.derived_folder(after) if after else "")
        self.head = next(self.listing, None)
        self.buffer = {}            # photo key -> set of its derived keys read so far
        self.orphans = []

    def take(self, photo_key):
        """The derived keys present for `photo_key` (each photo asks once, in photo order)."""
        folder = keys.derived_folder(photo_key)
        while self.head is not None and (self.head.key < folder or self.head.key.startswith(folder)):
            owner = keys.photo_of_derived(self.head.key)
            if owner is None or owner < photo_key:
                if owner is not None:
                    self.orphans.append(self.head.key)
            else:
                self.buffer.setdefault(owner, set()).add(self.head.key)
            self.head = next(self.listing, None)
        for passed in [k for k in self.buffer if k < photo_key]:
            self.orphans.extend(self.buffer.pop(passed))
        return self.buffer.pop(photo_key, set())

    def finish(self):
        """Delete orphans: derived files whose photo no longer exists.  Returns how many."""
        while self.head is not None:
            if keys.photo_of_derived(self.head.key) is not None:
                self.orphans.append(self.head.key)
            self.head = next(self.listing, None)
        for leftover in self.buffer.values():
            self.orphans.extend(leftover)
        deleted = 0
        for key in self.orphans:
            if self.storage.head(keys.photo_of_derived(key)) is None:
                self.storage.delete(key)
                deleted += 1
        return deleted


def _repair_thumbnails(services, obj, doc, version, have):
    """Make a current indexed photo's missing thumbnail or face crops again (also moving
    files of the older layout, thumbnails/<path> and <path>.face-N.jpg, to today's)."""
    expected = doc.get("thumbnails") or {}
    wanted = [expected.get("thumbnail")] + list(expected.get("faces", ())) if expected else [
        keys.thumbnail_key(obj.key)]
    if all(k in have for k in wanted if k):
        return None
    data = services.storage.read(obj.key)
    if data is None:
        return None
    try:
        picture = media.decode(data)      # once, for the thumbnail and the crops
    except (media.Corrupt, media.NotAnImage, ValueError):
        return None
    made = write_thumbnails(services, obj.key, picture, croppable(services, doc["owner"], doc.get("faces") or []))
    made = made or {}
    for old in [expected.get("thumbnail")] + list(expected.get("faces", ())):
        if old and old not in [made.get("thumbnail")] + list(made.get("faces", ())):
            services.storage.delete(old)
    logs.event("thumbnails", "repaired", photo_id=doc["photo_id"], source="reconcile")
    if made == expected:
        return (None, "repaired")
    return ("put", dict(doc, thumbnails=made), version), "repaired"
