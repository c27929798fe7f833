"""Removing a photo's document (and, as later features add them, what derives from it)."""
from chalicelib import logs
from chalicelib.pipeline.faces import remove_photo_faces
from chalicelib.errors import VersionConflict
from chalicelib.index.documents import sequencer_newer
from chalicelib.keys import parse_key, photo_id

WRITE_ATTEMPTS = 3


def remove_object(services, bucket, key, sequencer=None, source="event"):
    """Delete the document of `key`.  Returns (outcome, photo_id).

    A removal event older than the event that wrote the document (an object
    re-created since) leaves the document alone.  Removing what is already
    gone is fine ("absent").
    """
    if parse_key(key) is None or bucket != services.storage.bucket:
        logs.event("remove", "ignored", photo_id=None, source=source)
        return "ignored", None
    pid = photo_id(bucket, key)
    for _ in range(WRITE_ATTEMPTS):
        doc, version = services.index.get(pid)
        if doc is None:
            outcome = "absent"
            break
        if sequencer and doc.get("sequencer") and sequencer_newer(doc["sequencer"], sequencer):
            outcome = "stale"
            break
        remove_photo_faces(services, pid)   # first: a failure here leaves the document to retry with
        try:
            outcome = "removed" if services.index.delete(pid, version) else "absent"
            delete_derived(services, doc)
            break
        except VersionConflict:
            continue
    else:
        raise VersionConflict("photo %s kept changing while being removed" % pid)
    logs.event("remove", outcome, photo_id=pid, source=source)
    return outcome, pid


def delete_derived(services, doc):
    """The faces, thumbnail and face crops of a removed photo."""
    remove_photo_faces(services, doc["photo_id"])
    thumbs = doc.get("thumbnails") or {}
    for key in [thumbs.get("thumbnail")] + list(thumbs.get("faces", ())):
        if key:
            services.storage.delete(key)
