"""Faces and people with the local engine: real face photos (Obama x5, Biden, Grace Hopper,
Eileen Collins, Tom Hanks, a group photo), real models, through the app, on both index
backends (the OpenSearch adapters over HTTP, and SQLite files)."""
import base64

import pytest
from PIL import Image, ImageEnhance

from chalicelib.keys import photo_id
from tests.conftest import BUCKET, app_client, install_components
from tests.support import photos
from tests.test_api import auth
from tests.test_indexing import created, index_event, put

OBAMA = ["obama.jpg", "obama2.jpg", "obama3.jpg", "obama_partial_face.jpg", "obama_partial_face2.jpg"]
OTHERS = ["biden.jpg", "hopper.jpg", "astronaut.png", "tom_hanks.png"]


@pytest.fixture(params=["opensearch", "sqlite"])
def people_services(request, bucket, opensearch, monkeypatch, tmp_path):
    from chalicelib import components
    services = install_components(monkeypatch, bucket, opensearch, ANALYSIS_ENGINE="local",
                                  ANALYSIS_FEATURES="labels,faces", MIN_CONFIDENCE="20")
    if request.param == "sqlite":
        from chalicelib.faces.sqlite import SQLiteFaceStore
        from chalicelib.index.sqlite import SQLiteIndex
        index, store = SQLiteIndex(str(tmp_path / "i.sqlite3")), SQLiteFaceStore(str(tmp_path / "i.sqlite3"))
        index.ensure_index()
        store.ensure()
        components.reset()
        components.configure(index=index, faces=store)
        services = components.services()
    yield services
    components.reset()


@pytest.fixture
def app(people_services):
    with app_client() as c:
        yield c


def jpeg(img):
    return photos.encode(img.convert("RGB"), quality=92)


def collage(*names):
    """One photo with the faces of several photos side by side."""
    parts = [photos.load(n) for n in names]
    height = max(p.height for p in parts)
    out = Image.new("RGB", (sum(p.width for p in parts), height), (255, 255, 255))
    x = 0
    for p in parts:
        out.paste(p, (x, 0))
        x += p.width
    return out


def upload(app, s3, user, name, data=None, seq="0055AED6DCD90281E5"):
    """Put one photo in the bucket and deliver its creation event; returns its photo id."""
    key = "usercontent/%s/%s" % (user.sub, name.rsplit(".", 1)[0] + ".jpg")
    etag = put(s3, key, data if data is not None else jpeg(photos.load(name)))
    assert index_event(app, created(key, etag, seq=seq)) == ["indexed"]
    return photo_id(BUCKET, key)


def get(app, user, path, status=200):
    r = app.http.get(path, headers=auth(user))
    assert r.status_code == status, r.json_body
    return r.json_body


def send(app, user, method, path, body=None, status=200):
    import json
    r = getattr(app.http, method)(path, headers=auth(user), body=json.dumps(body) if body is not None else None)
    assert r.status_code == status, r.json_body
    return r.json_body


def faces_of(app, user, pid):
    return get(app, user, "/photos/%s/faces" % pid)["faces"]


def people(app, user):
    return get(app, user, "/people")


def test_each_face_is_listed_with_its_box_attributes_crop_and_id(app, s3, users):
    alice = users["alice"]
    pid = upload(app, s3, alice, "obama.jpg")
    cat = upload(app, s3, alice, "chelsea.png")
    face, = faces_of(app, alice, pid)
    assert len(face["face_id"]) == 32 and face["person"] is None        # one photo: nobody to group with yet
    assert 0 < face["box"]["width"] < 1 and 0 < face["box"]["left"] < 1
    assert face["gender"] == "Male" and face["age_range"]["low"] <= face["age_range"]["high"]
    assert face["crop_url"] and app.http.get("/photos/" + pid, headers=auth(alice)).status_code == 200
    assert "embedding" not in face
    assert get(app, alice, "/photos/%s/faces" % cat) == {"photo_id": cat, "faces": [], "faces_indexed": None}


def test_photos_of_one_person_are_grouped_as_they_arrive_and_nobody_else_joins(app, s3, users, people_services):
    alice = users["alice"]
    ids = {name: upload(app, s3, alice, name) for name in OBAMA[:1]}
    assert people(app, alice) == {"people": [], "unassigned_faces": 1}      # alone, the face waits
    for name in OBAMA[1:] + OTHERS + ["chelsea.png", "insightface_t1.jpg"]:
        ids[name] = upload(app, s3, alice, name)
    listing = people(app, alice)
    person, = listing["people"]
    assert person["face_count"] == 5 and person["photo_count"] == 5 and person["name"] is None
    assert person["cover"]["crop_url"] and person["cover"]["photo_id"] in [ids[n] for n in OBAMA]
    others = [f for n in OTHERS + ["insightface_t1.jpg"] for f in faces_of(app, alice, ids[n])]
    assert len(faces_of(app, alice, ids["insightface_t1.jpg"])) >= 3            # a group photo of six
    assert all(f["person"] is None for f in others) and listing["unassigned_faces"] == len(others)
    got = get(app, alice, "/people/%s/photos" % person["person_id"])
    assert sorted(p["photo_id"] for p in got["photos"]) == sorted(ids[n] for n in OBAMA)


def test_two_faces_of_one_photo_never_join_the_same_person(app, s3, users, people_services):
    alice = users["alice"]
    for name in OBAMA[:3]:
        upload(app, s3, alice, name)
    both = upload(app, s3, alice, "two-obamas.jpg", jpeg(collage("obama_partial_face.jpg", "obama_partial_face2.jpg")))
    faces = faces_of(app, alice, both)
    assert len(faces) == 2
    person, = people(app, alice)["people"]
    assert [f["person"] and f["person"]["person_id"] for f in faces].count(person["person_id"]) == 1
    assert person["photo_count"] == 4 == person["face_count"]


def test_a_face_finds_the_photos_of_that_person_most_similar_first(app, s3, users):
    alice = users["alice"]
    ids = {name: upload(app, s3, alice, name) for name in OBAMA[:3] + ["biden.jpg"]}
    face = faces_of(app, alice, ids["obama.jpg"])[0]["face_id"]
    found = get(app, alice, "/faces/%s/photos" % face)
    sims = [p["similarity"] for p in found["photos"]]
    assert [p["photo_id"] for p in found["photos"]][0] == ids["obama.jpg"] and sims[0] == 100.0
    assert sorted(p["photo_id"] for p in found["photos"]) == sorted(ids[n] for n in OBAMA[:3])
    assert sims == sorted(sims, reverse=True) and all(s >= 80 for s in sims) and found["threshold"] == 80
    assert found["photos"][1]["photo"]["url"] and found["photos"][1]["face_id"] != face
    strict = get(app, alice, "/faces/%s/photos?threshold=99.5" % face)
    assert [p["photo_id"] for p in strict["photos"]] == [ids["obama.jpg"]]
    loose = get(app, alice, "/faces/%s/photos?threshold=60&limit=2" % face)
    assert len(loose["photos"]) == 2
    assert get(app, alice, "/faces/%s/photos?threshold=101" % face, 400)["error"] == "BadRequest"
    assert get(app, alice, "/faces/%s/photos" % ("0" * 32), 404)["error"] == "NotFound"
    assert get(app, alice, "/faces/not-an-id/photos", 404)["error"] == "NotFound"


def test_search_by_an_image_or_a_stored_face(app, s3, users):
    alice = users["alice"]
    ids = {name: upload(app, s3, alice, name) for name in ["obama.jpg", "obama2.jpg", "biden.jpg"]}
    probe = base64.b64encode(open(photos.path("obama_partial_face.jpg"), "rb").read()).decode()
    found = send(app, alice, "post", "/faces/search", {"image": probe})
    assert sorted(p["photo_id"] for p in found["photos"]) == sorted([ids["obama.jpg"], ids["obama2.jpg"]])
    assert found["searched_face"]["width"] > 0
    biden = send(app, alice, "post", "/faces/search", {"photo_id": ids["biden.jpg"], "face": 1})
    assert [p["photo_id"] for p in biden["photos"]] == [ids["biden.jpg"]]
    cat = base64.b64encode(jpeg(photos.load("chelsea.png"))).decode()
    assert send(app, alice, "post", "/faces/search", {"image": cat}, 400)["error"] == "NoFace"
    assert send(app, alice, "post", "/faces/search", {"image": "@@not base64@@"}, 400)["error"] == "BadRequest"
    junk = base64.b64encode(b"GIF89a but not really").decode()
    assert send(app, alice, "post", "/faces/search", {"image": junk}, 400)["error"] == "BadRequest"
    assert send(app, alice, "post", "/faces/search", {"photo_id": ids["biden.jpg"], "face": 2}, 404)
    assert send(app, alice, "post", "/faces/search", {"photo_id": ids["biden.jpg"], "face": "1"}, 400)
    assert send(app, alice, "post", "/faces/search", {}, 400)["error"] == "BadRequest"


def test_compare_two_photos_gives_matches_and_unmatched_faces(app, s3, users):
    alice = users["alice"]
    obama = upload(app, s3, alice, "obama.jpg")
    pair = upload(app, s3, alice, "obama-and-biden.jpg", jpeg(collage("obama2.jpg", "biden.jpg")))
    result = send(app, alice, "post", "/faces/compare", {"source": obama, "target": pair})
    match, = result["matches"]
    unmatched, = result["unmatched"]
    assert match["similarity"] >= 80 and match["box"]["left"] < 0.5 < unmatched["box"]["left"]
    target_faces = {f["face_id"]: f for f in faces_of(app, alice, pair)}
    assert match["face_id"] in target_faces and unmatched["face_id"] in target_faces
    assert result["source"]["face"]["face_id"] == faces_of(app, alice, obama)[0]["face_id"]
    assert send(app, alice, "post", "/faces/compare", {"source": obama}, 400)["error"] == "BadRequest"


def test_a_named_person_is_found_by_name_alone_or_with_other_words(app, s3, users):
    alice = users["alice"]
    ids = {name: upload(app, s3, alice, name) for name in OBAMA[:3] + ["biden.jpg", "chelsea.png"]}
    person, = people(app, alice)["people"]
    named = send(app, alice, "patch", "/people/" + person["person_id"], {"name": "  Barack   Obama "})
    assert named["name"] == "Barack Obama" and len(named["faces"]) == 3

    def search(q):
        return get(app, alice, "/photos?q=" + q)

    assert sorted(p["photo_id"] for p in search("obama")["photos"]) == sorted(ids[n] for n in OBAMA[:3])
    assert search("barack%20obama")["query"]["people"] == [{"person_id": person["person_id"],
                                                              "name": "Barack Obama"}]
    with_word = search("obama%20person")          # the name and a label together
    assert sorted(p["photo_id"] for p in with_word["photos"]) == sorted(ids[n] for n in OBAMA[:3])
    assert search("obama%20cat")["photos"] == []
    assert search("cat")["photos"][0]["photo_id"] == ids["chelsea.png"]
    assert get(app, users["bob"], "/photos?q=obama")["photos"] == []                   # names are per owner
    assert send(app, alice, "patch", "/people/" + person["person_id"], {"name": ""}, 400)["error"] == "BadRequest"
    assert send(app, alice, "patch", "/people/" + person["person_id"], {"name": None})["name"] is None
    assert search("obama")["photos"] == []


def test_corrections_stand_against_later_grouping(app, s3, users):
    alice = users["alice"]
    ids = {name: upload(app, s3, alice, name) for name in OBAMA[:3]}
    person, = people(app, alice)["people"]
    wrong = faces_of(app, alice, ids["obama2.jpg"])[0]["face_id"]
    out = send(app, alice, "delete", "/faces/%s/person" % wrong)
    assert out["person"] is None and out["rejected"] == [person["person_id"]]
    assert people(app, alice)["people"][0]["face_count"] == 2
    for name in OBAMA[3:]:                          # more photos of him arrive: the face stays out
        upload(app, s3, alice, name)
    after, = people(app, alice)["people"]
    assert after["person_id"] == person["person_id"] and after["face_count"] == 4
    assert faces_of(app, alice, ids["obama2.jpg"])[0]["person"] is None
    # moved by hand into a new person, then merged back: the owner decides
    mine = send(app, alice, "put", "/faces/%s/person" % wrong, {"new_person": True, "name": "Young Barack"})
    assert mine["name"] == "Young Barack" and [f["face_id"] for f in mine["faces"]] == [wrong]
    merged = send(app, alice, "post", "/people/%s/merge" % person["person_id"], {"people": [mine["person_id"]]})
    assert merged["face_count"] == 5 and merged["name"] == "Young Barack"
    assert get(app, alice, "/people/" + mine["person_id"], 404)["error"] == "NotFound"
    assert [p["person_id"] for p in people(app, alice)["people"]] == [person["person_id"]]


def test_moves_that_would_put_one_photo_twice_in_a_person_are_refused(app, s3, users):
    alice = users["alice"]
    for name in OBAMA[:2]:
        upload(app, s3, alice, name)
    both = upload(app, s3, alice, "two.jpg", jpeg(collage("obama_partial_face.jpg", "obama_partial_face2.jpg")))
    person, = people(app, alice)["people"]
    free = [f for f in faces_of(app, alice, both) if f["person"] is None][0]
    err = send(app, alice, "put", "/faces/%s/person" % free["face_id"], {"person_id": person["person_id"]}, 409)
    assert err["error"] == "SamePhotoConflict"
    other = send(app, alice, "put", "/faces/%s/person" % free["face_id"], {"new_person": True})
    err = send(app, alice, "post", "/people/%s/merge" % person["person_id"], {"people": [other["person_id"]]}, 409)
    assert err["error"] == "SamePhotoConflict"
    assert send(app, alice, "put", "/faces/%s/person" % free["face_id"], {"person_id": "0" * 32}, 404)
    assert send(app, alice, "put", "/faces/%s/person" % free["face_id"], {}, 400)


def test_two_users_with_the_same_photos_never_see_each_others_faces(app, s3, users):
    alice, bob = users["alice"], users["bob"]
    mine = {n: upload(app, s3, alice, n) for n in OBAMA[:2]}
    theirs = {n: upload(app, s3, bob, n) for n in OBAMA[:2]}
    a_person, = people(app, alice)["people"]
    b_person, = people(app, bob)["people"]
    assert a_person["person_id"] != b_person["person_id"] and a_person["face_count"] == b_person["face_count"] == 2
    a_face = faces_of(app, alice, mine["obama.jpg"])[0]["face_id"]
    b_face = faces_of(app, bob, theirs["obama.jpg"])[0]["face_id"]
    assert a_face != b_face
    found = get(app, alice, "/faces/%s/photos?threshold=0" % a_face)["photos"]
    assert sorted(p["photo_id"] for p in found) == sorted(mine.values())
    probe = base64.b64encode(open(photos.path("obama3.jpg"), "rb").read()).decode()
    assert {p["photo_id"] for p in send(app, alice, "post", "/faces/search", {"image": probe})["photos"]} \
        == set(mine.values())
    assert get(app, alice, "/faces/%s/photos" % b_face, 404)["error"] == "NotFound"
    assert get(app, alice, "/people/%s" % b_person["person_id"], 404)["error"] == "NotFound"
    assert get(app, alice, "/people/%s/photos" % b_person["person_id"], 404)["error"] == "NotFound"
    assert get(app, alice, "/photos/%s/faces" % theirs["obama.jpg"], 404)["error"] == "NotFound"
    assert send(app, alice, "patch", "/people/" + b_person["person_id"], {"name": "x"}, 404)
    assert send(app, alice, "delete", "/faces/%s/person" % b_face, status=404)
    assert send(app, alice, "put", "/faces/%s/person" % a_face, {"person_id": b_person["person_id"]}, 404)
    assert send(app, alice, "post", "/faces/compare", {"source": mine["obama.jpg"], "target": theirs["obama.jpg"]},
                status=404)
    assert send(app, alice, "post", "/people/%s/merge" % a_person["person_id"],
                {"people": [b_person["person_id"]]}, 404)


def test_deleting_a_photo_deletes_its_faces_and_people_left_empty(app, s3, users, people_services):
    alice = users["alice"]
    ids = {n: upload(app, s3, alice, n) for n in OBAMA[:2]}
    person, = people(app, alice)["people"]
    send(app, alice, "delete", "/photos/" + ids["obama.jpg"])
    assert people_services.faces.faces_of_photo(ids["obama.jpg"]) == []
    assert people(app, alice)["people"][0]["face_count"] == 1
    send(app, alice, "delete", "/photos/" + ids["obama2.jpg"])
    assert people(app, alice) == {"people": [], "unassigned_faces": 0}
    assert people_services.faces.get_person(person["person_id"]) is None


def test_biometric_opt_out_removes_every_face_and_person_and_stops_indexing(app, s3, users, people_services):
    alice, bob = users["alice"], users["bob"]
    ids = {n: upload(app, s3, alice, n) for n in OBAMA[:3]}
    upload(app, s3, bob, "obama.jpg")
    crops = [k for pid in ids.values() for k in people_services.index.get(pid)[0]["thumbnails"]["faces"]]
    assert len(crops) == 3 and all(people_services.storage.head(k) for k in crops)
    out = send(app, alice, "delete", "/faces")
    assert out == {"deleted_faces": 3, "deleted_people": 1, "photos_cleaned": 3, "opted_out": True}
    assert people_services.faces.faces(alice.sub) == [] and people_services.faces.people(alice.sub) == []
    for pid in ids.values():
        doc = people_services.index.get(pid)[0]
        assert doc["faces"] and not any("face_id" in f or "embedding" in f for f in doc["faces"])
        assert doc["thumbnails"]["faces"] == [] and "crop_url" not in get(app, alice, "/photos/" + pid)["faces"][0]
    assert [people_services.storage.head(k) for k in crops] == [None] * 3       # the face crops are deleted
    assert get(app, alice, "/people", 409)["error"] == "FaceIndexingOff"
    later = upload(app, s3, alice, "obama_partial_face.jpg")
    assert people_services.faces.faces_of_photo(later) == [] and faces_of(app, alice, later)[0].get("face_id") is None
    assert people_services.index.get(later)[0]["thumbnails"]["faces"] == []    # and no new crop is made
    assert people(app, bob)["unassigned_faces"] == 1                        # bob keeps his
    assert send(app, alice, "post", "/faces/opt-in")["opted_out"] is False
    again = upload(app, s3, alice, "obama_partial_face2.jpg")
    assert len(people_services.faces.faces_of_photo(again)) == 1


def test_face_indexing_can_be_turned_off(app, s3, users, people_services, monkeypatch):
    monkeypatch.setenv("FACE_INDEXING", "off")
    alice = users["alice"]
    pid = upload(app, s3, alice, "obama.jpg")
    face, = faces_of(app, alice, pid)                     # still detected (face_count, boxes)...
    assert "face_id" not in face and people_services.faces.faces(alice.sub) == []   # ...never registered
    assert get(app, alice, "/people", 409)["error"] == "FaceIndexingOff"
    assert get(app, alice, "/faces/%s/photos" % ("0" * 32), 409)["error"] == "FaceIndexingOff"
    assert people_services.index.get(pid)[0]["faces_indexed"] is None


def test_augmented_copies_join_the_same_person(app, s3, users):
    alice = users["alice"]
    base = photos.load("obama.jpg")
    variants = {
        "crop.jpg": base.crop((base.width // 8, base.height // 10, base.width * 7 // 8, base.height * 3 // 5)),
        "small.jpg": base.resize((base.width // 3, base.height // 3)),
        "dark.jpg": ImageEnhance.Brightness(base).enhance(0.55),
        "bright.jpg": ImageEnhance.Brightness(base).enhance(1.4),
    }
    for name, img in variants.items():
        upload(app, s3, alice, name, jpeg(img))
    upload(app, s3, alice, "biden.jpg")
    person, = people(app, alice)["people"]
    assert person["face_count"] == 4 and people(app, alice)["unassigned_faces"] == 1


def test_reanalysing_the_same_bytes_keeps_corrections(app, s3, users, people_services):
    from chalicelib.pipeline.indexing import index_object
    alice = users["alice"]
    ids = {n: upload(app, s3, alice, n) for n in OBAMA[:3]}
    wrong = faces_of(app, alice, ids["obama3.jpg"])[0]["face_id"]
    send(app, alice, "delete", "/faces/%s/person" % wrong)
    doc, version = people_services.index.get(ids["obama3.jpg"])
    people_services.index.put(dict(doc, status="pending"), version)        # as after a crash mid-ingest
    index_object(people_services, BUCKET, doc["key"], source="reconcile")
    face = people_services.faces.get_face(wrong)
    assert face is not None and face["person_id"] is None and face["rejected"]


def test_documents_from_before_face_indexing_are_analysed_again(people_services):
    from chalicelib.pipeline.indexing import needs_retry
    assert needs_retry({"status": "indexed", "faces": [{"box": {}}]})               # no faces_indexed yet
    assert not needs_retry({"status": "indexed", "faces": [{"box": {}}], "faces_indexed": None})
    assert needs_retry({"status": "indexed", "faces": [{"box": {}}], "faces_indexed": False})
    assert not needs_retry({"status": "indexed", "faces": []})


def test_the_reconciler_groups_waiting_faces_and_drops_faces_of_vanished_photos(app, s3, users, people_services):
    from chalicelib.pipeline.reconcile import reconcile
    alice = users["alice"]
    ids = {n: upload(app, s3, alice, n) for n in OBAMA[:3]}
    person, = people(app, alice)["people"]
    store = people_services.faces
    stuck = store.faces_of_photo(ids["obama3.jpg"])[0]
    store.assign(stuck["face_id"], None, "auto", expected=person["person_id"])   # as if the Lambda died
    store.update_face(stuck["face_id"], grouped=False)                           # right after registering
    s3.delete_object(Bucket=BUCKET, Key=people_services.index.get(ids["obama.jpg"])[0]["key"])  # no event
    stats = reconcile(people_services)
    assert stats["removed"] == 1 and stats["grouped"] == 1
    assert store.get_face(stuck["face_id"])["person_id"] == person["person_id"]
    assert store.faces_of_photo(ids["obama.jpg"]) == []
    assert people(app, alice)["people"][0]["face_count"] == 2


def test_a_second_copy_of_a_photo_reuses_its_analysis_and_its_face_vectors(app, s3, users, people_services):
    alice = users["alice"]
    data = jpeg(photos.load("obama.jpg"))
    first = upload(app, s3, alice, "one/obama.jpg", data)
    copy = upload(app, s3, alice, "two/obama.jpg", data)
    assert people_services.index.get(copy)[0]["reused_from"] == first
    a, b = people_services.faces.faces_of_photo(first)[0], people_services.faces.faces_of_photo(copy)[0]
    assert a["face_id"] != b["face_id"]
    assert people_services.faces.get_face(b["face_id"], with_embeddings=True)["embedding"]
    found = get(app, alice, "/faces/%s/photos" % b["face_id"])["photos"]
    assert [p["photo_id"] for p in found] == [copy, first] and found[1]["similarity"] == 100.0
    person, = people(app, alice)["people"]
    assert person["photo_count"] == 2


def test_new_bytes_replace_a_photos_faces_and_a_losing_writer_leaves_the_winners(app, s3, users, people_services):
    import copy
    from chalicelib.pipeline import faces as face_steps
    alice = users["alice"]
    store = people_services.faces
    pid = upload(app, s3, alice, "portrait.jpg", jpeg(photos.load("obama.jpg")))
    first, = store.faces_of_photo(pid)
    upload(app, s3, alice, "portrait.jpg", jpeg(photos.load("biden.jpg")), seq="0055AED6DCD90281F0")  # new bytes
    second, = store.faces_of_photo(pid)
    assert second["face_id"] != first["face_id"] and store.get_face(first["face_id"]) is None
    winner = people_services.index.get(pid)[0]
    loser = copy.deepcopy(winner)                      # another writer's version of the photo...
    loser["etag"] = "another-version"
    for face in loser["faces"]:
        face["embedding"] = [0.0] * 128
    face_steps.register(people_services, loser, None)
    assert len(store.faces_of_photo(pid)) == 2
    face_steps.forget_stale(people_services, winner)    # ...loses the conditional write
    assert [f["face_id"] for f in store.faces_of_photo(pid)] == [second["face_id"]]
    pending = dict(winner, status="pending", faces=[])
    face_steps.forget_stale(people_services, pending)   # a document waiting for its retry keeps them
    assert [f["face_id"] for f in store.faces_of_photo(pid)] == [second["face_id"]]
