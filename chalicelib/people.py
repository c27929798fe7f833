"""What the face and people routes do, scoped to one caller.  app.py only translates.

Every lookup checks the owner: another owner's face, person or photo is answered
exactly like a missing one (404), and similarity searches only ever return the
caller's own faces (chalicelib.faces).
"""
import base64
import binascii

from chalicelib import logs, media, settings
from chalicelib.analysis import ImageRejected
from chalicelib.errors import BackendUnavailable, BadRequest, NotFound, VersionConflict
from chalicelib.faces import FaceIndexingOff, SamePhotoConflict, is_id, match_boxes
from chalicelib.faces.grouping import new_person
from chalicelib.index import documents
from chalicelib.index.terms import query_words
from chalicelib.keys import BIDI_CONTROLS
from chalicelib.photos import own_document, page_size, signer
from chalicelib.pipeline import faces as face_steps
from chalicelib.retry import TransientError, call_with_retries

MAX_NAME = 100
MAX_PEOPLE_PHOTOS = 65536    # photos one people search can narrow to (OpenSearch's terms limit)


# ---- helpers ----------------------------------------------------------------------------

def _ready(services, caller):
    if not face_steps.enabled(services):
        raise FaceIndexingOff("face indexing is turned off in this deployment (FACE_INDEXING=off, or the "
                              "faces feature is not in ANALYSIS_FEATURES)")
    if services.faces.get_owner(caller.sub).get("opted_out"):
        raise FaceIndexingOff("you turned face indexing off (DELETE /faces); POST /faces/opt-in turns it back on")


def _threshold(raw, setting="FACE_MATCH_THRESHOLD"):
    if raw in (None, ""):
        return settings.get_float(setting, minimum=0, maximum=100)
    try:
        value = float(raw)
    except (TypeError, ValueError):
        value = -1
    if not 0 <= value <= 100:
        raise BadRequest("threshold must be a similarity from 0 to 100")
    return value


def _own_face(services, caller, fid):
    face = services.faces.get_face(fid) if is_id(fid) else None
    if face is None or face["owner"] != caller.sub:
        raise NotFound("No such face.")
    return face


def _own_person(services, caller, pid):
    person = services.faces.get_person(pid) if is_id(pid) else None
    if person is None or person["owner"] != caller.sub:
        raise NotFound("No such person.")
    return person


def _matcher_call(fn):
    try:
        return call_with_retries(fn, attempts=2)
    except ImageRejected as e:
        raise BadRequest("the image was refused: %s" % e)
    except TransientError as e:
        raise BackendUnavailable("face matching is not answering (%s); try again" % e.code)


def _photo_image(services, doc):
    """The image a matcher reads for a stored photo."""
    metadata = doc.get("metadata") or {}
    if services.matcher.engine == "rekognition" and not media.needs_conversion(metadata) \
            and (doc.get("size") or 0) <= settings.REKOGNITION_S3_MAX_BYTES:
        return {"bucket": doc["bucket"], "key": doc["key"]}
    data = services.storage.read(doc["key"])
    if data is None:
        raise NotFound("No such photo.")
    if services.matcher.engine == "rekognition":
        data = media.to_jpeg(data)
    return {"bytes": data}


def _person_ref(services, person_id, cache):
    if not person_id:
        return None
    if person_id not in cache:
        person = services.faces.get_person(person_id)
        cache[person_id] = {"person_id": person_id, "name": person.get("name")} if person else None
    return cache[person_id]


def _photos_by_similarity(services, caller, scored, limit, first=None):
    """[(face, similarity)] -> the photos, best similarity first (photo `first` ahead of its
    ties, then by photo id), each with its best face."""
    best = {}
    for face, sim in scored:
        if face["photo_id"] not in best or sim > best[face["photo_id"]][1]:
            best[face["photo_id"]] = (face, sim)
    ranked = sorted(best.values(), key=lambda fs: (-fs[1], fs[0]["photo_id"] != first, fs[0]["photo_id"]))[:limit]
    if not ranked:
        return []
    ids = [f["photo_id"] for f, _ in ranked]
    page = services.index.list(caller.sub, len(ids), None, {"photo_ids": ids}, "newest")
    docs = {d["photo_id"]: d for d in page.hits}
    sign = signer(services)
    out = []
    for face, sim in ranked:
        doc = docs.get(face["photo_id"])
        if doc is not None:
            out.append({"photo_id": doc["photo_id"], "similarity": sim, "face_id": face["face_id"],
                        "face_box": face["box"], "photo": documents.public(doc, sign(doc["key"]), sign)})
    return out


# ---- faces ------------------------------------------------------------------------------

def photo_faces(services, caller, pid):
    doc = own_document(services, caller, pid)
    records = {r["n"]: r for r in services.faces.faces_of_photo(pid)} if services.faces else {}
    public = documents.public(doc, None, signer(services))
    cache, faces = {}, []
    for n, face in enumerate(public.get("faces") or (), 1):
        record = records.get(n)
        if record:
            face["face_id"] = record["face_id"]
            face["person"] = _person_ref(services, record.get("person_id"), cache)
        faces.append(face)
    return {"photo_id": pid, "faces": faces, "faces_indexed": doc.get("faces_indexed")}


def face_photos(services, caller, fid, threshold=None, limit=None):
    """The caller's photos of the person with this face, most similar first."""
    _ready(services, caller)
    size, threshold = page_size(limit), _threshold(threshold)
    face = _own_face(services, caller, fid)
    scored = _matcher_call(lambda: services.matcher.neighbours(face, threshold, max(size * 4, 100)))
    photos = _photos_by_similarity(services, caller, [(face, 100.0)] + scored, size, first=face["photo_id"])
    return {"face_id": fid, "threshold": threshold, "photos": photos}


def search_faces(services, caller, body):
    """Matching photos for an image ({"image": base64}) or a stored face ({"face_id"} or
    {"photo_id", "face": n})."""
    _ready(services, caller)
    if not isinstance(body, dict):
        raise BadRequest('send {"image": "<base64 JPEG or PNG>"}, {"face_id": "..."} or '
                         '{"photo_id": "...", "face": 1}')
    size, threshold = page_size(body.get("limit")), _threshold(body.get("threshold"))
    if body.get("image") is not None:
        image = _uploaded_image(body["image"], services.matcher.engine)
        box, scored = _matcher_call(lambda: services.matcher.search_image(caller.sub, image, threshold, size * 4))
        return {"searched_face": box, "threshold": threshold,
                "photos": _photos_by_similarity(services, caller, scored, size)}
    if body.get("face_id") is not None:
        face = _own_face(services, caller, body["face_id"])
    elif body.get("photo_id") is not None:
        own_document(services, caller, body["photo_id"])
        faces = services.faces.faces_of_photo(body["photo_id"])
        n = body.get("face", 1)
        if not isinstance(n, int) or isinstance(n, bool):
            raise BadRequest("face must be the face's number in the photo (1, 2, ...)")
        face = next((f for f in faces if f["n"] == n), None)
        if face is None:
            raise NotFound("No such face in this photo (faces are numbered from 1; this photo has %d)" % len(faces))
    else:
        raise BadRequest("send image, face_id, or photo_id (with face)")
    out = face_photos(services, caller, face["face_id"], threshold, size)
    out["searched_face"] = face["box"]
    return out


def _uploaded_image(raw, engine):
    if not isinstance(raw, str):
        raise BadRequest("image must be a base64 string")
    limit = settings.get_int("FACE_SEARCH_IMAGE_MAX_BYTES", minimum=1)
    if len(raw) > limit * 4 // 3 + 4:
        raise BadRequest("image is larger than %d bytes" % limit)
    try:
        data = base64.b64decode(raw, validate=True)
    except (binascii.Error, ValueError):
        raise BadRequest("image is not valid base64")
    try:
        metadata = media.read_metadata(data, settings.get_int("DECODE_MAX_PIXELS", minimum=1))
    except (media.NotAnImage, ValueError):
        metadata = None
    if metadata is None:
        raise BadRequest("image is not a picture this service reads (JPEG, PNG, HEIC, WebP, GIF, TIFF, BMP)")
    if engine == "rekognition" and metadata["format"] not in ("jpeg", "png"):
        try:
            data = media.to_jpeg(data)
        except media.Corrupt as e:
            raise BadRequest("image cannot be decoded (%s)" % e)
    return {"bytes": data}


def compare_faces(services, caller, body):
    """The largest face of the source photo against every face of the target photo."""
    _ready(services, caller)
    if not isinstance(body, dict) or not body.get("source") or not body.get("target"):
        raise BadRequest('send {"source": "<photo id>", "target": "<photo id>"}')
    threshold = _threshold(body.get("threshold"))
    source, target = own_document(services, caller, body["source"]), own_document(services, caller, body["target"])
    result = _matcher_call(lambda: services.matcher.compare(_photo_image(services, source),
                                                            _photo_image(services, target), threshold))
    source_records = services.faces.faces_of_photo(source["photo_id"])
    target_records = services.faces.faces_of_photo(target["photo_id"])

    def named(boxes, records):
        pairs = match_boxes(boxes, [r["box"] for r in records])
        return [records[j]["face_id"] if j is not None else None for j in pairs]

    src = result["source_face"]
    src_id = named([src], source_records)[0] if src else None
    match_ids = named([b for b, _ in result["matches"]], target_records)
    unmatched_ids = named(result["unmatched"], target_records)
    return {"threshold": threshold,
            "source": {"photo_id": source["photo_id"], "face": {"box": src, "face_id": src_id}},
            "target": {"photo_id": target["photo_id"]},
            "matches": [{"box": b, "similarity": s, "face_id": i} for (b, s), i in zip(result["matches"], match_ids)],
            "unmatched": [{"box": b, "face_id": i} for b, i in zip(result["unmatched"], unmatched_ids)]}


def forget(services, caller):
    """Biometric opt-out: every face, person and collection entry of the caller goes, and no
    new face is registered until the caller opts in again."""
    if services.faces is None:
        raise FaceIndexingOff()
    services.faces.put_owner({"owner": caller.sub, "opted_out": True})     # first: no new registrations
    records = services.faces.faces(caller.sub)
    people = services.faces.people(caller.sub)
    if services.matcher is not None:
        _matcher_call(lambda: services.matcher.remove([r.get("matcher_id") for r in records]))
    services.faces.delete_owner(caller.sub)
    cleaned = _strip_documents(services, caller.sub)
    logs.event("faces", "opted-out", photo_id=None, owner=caller.sub, faces=len(records), people=len(people))
    return {"deleted_faces": len(records), "deleted_people": len(people), "photos_cleaned": cleaned,
            "opted_out": True}


def _strip_documents(services, owner):
    """Face ids (and embeddings of documents from before face indexing) out of the photos,
    and the face crops deleted."""
    cleaned, cursor = 0, None
    while True:
        page = services.index.list(owner, 100, cursor, {"has_faces": True}, "newest")
        for hit in page.hits:
            for _ in range(3):
                doc, version = services.index.get(hit["photo_id"])
                if doc is None:
                    break
                private = ("face_id",) + documents.INTERNAL_FACE_FIELDS
                thumbs = doc.get("thumbnails") or {}
                crops = list(thumbs.get("faces") or ())
                if not doc.get("faces_indexed") and not crops and \
                        not any(k in f for f in doc["faces"] for k in private):
                    break
                doc = dict(doc, faces=[{k: v for k, v in f.items() if k not in private}
                                       for f in doc["faces"]], faces_indexed=None,
                           thumbnails=dict(thumbs, faces=[]) if thumbs else thumbs)
                try:
                    services.index.put(doc, version)
                    cleaned += 1
                except VersionConflict:   # changed meanwhile: read it again
                    continue
                for crop in crops:        # a crop of a face is biometric data too
                    services.storage.delete(crop)
                break
        if not page.next:
            return cleaned
        cursor = page.next


def opt_in(services, caller):
    if services.faces is None:
        raise FaceIndexingOff()
    services.faces.put_owner({"owner": caller.sub, "opted_out": False})
    return {"opted_out": False, "applies_to": "photos uploaded from now on"}


# ---- people -----------------------------------------------------------------------------

def _person_out(person, counts, cover, sign):
    faces, photos = counts.get(person["person_id"], (0, 0))
    out = {"person_id": person["person_id"], "name": person.get("name"), "face_count": faces,
           "photo_count": photos, "cover": None}
    if cover:
        out["cover"] = {"face_id": cover["face_id"], "photo_id": cover["photo_id"],
                        "crop_url": sign(cover["crop_key"]) if cover.get("crop_key") else None}
    return out


def _cover_rank(face):
    """The best face to show a person by: one with a crop, the surest, the largest."""
    return (face.get("crop_key") is not None, face.get("confidence") or 0,
            face["box"].get("width", 0) * face["box"].get("height", 0))


def list_people(services, caller):
    _ready(services, caller)
    faces_of, photos_of, covers, unassigned = {}, {}, {}, 0
    for face in services.faces.faces(caller.sub):      # one read gives counts and covers
        pid = face.get("person_id")
        if not pid:
            unassigned += 1
            continue
        faces_of[pid] = faces_of.get(pid, 0) + 1
        photos_of.setdefault(pid, set()).add(face["photo_id"])
        if pid not in covers or _cover_rank(face) > _cover_rank(covers[pid]):
            covers[pid] = face
    counts = {pid: (n, len(photos_of[pid])) for pid, n in faces_of.items()}
    sign = signer(services)
    people = [_person_out(p, counts, covers.get(p["person_id"]), sign)
              for p in services.faces.people(caller.sub) if p["person_id"] in counts]
    people.sort(key=lambda p: (-p["photo_count"], p["name"] is None, (p["name"] or "").casefold(), p["person_id"]))
    return {"people": people, "unassigned_faces": unassigned}


def get_person(services, caller, person_id):
    _ready(services, caller)
    person = _own_person(services, caller, person_id)
    faces = services.faces.faces(caller.sub, person_id=person_id)
    counts = {person_id: (len(faces), len({f["photo_id"] for f in faces}))}
    cover = max(faces, key=_cover_rank, default=None)
    sign = signer(services)
    out = _person_out(person, counts, cover, sign)
    out["faces"] = [{"face_id": f["face_id"], "photo_id": f["photo_id"], "box": f["box"],
                     "assigned_by": f.get("assigned_by"),
                     "crop_url": sign(f["crop_key"]) if f.get("crop_key") else None} for f in faces]
    return out


def person_photos(services, caller, person_id, limit=None, cursor=None, sort=None):
    _ready(services, caller)
    _own_person(services, caller, person_id)
    ids = sorted({f["photo_id"] for f in services.faces.faces(caller.sub, person_id=person_id)})
    order = sort or "newest"
    if order not in ("newest", "oldest"):
        raise BadRequest("sort must be newest or oldest")
    if not ids:
        return {"person_id": person_id, "photos": [], "next": None}
    page = services.index.list(caller.sub, page_size(limit), cursor, {"photo_ids": ids}, order)
    sign = signer(services)
    return {"person_id": person_id, "photos": [documents.public(d, sign(d["key"]), sign) for d in page.hits],
            "next": page.next}


def update_person(services, caller, person_id, body):
    _ready(services, caller)
    person = _own_person(services, caller, person_id)
    if not isinstance(body, dict) or "name" not in body:
        raise BadRequest('send {"name": "Alice"} (null clears the name)')
    person["name"] = _name(body["name"])
    services.faces.put_person(person)
    logs.event("people", "named", photo_id=None, person_id=person_id)
    return get_person(services, caller, person_id)


def _name(raw):
    if raw is None:
        return None
    if not isinstance(raw, str) or not raw.strip() or len(raw) > MAX_NAME:
        raise BadRequest("name must be a non-empty string of at most %d characters, or null" % MAX_NAME)
    if not query_words(raw):
        raise BadRequest("name must contain at least one letter or digit (it is what search matches)")
    odd = next((c for c in raw if c in BIDI_CONTROLS or 0xD800 <= ord(c) <= 0xDFFF), None)
    if odd is not None:
        raise BadRequest("name must not contain U+%04X: remove it (bidirectional controls make a name display "
                         "differently from what it is)" % ord(odd))
    return " ".join(raw.split())


def _same_photo(services, owner, person_id, photo_ids, except_face=None):
    return sorted({f["photo_id"] for f in services.faces.faces(owner, person_id=person_id)
                   if f["photo_id"] in photo_ids and f["face_id"] != except_face})


def move_face(services, caller, fid, body):
    """Put a face in another person ({"person_id"}) or a new one ({"new_person": true, "name"})."""
    _ready(services, caller)
    face = _own_face(services, caller, fid)
    if not isinstance(body, dict) or not (body.get("person_id") or body.get("new_person")):
        raise BadRequest('send {"person_id": "..."} or {"new_person": true, "name": "optional"}')
    if body.get("person_id"):
        target = _own_person(services, caller, body["person_id"])
        clash = _same_photo(services, caller.sub, target["person_id"], {face["photo_id"]}, except_face=fid)
        if clash:
            raise SamePhotoConflict("this person already has another face in photo %s; move that one first" % clash[0])
    else:
        target = new_person(services.faces, caller.sub, by="user", name=_name(body.get("name")))
    old = face.get("person_id")
    if old == target["person_id"]:
        return get_person(services, caller, old)
    if not services.faces.assign(fid, target["person_id"], "user", expected=old):
        raise _changed()
    if old:
        services.faces.update_face(fid, rejected=sorted(set(face.get("rejected") or ()) | {old}), grouped=True)
        face_steps.drop_empty_people(services, caller.sub, {old})
    logs.event("people", "face-moved", photo_id=face["photo_id"], face_id=fid, person_id=target["person_id"])
    return get_person(services, caller, target["person_id"])


def _changed():
    return VersionConflict("the face changed meanwhile; read it again")


def not_this_person(services, caller, fid):
    """Take the face out of its person; grouping never puts it back there."""
    _ready(services, caller)
    face = _own_face(services, caller, fid)
    old = face.get("person_id")
    if not old:
        raise NotFound("This face is not in a person.")
    if not services.faces.assign(fid, None, "user", expected=old):
        raise _changed()
    services.faces.update_face(fid, rejected=sorted(set(face.get("rejected") or ()) | {old}), grouped=True)
    face_steps.drop_empty_people(services, caller.sub, {old})
    logs.event("people", "face-rejected", photo_id=face["photo_id"], face_id=fid, person_id=old)
    return {"face_id": fid, "person": None, "rejected": sorted(set(face.get("rejected") or ()) | {old})}


def merge_people(services, caller, person_id, body):
    """Merge the listed people into this one."""
    _ready(services, caller)
    target = _own_person(services, caller, person_id)
    if not isinstance(body, dict) or not isinstance(body.get("people"), list) or not body["people"] or \
            not all(isinstance(p, str) for p in body["people"]):
        raise BadRequest('send {"people": ["<person id>", ...]} to merge into this person')
    sources = [_own_person(services, caller, pid) for pid in dict.fromkeys(body["people"]) if pid != person_id]
    target_photos = {f["photo_id"] for f in services.faces.faces(caller.sub, person_id=person_id)}
    moving = []
    for source in sources:
        faces = services.faces.faces(caller.sub, person_id=source["person_id"])
        clash = sorted({f["photo_id"] for f in faces} & target_photos)
        if clash:
            raise SamePhotoConflict("%s and this person both have a face in photo %s; take the wrong one out first"
                                    % (source["person_id"], clash[0]))
        target_photos |= {f["photo_id"] for f in faces}
        moving.append((source, faces))
    gone = {s["person_id"] for s, _ in moving}
    for source, faces in moving:
        for face in faces:
            services.faces.assign(face["face_id"], person_id, "user", expected=source["person_id"])
        if not target.get("name") and source.get("name"):
            target["name"] = source["name"]
    for face in services.faces.faces(caller.sub):      # "not P" now means "not the merged person"
        rejected = set(face.get("rejected") or ())
        if rejected & gone:
            services.faces.update_face(face["face_id"], rejected=sorted((rejected - gone) | {person_id}))
    services.faces.put_person(target)
    for pid in gone:
        services.faces.delete_person(pid)
    logs.event("people", "merged", photo_id=None, person_id=person_id, merged=len(gone))
    return get_person(services, caller, person_id)


# ---- search by name ---------------------------------------------------------------------

def resolve_names(services, owner, words):
    """Split query words into words of people's names and other words.

    A query word that is a word of a named person's name selects that person's photos
    (every person whose name has the word: "john" finds each John); several such words
    must all hold ("alice bob": photos with both; "barack obama": his).  The other words
    search labels and text as usual.  Returns (other words, photo ids or None, [people])."""
    if not words or services.faces is None or not face_steps.enabled(services):
        return words, None, []
    by_word = {}
    for person in services.faces.people(owner):
        if person.get("name"):
            for word in set(query_words(person["name"])) & set(words):
                by_word.setdefault(word, []).append(person)
    if not by_word:
        return words, None, []
    photos_of, photo_ids, matched = {}, None, {}
    for people in by_word.values():
        ids = set()
        for person in people:
            if person["person_id"] not in photos_of:
                photos_of[person["person_id"]] = {f["photo_id"] for f in services.faces.faces(
                    owner, person_id=person["person_id"])}
            ids |= photos_of[person["person_id"]]
            matched[person["person_id"]] = {"person_id": person["person_id"], "name": person["name"]}
        photo_ids = ids if photo_ids is None else photo_ids & ids
    return ([w for w in words if w not in by_word], sorted(photo_ids)[:MAX_PEOPLE_PHOTOS],
            sorted(matched.values(), key=lambda p: (p["name"].casefold(), p["person_id"])))
