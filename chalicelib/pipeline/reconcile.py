"""Reconciliation: make the index agree with storage.

Walks the objects under ``usercontent/`` and the index's documents in the same
key order (UTF-8 byte order, which is also code point order) and merges the
two streams, holding only one page of each in memory:

- object without document, or with a document of another ETag: analyse it;
- document without object: delete it (and its faces, thumbnail and crops);
- document with a retryable failure: analyse again;
- indexed photo whose thumbnail or face crops are missing: make them again
  (the thumbnails/ listing is walked alongside, in the same order);
- then faces registered but never grouped into people are grouped.

Writes go through the index's bulk API in batches.  Before the time budget
runs out the walk stops after a flushed batch and saves the last key it
finished as a checkpoint in storage; the next run continues from there, and a
run that reaches the end clears it.
"""
import json
import time

from chalicelib import keys, logs, media, settings
from chalicelib.keys import parse_key, photo_id
from chalicelib.pipeline.indexing import analyse, needs_retry, write_thumbnails
from chalicelib.pipeline import faces as face_steps
from chalicelib.pipeline.removal import delete_derived
from chalicelib.retry import TransientError
from chalicelib.settings import PHOTO_PREFIX


class Stats(dict):
    FIELDS = ("scanned", "indexed", "removed", "retried", "failed", "skipped", "repaired", "grouped")

    def __init__(self):
        super().__init__({f: 0 for f in self.FIELDS})


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
        for (action, key, counter), outcome in zip(batch, outcomes):
            if outcome == "conflict":   # an event handler wrote newer data meanwhile
                stats["skipped"] += 1
            elif counter:
                stats[counter] += 1
            if action[0] == "put":      # the photo's faces follow the document that won
                face_steps.forget_stale(services, action[1] if outcome == "ok" else index.get(
                    action[1]["photo_id"])[0])
            done_key = max(done_key, key)
        batch = []

    thumbnails = ThumbnailWalk(storage, after) if settings.get_int("THUMBNAIL_SIZE", minimum=0) else None
    objects = storage.list(PHOTO_PREFIX, start_after=after)
    docs = _documents(index, storage.bucket, after, batch_size)
    obj, entry = next(objects, None), next(docs, None)
    complete = True
    while obj is not None or entry is not None:
        if out_of_time():
            complete = False
            break
        doc, version = entry if entry is not None else (None, None)
        if doc is None or (obj is not None and obj.key < doc["key"]):
            key, action = obj.key, _for_object(services, obj, None, None, stats)
            obj = next(objects, None)
        elif obj is None or doc["key"] < obj.key:
            key, action = doc["key"], (("delete", doc["photo_id"], version), "removed")
            delete_derived(services, doc)
            entry = next(docs, None)
        else:
            key, action = obj.key, _for_object(services, obj, doc, version, stats)
            if action is None and thumbnails is not None and doc.get("status") == "indexed":
                action = _repair_thumbnails(services, obj, doc, version, thumbnails)
            obj, entry = next(objects, None), next(docs, None)
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
        return None
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


class ThumbnailWalk:
    """The keys under thumbnails/, read in order as the objects are walked.

    thumbnails/X sorts like usercontent/X, and every key that starts with the current
    thumbnail key T (its face crops T.face-N.jpg, other photos' thumbnails T...) is read
    ahead into a small buffer; keys below T can no longer be asked for and are dropped.
    """

    def __init__(self, storage, after):
        start = keys.thumbnail_key(after) if after else ""
        self.listing = storage.list(keys.THUMBNAIL_PREFIX, start_after=start)
        self.head = next(self.listing, None)
        self.buffer = set()

    def present(self, thumb):
        while self.head is not None and (self.head.key < thumb or self.head.key.startswith(thumb)):
            self.buffer.add(self.head.key)
            self.head = next(self.listing, None)
        self.buffer = {k for k in self.buffer if k >= thumb}
        return self.buffer


def _repair_thumbnails(services, obj, doc, version, walk):
    """Make a current indexed photo's missing thumbnail or face crops again."""
    thumb = keys.thumbnail_key(obj.key)
    have = walk.present(thumb)
    expected = doc.get("thumbnails") or {}
    wanted = [expected.get("thumbnail")] + list(expected.get("faces", ())) if expected else [thumb]
    if all(k in have for k in wanted if k):
        return None
    data = services.storage.read(obj.key)
    if data is None:
        return None
    try:
        small = media.thumbnail(data, settings.get_int("THUMBNAIL_SIZE", minimum=1, maximum=2048))
        converted = media.to_jpeg(data) if doc.get("faces") else None
    except media.Corrupt:
        return None
    made = write_thumbnails(services, obj.key, small, data, converted, doc.get("faces") or [])
    logs.event("thumbnails", "repaired", photo_id=doc["photo_id"], source="reconcile")
    if made == expected:
        return (None, "repaired")
    return ("put", dict(doc, thumbnails=made), version), "repaired"
