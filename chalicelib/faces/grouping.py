"""Grouping an owner's faces into people, incrementally, with the same rules on both engines.

Rules (settings in brackets):
- A face's neighbours are the owner's faces at least PEOPLE_MATCH_THRESHOLD similar
  (the matcher: dlib embeddings, or Rekognition SearchFaces), minus faces of its own photo.
- It joins a person when it is close to enough of that person's faces:
  ``required(n) = min(n, max(PEOPLE_MIN_MATCHES, ceil(PEOPLE_MIN_SHARE * min(n, 30))))``
  for a person of n faces.  Among several such people the one with the most close faces
  wins, then the highest mean similarity.  A person that already has a face in the same
  photo, or that the face was told it is not ("not this person"), is never chosen.
- Otherwise, if it is close to faces nobody has yet, it starts a new person with them
  (at most one face per photo, the most similar).
- Otherwise it waits, unassigned.  Every face that joins or starts a person makes its
  waiting neighbours try again, so waiting faces join as more photos arrive.
- Grouping only ever assigns faces that have no person.  It never moves a face, never
  merges people, never renames: corrections made by the owner stand.
Assignments are compare-and-set (a face is taken only if it is still free), so two
photos grouped at once cannot put one face in two people.
"""
import math
import uuid
from collections import defaultdict

from chalicelib import logs, settings
from chalicelib.index.documents import now_iso

NEIGHBOURS = 200        # enough for required() at its cap
RETRY_BUDGET = 50       # waiting faces re-examined per new face


def required(size):
    share = settings.get_float("PEOPLE_MIN_SHARE", minimum=0, maximum=1)
    minimum = settings.get_int("PEOPLE_MIN_MATCHES", minimum=1)
    return min(size, max(minimum, math.ceil(share * min(size, 30))))


def new_person(store, owner, by="auto", name=None):
    person = {"person_id": uuid.uuid4().hex, "owner": owner, "name": name, "created_at": now_iso(),
              "created_by": by}
    store.put_person(person)
    return person


def group_faces(store, matcher, faces):
    """Group newly indexed faces (of one owner), then the waiting faces they bring closer."""
    queue = [f["face_id"] for f in faces]
    budget = len(queue) + RETRY_BUDGET
    seen = set()
    while queue and budget > 0:
        face_id = queue.pop(0)
        if face_id in seen:
            continue
        seen.add(face_id)
        budget -= 1
        outcome, waiting = group_face(store, matcher, face_id)
        if outcome in ("joined", "new-person"):
            queue.extend(w for w in waiting if w not in seen)


def group_face(store, matcher, face_id):
    """(outcome, waiting neighbour ids).  Outcomes: joined, new-person, waiting, assigned, gone."""
    face = store.get_face(face_id, with_embeddings=True)
    if face is None:
        return "gone", []
    if face.get("person_id"):
        _mark(store, face)
        return "assigned", []
    threshold = settings.get_float("PEOPLE_MATCH_THRESHOLD", minimum=0, maximum=100)
    neighbours = [(n, s) for n, s in matcher.neighbours(face, threshold, NEIGHBOURS)
                  if n["photo_id"] != face["photo_id"] and n["owner"] == face["owner"]]
    close = defaultdict(list)
    for other, sim in neighbours:
        if other.get("person_id"):
            close[other["person_id"]].append(sim)
    rejected = set(face.get("rejected") or ())
    taken_in_photo = {f.get("person_id") for f in store.faces_of_photo(face["photo_id"]) if f.get("person_id")}
    sizes = store.person_counts(face["owner"], list(close)) if close else {}
    options = sorted(((len(sims), sum(sims) / len(sims), pid) for pid, sims in close.items()
                      if pid not in rejected and pid not in taken_in_photo and pid in sizes
                      and len(sims) >= required(sizes[pid][0])), reverse=True)
    waiting = [n["face_id"] for n, _ in neighbours if not n.get("person_id")]
    for _, _, pid in options:
        if store.assign(face_id, pid, "auto", expected=None):
            _mark(store, face)
            logs.event("group", "joined", photo_id=face["photo_id"], face_id=face_id, person_id=pid)
            return "joined", waiting
        return "assigned", []       # someone else assigned it meanwhile
    free = {}
    for other, sim in neighbours:       # most similar first: keep one face per photo
        if not other.get("person_id") and other["photo_id"] not in free:
            free[other["photo_id"]] = other
    if free:
        person = new_person(store, face["owner"])
        if not store.assign(face_id, person["person_id"], "auto", expected=None):
            store.delete_person(person["person_id"])
            return "assigned", []
        members = 1
        for other in free.values():
            members += store.assign(other["face_id"], person["person_id"], "auto", expected=None)
        _mark(store, face)
        logs.event("group", "new-person", photo_id=face["photo_id"], face_id=face_id,
                   person_id=person["person_id"], faces=members)
        return "new-person", [w for w in waiting if w not in {f["face_id"] for f in free.values()}]
    _mark(store, face)
    return "waiting", []


def _mark(store, face):
    if not face.get("grouped"):
        store.update_face(face["face_id"], grouped=True)
