"""The photo pipeline's face steps: register a photo's faces, group them, remove them.

A photo's faces are registered before its document is written (the document then
carries each face's ``face_id`` and ``faces_indexed``), and grouped after it is
written.  ``faces_indexed`` is True (registered), False (a transient failure: the
reconciler analyses the photo again) or None (no faces, face indexing off, or the
owner opted out).  Embeddings never stay in the photo document: they live in the
face store only, so an opt-out or a deletion leaves no biometric data behind.
"""
from chalicelib import logs, settings
from chalicelib.faces import face_id
from chalicelib.faces.grouping import group_faces
from chalicelib.index.documents import now_iso
from chalicelib.keys import face_crop_number
from chalicelib.retry import TransientError, call_with_retries


def enabled(services):
    return services.faces is not None and services.matcher is not None and settings.face_indexing()


def indexing_for(services, owner):
    """Face indexing is on for this owner (on in the deployment, not opted out)."""
    return enabled(services) and not services.faces.get_owner(owner).get("opted_out")


def detects_while_indexing(services, owner):
    """The matcher finds the faces itself as it registers them (a Rekognition collection)."""
    return getattr(services.matcher, "detects_while_indexing", False) and indexing_for(services, owner)


def register(services, doc, image, deadline=None, vectors_from=None, matcher_ids=None):
    """Register `doc`'s faces (before `doc` is written); returns the new face records.

    `image` is what the matcher reads (``{"bucket", "key"}`` or ``{"bytes"}``);
    `vectors_from`: a photo id whose stored embeddings to reuse (identical bytes);
    `matcher_ids`: the faces are already in the matcher (detect_and_index), with these ids."""
    faces = doc.get("faces") or []
    vectors = [f.pop("embedding", None) for f in faces]
    pid = doc["photo_id"]
    # matcher_ids come from detect_and_index, which only runs when indexing is on for the owner
    if not faces or (matcher_ids is None and not indexing_for(services, doc["owner"])):
        doc["faces_indexed"] = None      # earlier faces of the photo go once the document is written
        return []
    if vectors_from and not any(vectors):
        stored = {f["n"]: f.get("embedding") for f in services.faces.faces_of_photo(vectors_from,
                                                                                    with_embeddings=True)}
        vectors = [stored.get(n) for n in range(1, len(faces) + 1)]
    ids = [face_id(pid, doc.get("etag"), n) for n in range(1, len(faces) + 1)]
    old = {f["face_id"]: f for f in services.faces.faces_of_photo(pid)}
    same = set(old) == set(ids)        # the same faces again: keep their people and corrections
    # Faces of another version of the photo stay until its new document is written (then
    # forget_stale removes what that document does not list): a lost write race leaves the
    # winner's faces intact.
    if matcher_ids is not None:
        replaced = [f.get("matcher_id") for f in old.values() if f.get("matcher_id") not in matcher_ids]
        if same and any(replaced):              # the same faces, registered again under new ids
            try:
                call_with_retries(lambda: services.matcher.remove(replaced), deadline=deadline)
            except TransientError as e:         # left in the collection, matched by no record
                logs.event("faces", "orphaned", photo_id=pid, error=str(e), faces=len(replaced))
    elif same and (services.matcher.engine == "local" or all(f.get("matcher_id") for f in old.values())):
        matcher_ids = [old[i].get("matcher_id") for i in ids]
    else:
        try:
            matcher_ids = call_with_retries(lambda: services.matcher.index(doc, image, faces), deadline=deadline)
        except TransientError as e:
            logs.event("faces", "failed", photo_id=pid, error=str(e), retryable=True)
            doc["faces_indexed"] = False
            return []
    crops = (doc.get("thumbnails") or {}).get("faces") or []
    records = []
    for n, (face, fid, mid, vector) in enumerate(zip(faces, ids, matcher_ids, vectors), 1):
        prev = old.get(fid, {})
        crop = [k for k in crops if face_crop_number(k) == n]
        records.append({
            "face_id": fid, "owner": doc["owner"], "photo_id": pid, "n": n, "box": face["box"],
            "confidence": face.get("confidence"), "crop_key": crop[0] if crop else None,
            "person_id": prev.get("person_id"), "assigned_by": prev.get("assigned_by"),
            "rejected": prev.get("rejected", []), "grouped": prev.get("grouped", False), "matcher_id": mid,
            "created_at": prev.get("created_at") or now_iso(), "embedding": vector,
        })
        face["face_id"] = fid
        if mid:
            face["rekognition_face_id"] = mid
    services.faces.put_faces(records)
    if services.faces.get_owner(doc["owner"]).get("opted_out"):
        # the owner opted out while this photo was being registered: their choice wins
        remove_photo_faces(services, pid)
        for face in faces:
            face.pop("face_id", None)
            face.pop("rekognition_face_id", None)
        doc["faces_indexed"] = None
        return []
    doc["faces_indexed"] = True
    logs.event("faces", "registered", photo_id=pid, faces=len(records))
    return [r for r in records if not r["grouped"]]


def group_photo(services, pid):
    """Group the photo's faces that grouping has not seen yet (after its document is written)."""
    if enabled(services):
        group(services, [f for f in services.faces.faces_of_photo(pid) if not f.get("grouped")])


def group(services, records):
    """Group new faces into people; a failure leaves them for the reconciler's sweep."""
    if not records:
        return
    try:
        group_faces(services.faces, services.matcher, records)
    except TransientError as e:
        logs.event("group", "failed", photo_id=records[0]["photo_id"], error=str(e), retryable=True)


def group_waiting(services, limit=200):
    """Faces registered but never grouped (a crash or a failure in between): group them now."""
    if not enabled(services):
        return 0
    pending = services.faces.ungrouped(limit)
    by_owner = {}
    for face in pending:
        by_owner.setdefault(face["owner"], []).append(face)
    for faces in by_owner.values():
        group(services, faces)
    return len(pending)


def remove_photo_faces(services, pid):
    """Delete a photo's faces everywhere (collection, face store) and people left empty."""
    if services.faces is None:
        return 0
    records = services.faces.faces_of_photo(pid)
    if not records:
        return 0
    if services.matcher is not None:
        call_with_retries(lambda: services.matcher.remove([r.get("matcher_id") for r in records]))
    services.faces.delete_faces([r["face_id"] for r in records])
    drop_empty_people(services, records[0]["owner"], {r.get("person_id") for r in records} - {None})
    logs.event("faces", "removed", photo_id=pid, faces=len(records))
    return len(records)


def drop_empty_people(services, owner, person_ids):
    if not person_ids:
        return
    counts = services.faces.person_counts(owner, list(person_ids))
    for pid in person_ids:
        if pid not in counts:
            services.faces.delete_person(pid)


def forget_stale(services, doc):
    """After a photo's document is written (or another one won the race): drop the photo's
    face records that document does not list.  A document still waiting for a retry keeps
    them (the retry registers the same faces again, with their corrections)."""
    if services.faces is None or doc is None:
        return
    if doc.get("status") == "pending" or (doc.get("status") == "failed" and doc.get("retryable")):
        return
    keep = {f.get("face_id") for f in doc.get("faces") or ()}
    stale = [r for r in services.faces.faces_of_photo(doc["photo_id"]) if r["face_id"] not in keep]
    if stale:
        if services.matcher is not None:
            call_with_retries(lambda: services.matcher.remove([r.get("matcher_id") for r in stale]))
        services.faces.delete_faces([r["face_id"] for r in stale])
        drop_empty_people(services, doc["owner"], {r.get("person_id") for r in stale} - {None})
