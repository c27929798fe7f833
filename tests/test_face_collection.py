"""Faces on AWS: a Rekognition collection driven through botocore's Stubber (every call's
parameters checked), the face store on the OpenSearch adapter over HTTP, S3 on moto."""
import base64
import json
import uuid

import pytest
from botocore.stub import ANY

from chalicelib.keys import photo_id
from tests.conftest import BUCKET, COLLECTION
from tests.support import images
from tests.support.rekognition import PERSON, response
from tests.test_api import auth
from tests.test_indexing import created, index_event, put, remove_event, removed

LEFT = {"Width": 0.2, "Height": 0.3, "Left": 0.1, "Top": 0.2}
RIGHT = {"Width": 0.2, "Height": 0.3, "Left": 0.6, "Top": 0.2}


@pytest.fixture(autouse=True)
def faces_on(monkeypatch):
    monkeypatch.setenv("ANALYSIS_FEATURES", "labels,faces")


_shade = iter(range(10, 250, 3))


def body():
    """A distinct picture each time (identical bytes would reuse an earlier analysis)."""
    return images.jpeg(size=(400, 300), color=(next(_shade), 90, 60))


def rek_id():
    return str(uuid.uuid4())


def labels(stub):
    stub.stubber.add_response("detect_labels", response(PERSON), {"Image": ANY, "MinConfidence": ANY,
                                                                   "MaxLabels": ANY})


def indexed(stub, key, pid, *faces, attributes="ALL"):
    """IndexFaces for `key` answering with (FaceId, box) records.  With every attribute it is
    the pipeline's face detector (no DetectFaces); with DEFAULT it registers known faces, whose
    boxes Rekognition reports a little differently."""
    shift = 0.0 if attributes == "ALL" else 0.01
    stub.stubber.add_response("index_faces", {"FaceRecords": [
        {"Face": {"FaceId": fid, "BoundingBox": dict(box, Left=box["Left"] + shift), "ImageId": str(uuid.uuid4()),
                  "ExternalImageId": pid, "Confidence": 99.9},
         "FaceDetail": {"BoundingBox": box, "Confidence": 99.9, "AgeRange": {"Low": 30, "High": 40},
                        "Gender": {"Value": "Female", "Confidence": 99.0}}}
        for fid, box in faces], "FaceModelVersion": "7.0", "UnindexedFaces": []},
        {"CollectionId": COLLECTION, "Image": {"S3Object": {"Bucket": BUCKET, "Name": key}}, "ExternalImageId": pid,
         "DetectionAttributes": [attributes], "MaxFaces": 100, "QualityFilter": "NONE"})


def searched(stub, face, matches, threshold=82.0):
    stub.stubber.add_response("search_faces", {"SearchedFaceId": face, "FaceMatches": [
        {"Similarity": sim, "Face": {"FaceId": fid, "BoundingBox": LEFT, "Confidence": 99.0}}
        for fid, sim in matches], "FaceModelVersion": "7.0"},
        {"CollectionId": COLLECTION, "FaceId": face, "FaceMatchThreshold": threshold, "MaxFaces": 4096})


def error(stub, method, code, message=""):
    stub.stubber.add_client_error(method, service_error_code=code, service_message=message, http_status_code=400)


def upload(client, s3, stub, user, name, faces, matches=()):
    """One photo with `faces` [(FaceId, box)]; SearchFaces answers `matches` for its first face."""
    key = "usercontent/%s/%s" % (user.sub, name)
    pid = photo_id(BUCKET, key)
    etag = put(s3, key, body())
    labels(stub)
    indexed(stub, key, pid, *faces)
    for fid, _ in faces:
        searched(stub, fid, matches if fid == faces[0][0] else ())
    assert index_event(client, created(key, etag)) == ["indexed"]
    return pid, key


def test_faces_go_into_a_collection_created_on_first_use(client, services, s3, rekognition, users):
    alice = users["alice"]
    key = "usercontent/%s/one.jpg" % alice.sub
    pid, r1 = photo_id(BUCKET, key), rek_id()
    etag = put(s3, key, body())
    labels(rekognition)           # then IndexFaces finds and registers the faces: no DetectFaces
    error(rekognition, "index_faces", "ResourceNotFoundException", "The collection id: %s does not exist" % COLLECTION)
    rekognition.stubber.add_response("create_collection", {"StatusCode": 200, "FaceModelVersion": "7.0",
                                                           "CollectionArn": "arn:aws:rekognition:x"},
                                     {"CollectionId": COLLECTION})
    indexed(rekognition, key, pid, (r1, LEFT))
    searched(rekognition, r1, [])
    assert index_event(client, created(key, etag)) == ["indexed"]
    record, = services.faces.faces_of_photo(pid)
    assert record["matcher_id"] == r1 and record["owner"] == alice.sub and record["person_id"] is None
    doc = services.index.get(pid)[0]
    assert doc["faces_indexed"] is True and doc["faces"][0]["rekognition_face_id"] == r1   # kept with the photo
    face, = client.http.get("/photos/%s/faces" % pid, headers=auth(alice)).json_body["faces"]
    assert face["face_id"] == record["face_id"] and face["gender"] == "Female"
    assert "matcher_id" not in face and "rekognition_face_id" not in face


def test_creating_a_collection_that_exists_is_fine(services, rekognition):
    error(rekognition, "create_collection", "ResourceAlreadyExistsException")
    services.matcher.ensure_collection()


def test_grouping_uses_search_faces_and_never_another_users_faces(client, services, s3, rekognition, users):
    alice, bob = users["alice"], users["bob"]
    a1, b1, a2 = rek_id(), rek_id(), rek_id()
    upload(client, s3, rekognition, alice, "a1.jpg", [(a1, LEFT)])
    upload(client, s3, rekognition, bob, "b1.jpg", [(b1, LEFT)], matches=[(a1, 99.9)])   # alice's face: ignored
    upload(client, s3, rekognition, alice, "a2.jpg", [(a2, LEFT)], matches=[(b1, 99.9), (a1, 98.0)])
    person, = client.http.get("/people", headers=auth(alice)).json_body["people"]
    assert person["face_count"] == 2 and person["photo_count"] == 2
    assert client.http.get("/people", headers=auth(bob)).json_body == {"people": [], "unassigned_faces": 1}


def test_photos_of_a_face_come_from_search_faces_with_the_callers_threshold(client, services, s3, rekognition,
                                                                            users):
    alice, bob = users["alice"], users["bob"]
    a1, a2, b1 = rek_id(), rek_id(), rek_id()
    p1, _ = upload(client, s3, rekognition, alice, "a1.jpg", [(a1, LEFT)])
    p2, _ = upload(client, s3, rekognition, alice, "a2.jpg", [(a2, LEFT)])
    upload(client, s3, rekognition, bob, "b1.jpg", [(b1, LEFT)])
    face = services.faces.faces_of_photo(p1)[0]["face_id"]
    searched(rekognition, a1, [(b1, 99.5), (a2, 93.25)], threshold=90.0)
    r = client.http.get("/faces/%s/photos?threshold=90" % face, headers=auth(alice))
    assert r.status_code == 200
    assert [(p["photo_id"], p["similarity"]) for p in r.json_body["photos"]] == [(p1, 100.0), (p2, 93.25)]
    error(rekognition, "search_faces", "ThrottlingException")
    error(rekognition, "search_faces", "ThrottlingException")
    r = client.http.get("/faces/%s/photos" % face, headers=auth(alice))
    assert r.status_code == 503 and r.json_body["error"] == "ServiceUnavailable"


def test_search_by_image_uses_search_faces_by_image(client, services, s3, rekognition, users):
    alice = users["alice"]
    a1 = rek_id()
    p1, _ = upload(client, s3, rekognition, alice, "a1.jpg", [(a1, LEFT)])
    probe = images.jpeg(size=(300, 300))
    rekognition.stubber.add_response("search_faces_by_image", {
        "SearchedFaceBoundingBox": RIGHT, "SearchedFaceConfidence": 99.0, "FaceModelVersion": "7.0",
        "FaceMatches": [{"Similarity": 97.5, "Face": {"FaceId": a1, "BoundingBox": LEFT}},
                        {"Similarity": 99.0, "Face": {"FaceId": rek_id(), "BoundingBox": LEFT}}]},   # not ours
        {"CollectionId": COLLECTION, "Image": {"Bytes": probe}, "FaceMatchThreshold": 80.0, "MaxFaces": 4096})
    r = client.http.post("/faces/search", headers=auth(alice),
                         body=json.dumps({"image": base64.b64encode(probe).decode()}))
    assert r.status_code == 200, r.json_body
    assert [(p["photo_id"], p["similarity"]) for p in r.json_body["photos"]] == [(p1, 97.5)]
    assert r.json_body["searched_face"]["left"] == 0.6
    error(rekognition, "search_faces_by_image", "InvalidParameterException",
          "There are no faces in the image. Should be at least 1.")
    r = client.http.post("/faces/search", headers=auth(alice),
                         body=json.dumps({"image": base64.b64encode(probe).decode()}))
    assert r.status_code == 400 and r.json_body["error"] == "NoFace"


def test_compare_uses_compare_faces_on_the_stored_objects(client, services, s3, rekognition, users):
    alice = users["alice"]
    p1, k1 = upload(client, s3, rekognition, alice, "one.jpg", [(rek_id(), LEFT)])
    p2, k2 = upload(client, s3, rekognition, alice, "two.jpg", [(rek_id(), LEFT), (rek_id(), RIGHT)])
    rekognition.stubber.add_response("compare_faces", {
        "SourceImageFace": {"BoundingBox": LEFT, "Confidence": 99.9},
        "FaceMatches": [{"Similarity": 99.1, "Face": {"BoundingBox": dict(RIGHT, Top=0.21)}}],
        "UnmatchedFaces": [{"BoundingBox": LEFT}]},
        {"SourceImage": {"S3Object": {"Bucket": BUCKET, "Name": k1}},
         "TargetImage": {"S3Object": {"Bucket": BUCKET, "Name": k2}}, "SimilarityThreshold": 80.0})
    r = client.http.post("/faces/compare", headers=auth(alice), body=json.dumps({"source": p1, "target": p2}))
    assert r.status_code == 200, r.json_body
    target = {f["n"]: f["face_id"] for f in services.faces.faces_of_photo(p2)}
    assert r.json_body["matches"] == [{"box": {"width": 0.2, "height": 0.3, "left": 0.6, "top": 0.21},
                                       "similarity": 99.1, "face_id": target[2]}]
    assert r.json_body["unmatched"][0]["face_id"] == target[1]
    assert r.json_body["source"]["face"]["face_id"] == services.faces.faces_of_photo(p1)[0]["face_id"]


def test_removing_a_photo_deletes_its_faces_from_the_collection(client, services, s3, rekognition, users):
    alice = users["alice"]
    a1, a2 = rek_id(), rek_id()
    p1, k1 = upload(client, s3, rekognition, alice, "one.jpg", [(a1, LEFT), (a2, RIGHT)])
    rekognition.stubber.add_response("delete_faces", {"DeletedFaces": [a1, a2]},
                                     {"CollectionId": COLLECTION, "FaceIds": [a1, a2]})
    s3.delete_object(Bucket=BUCKET, Key=k1)
    assert remove_event(client, removed(k1)) == ["removed"]
    assert services.faces.faces_of_photo(p1) == [] and services.index.get(p1)[0] is None


def test_a_missing_collection_on_delete_still_removes_the_photo(client, services, s3, rekognition, users):
    alice = users["alice"]
    p1, k1 = upload(client, s3, rekognition, alice, "one.jpg", [(rek_id(), LEFT)])
    error(rekognition, "delete_faces", "ResourceNotFoundException")
    s3.delete_object(Bucket=BUCKET, Key=k1)
    assert remove_event(client, removed(k1)) == ["removed"]
    assert services.faces.faces_of_photo(p1) == []


def test_throttled_face_indexing_is_retried_then_fails_the_analysis_for_lambda_to_retry(
        client, services, s3, rekognition, users, monkeypatch):
    from chalicelib.retry import TransientError
    monkeypatch.setenv("RETRY_ATTEMPTS", "2")
    alice = users["alice"]
    key = "usercontent/%s/busy.jpg" % alice.sub
    pid, r1 = photo_id(BUCKET, key), rek_id()
    etag = put(s3, key, body())
    labels(rekognition)
    error(rekognition, "index_faces", "ThrottlingException")
    error(rekognition, "index_faces", "ProvisionedThroughputExceededException")
    with pytest.raises(TransientError):
        index_event(client, created(key, etag))
    doc = services.index.get(pid)[0]
    assert doc["status"] == "failed" and doc["retryable"] and services.faces.faces_of_photo(pid) == []
    labels(rekognition)                        # Lambda's retry: throttled once more, then through
    error(rekognition, "index_faces", "ThrottlingException")
    indexed(rekognition, key, pid, (r1, LEFT))
    searched(rekognition, r1, [])
    assert index_event(client, created(key, etag)) == ["indexed"]
    assert services.index.get(pid)[0]["faces_indexed"] is True
    assert services.faces.faces_of_photo(pid)[0]["matcher_id"] == r1


def test_a_copy_whose_faces_cannot_be_registered_is_left_for_the_reconciler(client, services, s3, rekognition,
                                                                          users, monkeypatch):
    """Identical bytes reuse the analysis, but the copy's faces need their own IndexFaces."""
    from chalicelib.pipeline.indexing import index_object, needs_retry
    monkeypatch.setenv("RETRY_ATTEMPTS", "2")
    alice = users["alice"]
    same = body()
    first, copy = "usercontent/%s/a.jpg" % alice.sub, "usercontent/%s/b.jpg" % alice.sub
    r1, r2 = rek_id(), rek_id()
    etag = put(s3, first, same)
    labels(rekognition)
    indexed(rekognition, first, photo_id(BUCKET, first), (r1, LEFT))
    searched(rekognition, r1, [])
    assert index_event(client, created(first, etag)) == ["indexed"]
    etag = put(s3, copy, same)
    error(rekognition, "index_faces", "ThrottlingException")
    error(rekognition, "index_faces", "ThrottlingException")
    assert index_event(client, created(copy, etag)) == ["indexed"]
    doc = services.index.get(photo_id(BUCKET, copy))[0]
    assert doc["reused_from"] == photo_id(BUCKET, first) and doc["faces_indexed"] is False and needs_retry(doc)
    indexed(rekognition, copy, photo_id(BUCKET, copy), (r2, LEFT), attributes="DEFAULT")  # the reconciler
    searched(rekognition, r2, [(r1, 100.0)])
    index_object(services, BUCKET, copy, source="reconcile")
    assert services.index.get(photo_id(BUCKET, copy))[0]["faces_indexed"] is True
    assert services.faces.faces_of_photo(photo_id(BUCKET, copy))[0]["matcher_id"] == r2


def test_opting_out_deletes_every_collection_entry_of_the_caller(client, services, s3, rekognition, users):
    alice, bob = users["alice"], users["bob"]
    a1, a2, b1 = rek_id(), rek_id(), rek_id()
    upload(client, s3, rekognition, alice, "a1.jpg", [(a1, LEFT), (a2, RIGHT)])
    upload(client, s3, rekognition, bob, "b1.jpg", [(b1, LEFT)])
    rekognition.stubber.add_response("delete_faces", {"DeletedFaces": [a1, a2]},
                                     {"CollectionId": COLLECTION, "FaceIds": ANY})
    r = client.http.delete("/faces", headers=auth(alice))
    assert r.status_code == 200 and r.json_body["deleted_faces"] == 2
    assert sorted(rekognition.sent[-1]["FaceIds"]) == sorted([a1, a2])
    assert services.faces.faces(alice.sub) == [] and len(services.faces.faces(bob.sub)) == 1


def test_two_users_who_upload_the_same_photo_each_get_their_own_faces(client, services, s3, rekognition, users):
    alice, bob = users["alice"], users["bob"]
    same = body()
    a1, b1 = rek_id(), rek_id()
    ids = {}
    for user, fid, matches in ((alice, a1, []), (bob, b1, [(a1, 100.0)])):
        key = "usercontent/%s/same.jpg" % user.sub
        ids[user.name] = photo_id(BUCKET, key)
        etag = put(s3, key, same)
        labels(rekognition)                         # analysed for each owner: nothing is shared across owners
        indexed(rekognition, key, ids[user.name], (fid, LEFT))
        searched(rekognition, fid, matches)
        assert index_event(client, created(key, etag)) == ["indexed"]
    bob_face = services.faces.faces_of_photo(ids["bob"])[0]
    assert bob_face["person_id"] is None and bob_face["owner"] == bob.sub   # alice's identical face never joins
    searched(rekognition, b1, [(a1, 100.0)], threshold=80.0)
    r = client.http.get("/faces/%s/photos" % bob_face["face_id"], headers=auth(bob))
    assert [p["photo_id"] for p in r.json_body["photos"]] == [ids["bob"]]
    r = client.http.get("/faces/%s/photos" % bob_face["face_id"], headers=auth(alice))
    assert r.status_code == 404


def test_with_face_indexing_off_faces_are_only_detected(client, services, s3, rekognition, users, monkeypatch):
    monkeypatch.setenv("FACE_INDEXING", "off")
    alice = users["alice"]
    key = "usercontent/%s/off.jpg" % alice.sub
    etag = put(s3, key, body())
    labels(rekognition)
    rekognition.stubber.add_response("detect_faces", {"FaceDetails": [{"BoundingBox": LEFT, "Confidence": 99.0}]},
                                     {"Image": ANY, "Attributes": ["ALL"]})
    assert index_event(client, created(key, etag)) == ["indexed"]       # no IndexFaces, no SearchFaces
    doc = services.index.get(photo_id(BUCKET, key))[0]
    assert doc["face_count"] == 1 and doc["faces_indexed"] is None and services.faces.faces(alice.sub) == []
