"""The face store contract (chalicelib.faces): what every face store must do, in the same words.

Runs against the OpenSearch store over HTTP (tests/support's local OpenSearch server),
the SQLite store (a real file), and a real cluster when OPENSEARCH_URL is set.
"""
import os
import uuid

import pytest

from chalicelib.faces import face_id
from tests.conftest import REGION

BACKENDS = ["opensearch-http", "sqlite"] + (["opensearch-live"] if os.environ.get("OPENSEARCH_URL") else [])


@pytest.fixture(params=BACKENDS)
def store(request):
    if request.param == "opensearch-http":
        from tests.conftest import make_face_store
        yield make_face_store(request.getfixturevalue("opensearch").url)
    elif request.param == "sqlite":
        from chalicelib.faces.sqlite import SQLiteFaceStore
        s = SQLiteFaceStore(str(request.getfixturevalue("tmp_path") / "index.sqlite3"))
        s.ensure()
        yield s
    else:
        from chalicelib.faces.opensearch import OpenSearchFaceStore
        from chalicelib.index.opensearch import make_client
        name = "photo-search-faces-contract-" + uuid.uuid4().hex[:8]
        s = OpenSearchFaceStore(make_client(os.environ["OPENSEARCH_URL"], REGION,
                                            auth_mode=os.environ.get("OPENSEARCH_AUTH", "none")), name)
        s.ensure()
        yield s
        s.client.indices.delete(index=name)


def face(photo, n, owner="alice", person=None, matcher=None, embedding=None, grouped=False):
    return {"face_id": face_id(photo, "etag", n), "owner": owner, "photo_id": photo, "n": n,
            "box": {"width": 0.2, "height": 0.3, "left": 0.1 * n, "top": 0.1}, "confidence": 99.0,
            "crop_key": "thumbnails/%s/p.jpg.face-%d.jpg" % (owner, n), "person_id": person,
            "assigned_by": "auto" if person else None, "rejected": [], "grouped": grouped,
            "matcher_id": matcher, "created_at": "2026-11-23T10:00:00.000Z", "embedding": embedding}


def vec(x):
    return [float(x)] + [0.0] * 127


def test_faces_are_stored_with_their_photo_and_read_back_without_embeddings(store):
    a1, a2 = face("p1", 1, embedding=vec(1)), face("p1", 2, embedding=vec(2))
    store.put_faces([a2, a1])
    got = store.faces_of_photo("p1")
    assert [f["n"] for f in got] == [1, 2]
    assert got[0] == {k: v for k, v in a1.items() if k != "embedding"}
    assert store.get_face(a1["face_id"]) == got[0]
    assert store.get_face(a1["face_id"], with_embeddings=True)["embedding"] == vec(1)
    assert store.get_face("f" * 32) is None and store.faces_of_photo("nope") == []
    assert set(store.get_faces([a1["face_id"], a2["face_id"], "0" * 32])) == {a1["face_id"], a2["face_id"]}


def test_listing_filters_by_owner_person_assignment_and_grouping(store):
    store.put_faces([face("p1", 1, person="P"), face("p2", 1), face("p3", 1, grouped=True),
                     face("q1", 1, owner="bob", person="P")])
    ids = lambda faces: sorted(f["photo_id"] for f in faces)  # noqa: E731
    assert ids(store.faces("alice")) == ["p1", "p2", "p3"]
    assert ids(store.faces("alice", person_id="P")) == ["p1"]
    assert ids(store.faces("alice", unassigned=True)) == ["p2", "p3"]
    assert ids(store.faces("alice", ungrouped=True)) == ["p1", "p2"]
    assert ids(store.ungrouped(10)) == ["p1", "p2", "q1"]
    assert ids(store.faces("carol")) == []


def test_matcher_ids_map_back_to_faces(store):
    store.put_faces([face("p1", 1, matcher="rek-1"), face("p2", 1, matcher="rek-2", owner="bob"), face("p3", 1)])
    found = store.by_matcher_ids(["rek-1", "rek-2", "rek-unknown"])
    assert {k: v["photo_id"] for k, v in found.items()} == {"rek-1": "p1", "rek-2": "p2"}
    assert store.by_matcher_ids([]) == {}


def test_assign_is_compare_and_set(store):
    f = face("p1", 1)
    store.put_faces([f])
    assert store.assign(f["face_id"], "P", "auto", expected=None) is True
    assert store.assign(f["face_id"], "Q", "auto", expected=None) is False      # taken meanwhile
    assert store.get_face(f["face_id"])["person_id"] == "P"
    assert store.assign(f["face_id"], "Q", "user", expected="P") is True
    got = store.get_face(f["face_id"])
    assert (got["person_id"], got["assigned_by"]) == ("Q", "user")
    assert store.assign(f["face_id"], None, "user", expected="Q") is True
    assert store.get_face(f["face_id"])["person_id"] is None
    assert store.faces("alice", unassigned=True)[0]["face_id"] == f["face_id"]
    assert store.assign("0" * 32, "P", "auto") is False


def test_update_face_changes_only_the_given_fields(store):
    f = face("p1", 1, person="P")
    store.put_faces([f])
    assert store.update_face(f["face_id"], rejected=["Q"], grouped=True)
    got = store.get_face(f["face_id"])
    assert got["rejected"] == ["Q"] and got["grouped"] is True and got["person_id"] == "P"
    assert store.faces("alice", ungrouped=True) == []
    with pytest.raises(ValueError):
        store.update_face(f["face_id"], owner="mallory")


def test_embeddings_are_per_owner_and_follow_changes(store):
    store.put_faces([face("p1", 1, embedding=vec(1)), face("p2", 1, embedding=vec(2)), face("p3", 1),
                     face("q1", 1, owner="bob", embedding=vec(9))])
    ids, photos, matrix = store.embeddings("alice")
    assert sorted(photos) == ["p1", "p2"] and matrix.shape == (2, 128)
    assert sorted(float(matrix[i][0]) for i in range(2)) == [1.0, 2.0]
    store.delete_faces([face("p1", 1)["face_id"]])
    ids, photos, matrix = store.embeddings("alice")
    assert photos == ["p2"] and float(matrix[0][0]) == 2.0
    store.put_faces([face("p4", 1, embedding=vec(4))])
    assert sorted(store.embeddings("alice")[1]) == ["p2", "p4"]
    assert store.embeddings("nobody")[2].shape[0] == 0


def test_people_and_their_counts(store):
    store.put_person({"person_id": "P", "owner": "alice", "name": None, "created_at": "x", "created_by": "auto"})
    store.put_person({"person_id": "Q", "owner": "alice", "name": "Bob", "created_at": "x", "created_by": "user"})
    store.put_person({"person_id": "R", "owner": "bob", "name": "Eve", "created_at": "x", "created_by": "user"})
    store.put_faces([face("p1", 1, person="P"), face("p1", 2, person="Q"), face("p2", 1, person="P"),
                     face("p3", 1)])
    assert [p["person_id"] for p in store.people("alice")] == ["P", "Q"]
    assert store.get_person("Q")["name"] == "Bob" and store.get_person("nope") is None
    assert store.person_counts("alice") == {"P": (2, 2), "Q": (1, 1)}
    assert store.person_counts("alice", ["Q", "Z"]) == {"Q": (1, 1)}
    assert store.person_counts("bob", ["P"]) == {}
    store.put_person(dict(store.get_person("P"), name="Alice"))
    assert store.get_person("P")["name"] == "Alice"
    store.delete_person("Q")
    assert [p["person_id"] for p in store.people("alice")] == ["P"]


def test_owner_settings_and_deleting_everything_of_an_owner(store):
    assert store.get_owner("alice") == {"owner": "alice", "opted_out": False}
    store.put_faces([face("p1", 1, person="P"), face("q1", 1, owner="bob")])
    store.put_person({"person_id": "P", "owner": "alice", "name": "A", "created_at": "x", "created_by": "auto"})
    store.put_owner({"owner": "alice", "opted_out": True})
    store.delete_owner("alice")
    assert store.faces("alice") == [] and store.people("alice") == [] and store.embeddings("alice")[0] == []
    assert store.get_owner("alice")["opted_out"] is True
    assert [f["photo_id"] for f in store.faces("bob")] == ["q1"]
