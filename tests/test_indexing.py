"""Indexing on upload and removal on delete, through the app's S3 event handlers."""
import json

import pytest

from chalicelib.keys import photo_id
from chalicelib.retry import TransientError
from tests.conftest import BUCKET, s3_event
from tests.support import images
from tests.support.rekognition import CAR_ON_STREET, DOG_ON_GRASS, PERSON_WITH_DOG


def put(s3, key, body=None, content_type="image/jpeg"):
    """Upload; the default body is a JPEG unique to the key (identical bytes would reuse an analysis)."""
    if body is None:
        import hashlib
        h = hashlib.sha256(key.encode()).digest()
        body = images.jpeg(color=(h[0], h[1], h[2]))
    return s3.put_object(Bucket=BUCKET, Key=key, Body=body, ContentType=content_type)["ETag"].strip('"')


def created(key, etag, seq="0055AED6DCD90281E5", size=1000, bucket=BUCKET, name="ObjectCreated:Put"):
    return (name, bucket, key, etag, seq, size)


def removed(key, seq="0055AED6DCD90281E6", bucket=BUCKET):
    return ("ObjectRemoved:Delete", bucket, key, None, seq, None)


def index_event(client, *records):
    return client.lambda_.invoke("index_photo", s3_event(records)).payload


def remove_event(client, *records):
    return client.lambda_.invoke("remove_photo", s3_event(records)).payload


def stored(services, key):
    return services.index.get(photo_id(BUCKET, key))[0]


def test_an_uploaded_photo_is_analysed_and_stored_with_everything(client, services, s3, rekognition):
    key = "usercontent/alice/trips/car.jpg"
    etag = put(s3, key)
    rekognition.labels(BUCKET, key, CAR_ON_STREET)
    assert index_event(client, created(key, etag)) == ["indexed"]
    doc = stored(services, key)
    assert doc["photo_id"] == photo_id(BUCKET, key) and doc["owner"] == "alice" and doc["bucket"] == BUCKET
    assert doc["key"] == key and doc["etag"] == etag and doc["status"] == "indexed"
    assert doc["content_type"] == "image/jpeg" and doc["size"] == s3.head_object(Bucket=BUCKET, Key=key)["ContentLength"]
    assert doc["uploaded_at"].endswith("Z") and doc["indexed_at"].endswith("Z")
    assert doc["engine"] == "rekognition" and doc["label_model_version"] == "3.0"
    car = doc["labels"][0]
    assert car["name"] == "Car" and car["confidence"] == 98.7
    assert car["parents"] == ["Vehicle", "Transportation"] and car["aliases"] == ["Automobile"]
    assert car["categories"] == ["Vehicles and Automotive"]
    assert car["instances"] == [{"box": {"width": 0.5, "height": 0.4, "left": 0.1, "top": 0.35},
                                 "confidence": 98.7}]
    assert {"car", "vehicle", "transportation", "automobile", "wheel", "street", "road"} <= set(doc["search_terms"])


def test_every_record_of_an_event_is_handled(client, services, s3, rekognition):
    keys = ["usercontent/alice/a.jpg", "usercontent/bob/b.png", "usercontent/alice/c.jpg"]
    etags = [put(s3, keys[0]), put(s3, keys[1], images.png(), "image/png"), put(s3, keys[2])]
    for key, response in zip(keys, (CAR_ON_STREET, DOG_ON_GRASS, DOG_ON_GRASS)):
        rekognition.labels(BUCKET, key, response)
    out = index_event(client, *[created(k, e) for k, e in zip(keys, etags)])
    assert out == ["indexed"] * 3
    assert stored(services, keys[1])["owner"] == "bob" and stored(services, keys[1])["content_type"] == "image/png"


@pytest.mark.parametrize("key", [
    "usercontent/alice/summer holiday/beach day.jpg",
    "usercontent/alice/1+1=2.jpg",
    "usercontent/alice/Fotos/Zürich/Mädchen 日本.jpg",
    "usercontent/alice/100%/a&b?c#d.jpg",
])
def test_odd_keys_are_decoded_from_the_event(client, services, s3, rekognition, key):
    etag = put(s3, key)
    rekognition.labels(BUCKET, key, DOG_ON_GRASS)
    assert index_event(client, created(key, etag)) == ["indexed"]
    assert stored(services, key)["key"] == key


def test_keys_outside_the_layout_and_other_events_are_ignored(client, services, s3):
    etag = put(s3, "usercontent/alice/x.jpg")
    out = index_event(client,
                      created("thumbnails/alice/x.jpg", etag), created("usercontent/alice/", etag),
                      created("usercontent/x.jpg", etag), created("usercontent/alice/x.jpg", etag, bucket="elsewhere"),
                      created("usercontent/alice/x.jpg", etag, name="ObjectRestore:Completed"))
    assert out == ["ignored"] * 5


def test_a_duplicate_event_does_nothing_new(client, services, s3, rekognition):
    key = "usercontent/alice/car.jpg"
    etag = put(s3, key)
    rekognition.labels(BUCKET, key, CAR_ON_STREET)
    assert index_event(client, created(key, etag)) == ["indexed"]
    first = stored(services, key)
    # no second DetectLabels is queued: the Stubber would fail the call
    assert index_event(client, created(key, etag)) == ["duplicate"]
    assert stored(services, key) == first


def test_an_older_event_never_overwrites_newer_data(client, services, s3, rekognition):
    key = "usercontent/alice/photo.jpg"
    put(s3, key, images.jpeg(color=(1, 2, 3)))
    new_etag = put(s3, key, images.jpeg(color=(9, 9, 9)))
    rekognition.labels(BUCKET, key, DOG_ON_GRASS)
    assert index_event(client, created(key, new_etag, seq="0055AED6DCD9028200")) == ["indexed"]
    assert index_event(client, created(key, "old-etag", seq="0055AED6DCD90281FF")) == ["stale"]
    assert stored(services, key)["etag"] == new_etag


def test_an_event_for_content_that_has_since_changed_waits_for_its_own_event(client, services, s3):
    key = "usercontent/alice/photo.jpg"
    put(s3, key)
    assert index_event(client, created(key, "etag-of-an-earlier-version")) == ["superseded"]
    assert stored(services, key) is None


def test_an_event_for_a_deleted_object_stores_nothing(client, services):
    assert index_event(client, created("usercontent/alice/gone.jpg", "abc")) == ["gone"]
    assert stored(services, "usercontent/alice/gone.jpg") is None


def test_sequencers_of_different_lengths_compare_after_right_padding(client, services, s3, rekognition):
    key = "usercontent/alice/p.jpg"
    etag = put(s3, key)
    rekognition.labels(BUCKET, key, DOG_ON_GRASS)
    assert index_event(client, created(key, etag, seq="0055AED6DCD90281E5AB")) == ["indexed"]
    # "0055AED6DCD90281E5" pads to ...E500 < ...E5AB: older
    assert index_event(client, created(key, etag, seq="0055AED6DCD90281E5")) == ["stale"]


def test_a_non_image_is_stored_as_unsupported_with_a_reason(client, services, s3):
    key = "usercontent/alice/not-really.jpg"
    etag = put(s3, key, b"%PDF-1.7 this is not a picture at all")
    assert index_event(client, created(key, etag)) == ["unsupported"]
    doc = stored(services, key)
    assert doc["status"] == "unsupported" and doc["reason"].startswith("NotSupportedImageType")
    assert doc["labels"] == [] and doc["retryable"] is False


@pytest.mark.parametrize("body,reason", [
    (b"", "EmptyObject"),
    (b"\xff\xd8\xff" + b"\0" * (50 * 1024 * 1024 + 1), "ImageTooLarge"),
    (b"BM" + b"\0" * 64, "NotSupportedImageType"),
    (b"RIFF\x00\x00\x00\x00WAVEfmt ", "NotSupportedImageType"),
])
def test_unsupported_objects_are_recorded_without_calling_rekognition(client, services, s3, body, reason):
    key = "usercontent/alice/file.png"
    etag = put(s3, key, body)
    assert index_event(client, created(key, etag)) == ["unsupported"]
    assert stored(services, key)["reason"].startswith(reason)


@pytest.mark.parametrize("code", ["InvalidImageFormatException", "ImageTooLargeException",
                                  "InvalidParameterException"])
def test_images_rekognition_rejects_are_failed_with_a_visible_reason(client, services, s3, rekognition, code):
    key = "usercontent/alice/bad.jpg"
    etag = put(s3, key, images.jpeg())
    rekognition.error(code, "Request has invalid image format")
    assert index_event(client, created(key, etag)) == ["failed"]
    doc = stored(services, key)
    assert doc["status"] == "failed" and doc["retryable"] is False
    assert doc["reason"] == "%s: Request has invalid image format" % code.replace("Exception", "")


def test_throttling_is_retried_with_backoff_then_succeeds(client, services, s3, rekognition, monkeypatch):
    monkeypatch.setenv("RETRY_ATTEMPTS", "4")
    key = "usercontent/alice/car.jpg"
    etag = put(s3, key)
    rekognition.error("ThrottlingException", "Rate exceeded")
    rekognition.error("ProvisionedThroughputExceededException", status=400)
    rekognition.error("InternalServerError", status=500)
    rekognition.labels(BUCKET, key, CAR_ON_STREET)
    assert index_event(client, created(key, etag)) == ["indexed"]


def test_persistent_throttling_is_recorded_then_raised_for_lambda_to_retry(client, services, s3, rekognition,
                                                                          monkeypatch):
    monkeypatch.setenv("RETRY_ATTEMPTS", "3")
    key = "usercontent/alice/car.jpg"
    etag = put(s3, key)
    for _ in range(3):
        rekognition.error("ThrottlingException", "Rate exceeded")
    with pytest.raises(TransientError):
        index_event(client, created(key, etag))
    doc = stored(services, key)
    assert doc["status"] == "failed" and doc["retryable"] is True and "ThrottlingException" in doc["reason"]
    # Lambda's retry of the same event is not a duplicate: it analyses again
    rekognition.labels(BUCKET, key, CAR_ON_STREET)
    assert index_event(client, created(key, etag)) == ["indexed"]
    assert stored(services, key)["attempts"] == 2


def test_a_transient_failure_does_not_stop_the_other_records(client, services, s3, rekognition, monkeypatch):
    monkeypatch.setenv("RETRY_ATTEMPTS", "1")
    a, b = "usercontent/alice/a.jpg", "usercontent/alice/b.jpg"
    ea, eb = put(s3, a), put(s3, b)
    rekognition.error("ThrottlingException")
    rekognition.labels(BUCKET, b, DOG_ON_GRASS)
    with pytest.raises(TransientError):
        index_event(client, created(a, ea), created(b, eb))
    assert stored(services, a)["status"] == "failed" and stored(services, b)["status"] == "indexed"


def test_removal_deletes_the_document_and_is_idempotent(client, services, s3, rekognition):
    key = "usercontent/alice/car.jpg"
    etag = put(s3, key)
    rekognition.labels(BUCKET, key, CAR_ON_STREET)
    index_event(client, created(key, etag))
    s3.delete_object(Bucket=BUCKET, Key=key)
    assert remove_event(client, removed(key)) == ["removed"]
    assert stored(services, key) is None
    assert remove_event(client, removed(key)) == ["absent"]


def test_a_late_removal_event_keeps_a_newer_upload(client, services, s3, rekognition):
    key = "usercontent/alice/car.jpg"
    etag = put(s3, key)
    rekognition.labels(BUCKET, key, CAR_ON_STREET)
    index_event(client, created(key, etag, seq="00000000000000000A"))
    assert remove_event(client, removed(key, seq="000000000000000009")) == ["stale"]
    assert stored(services, key) is not None


def test_the_removal_handler_ignores_creation_records(client, services, s3, rekognition):
    key = "usercontent/alice/car.jpg"
    etag = put(s3, key)
    rekognition.labels(BUCKET, key, CAR_ON_STREET)
    index_event(client, created(key, etag))
    assert remove_event(client, created(key, etag)) == ["ignored"]
    assert stored(services, key) is not None


def test_each_event_logs_one_json_line_with_photo_id_and_outcome(client, services, s3, rekognition, capsys):
    key = "usercontent/alice/car.jpg"
    etag = put(s3, key)
    rekognition.labels(BUCKET, key, CAR_ON_STREET)
    capsys.readouterr()
    index_event(client, created(key, etag))
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [(line["event"], line["outcome"], line["photo_id"]) for line in lines] == [
        ("index", "indexed", photo_id(BUCKET, key))]
    assert lines[0]["labels"] == 3 and lines[0]["level"] == "INFO" and "ms" in lines[0]
    assert key not in json.dumps(lines)  # keys (user content) stay out of logs


def test_the_test_clients_own_s3_event_is_handled(client, services, s3, rekognition):
    key = "usercontent/alice/generated.jpg"
    etag = put(s3, key)
    event = client.events.generate_s3_event(bucket=BUCKET, key=key)
    event["Records"][0]["s3"]["object"]["eTag"] = etag
    rekognition.labels(BUCKET, key, CAR_ON_STREET)
    assert client.lambda_.invoke("index_photo", event).payload == ["indexed"]
    delete = client.events.generate_s3_event(bucket=BUCKET, key=key, event_name="ObjectRemoved:Delete")
    delete["Records"][0]["s3"]["object"]["sequencer"] = "005B039F73C627CE8C"   # later than the upload
    assert client.lambda_.invoke("remove_photo", delete).payload == ["removed"]


def test_with_rekognition_the_text_feature_calls_detect_text_and_makes_words_searchable(client, services, s3,
                                                                                       rekognition, users,
                                                                                       monkeypatch):
    monkeypatch.setenv("ANALYSIS_FEATURES", "labels,text")
    alice = users["alice"]
    key = "usercontent/%s/sign.jpg" % alice.sub
    etag = put(s3, key)
    rekognition.labels(BUCKET, key, DOG_ON_GRASS)
    rekognition.stubber.add_response("detect_text", {"TextDetections": [
        {"DetectedText": "BEWARE OF THE DOG", "Type": "LINE", "Id": 0, "Confidence": 97.0,
         "Geometry": {"BoundingBox": {"Width": 0.5, "Height": 0.1, "Left": 0.2, "Top": 0.1}, "Polygon": []}}]},
        {"Image": {"S3Object": {"Bucket": BUCKET, "Name": key}}})
    assert index_event(client, created(key, etag)) == ["indexed"]
    r = client.http.get("/photos?q=beware", headers={"Authorization": alice.token})
    assert [p["photo_id"] for p in r.json_body["photos"]] == [photo_id(BUCKET, key)]
    assert r.json_body["photos"][0]["text"][0]["text"] == "BEWARE OF THE DOG"


def _real(name):
    from tests.support import photos
    with open(photos.path(name), "rb") as f:
        return f.read()


def test_camera_metadata_is_stored_with_the_photo(client, services, s3, rekognition):
    key = "usercontent/alice/camera/canon.jpg"
    etag = put(s3, key, _real("r_canon.jpg"))
    rekognition.labels(BUCKET, key, CAR_ON_STREET)
    assert index_event(client, created(key, etag)) == ["indexed"]
    doc = stored(services, key)
    assert doc["metadata"]["camera_model"] == "Canon PowerShot G1 X Mark II"
    assert doc["camera_make"] == "canon" and doc["format"] == "jpeg"
    assert doc["taken_at"] == "2013-12-17T14:04:24Z" and doc["photo_time"] == doc["taken_at"]
    assert doc["location"] is None and doc["face_count"] == 0 and doc["has_text"] is False


def _sent_image(rekognition):
    import io
    from PIL import Image
    data = rekognition.sent[-1]["Image"]["Bytes"]
    return data, Image.open(io.BytesIO(data))


def test_a_phone_heic_is_converted_to_jpeg_for_rekognition_with_metadata_and_gps(client, services, s3,
                                                                                 rekognition):
    key = "usercontent/alice/phone/pug.heic"
    etag = put(s3, key, _real("pug.heic"), "image/heic")
    rekognition.labels_for_bytes(DOG_ON_GRASS)
    assert index_event(client, created(key, etag)) == ["indexed"]
    data, sent = _sent_image(rekognition)
    assert sent.format == "JPEG" and sent.size == (4032, 3024) and len(data) <= 5 * 1024 * 1024
    doc = stored(services, key)
    assert doc["labels"][0]["name"] == "Dog" and doc["content_type"] == "image/heic"
    assert doc["metadata"]["camera_model"] == "iPhone 13 Pro"
    assert doc["location"] == {"lat": 44.8504778, "lon": 34.9766472} and doc["format"] == "heic"


@pytest.mark.parametrize("fmt", ["WEBP", "GIF", "TIFF", "BMP"])
def test_other_formats_are_converted_to_jpeg(client, services, s3, rekognition, fmt):
    key = "usercontent/alice/picture." + fmt.lower()
    etag = put(s3, key, images.image_bytes(fmt), "image/" + fmt.lower())
    rekognition.labels_for_bytes(CAR_ON_STREET)
    assert index_event(client, created(key, etag)) == ["indexed"]
    assert _sent_image(rekognition)[1].format == "JPEG"
    assert stored(services, key)["format"] == fmt.lower().replace("tiff", "tiff")


def test_exif_orientation_is_applied_before_analysis(client, services, s3, rekognition):
    import io
    from PIL import Image, ImageChops, ImageOps
    key = "usercontent/alice/rotated.jpg"
    original = _real("hopper_orientation_6.jpg")
    etag = put(s3, key, original)
    rekognition.labels_for_bytes(PERSON_WITH_DOG)
    assert index_event(client, created(key, etag)) == ["indexed"]
    _, sent = _sent_image(rekognition)
    stored_as = Image.open(io.BytesIO(original)).convert("RGB")
    displayed = ImageOps.exif_transpose(Image.open(io.BytesIO(original))).convert("RGB")

    def diff(a, b):
        import numpy as np
        return float(np.asarray(ImageChops.difference(a, b).convert("L"), dtype=np.float64).mean())
    assert diff(sent.convert("RGB"), displayed) < 5 < diff(sent.convert("RGB"), stored_as)


def test_a_decompression_bomb_is_unsupported_as_too_large(client, services, s3):
    key = "usercontent/alice/bomb.gif"
    etag = put(s3, key, _real("decompression_bomb.gif"), "image/gif")
    assert index_event(client, created(key, etag)) == ["unsupported"]
    assert stored(services, key)["reason"].startswith("ImageTooLarge")


def test_a_broken_jpeg_fails_without_paying_for_analysis(client, services, s3):
    key = "usercontent/alice/broken.jpg"
    etag = put(s3, key, b"\xff\xd8\xff\xe0 not really a jpeg")
    assert index_event(client, created(key, etag)) == ["failed"]   # no Rekognition call queued
    assert stored(services, key)["reason"].startswith("InvalidImageFormat")


@pytest.mark.parametrize("orientation", range(2, 9))
def test_a_thumbnail_is_made_as_displayed_and_deleted_with_the_photo(client, services, s3, rekognition,
                                                                     orientation):
    import io
    from PIL import Image, ImageChops, ImageOps
    key = "usercontent/alice/big/rotated.jpg"
    original = _real("hopper_orientation_%d.jpg" % orientation)
    big = Image.open(io.BytesIO(original))
    exif = big.getexif()
    enlarged = io.BytesIO()
    big.convert("RGB").resize((1024, 1024)).save(enlarged, "JPEG", exif=exif.tobytes())
    original = enlarged.getvalue()
    etag = put(s3, key, enlarged.getvalue())
    rekognition.labels_for_bytes(PERSON_WITH_DOG)
    assert index_event(client, created(key, etag)) == ["indexed"]
    doc = stored(services, key)
    assert doc["thumbnails"] == {"thumbnail": "thumbnails/alice/big/rotated.jpg/thumb.jpg", "faces": []}
    thumb = Image.open(io.BytesIO(s3.get_object(Bucket=BUCKET, Key="thumbnails/alice/big/rotated.jpg/thumb.jpg")["Body"].read()))
    assert thumb.format == "JPEG" and max(thumb.size) == 256
    displayed = ImageOps.exif_transpose(Image.open(io.BytesIO(original))).convert("RGB").resize(thumb.size)
    import numpy as np
    assert float(np.asarray(ImageChops.difference(thumb.convert("RGB"), displayed), dtype=float).mean()) < 8
    s3.delete_object(Bucket=BUCKET, Key=key)
    assert remove_event(client, removed(key)) == ["removed"]
    assert "Contents" not in s3.list_objects_v2(Bucket=BUCKET, Prefix="thumbnails/")


def test_thumbnails_can_be_turned_off(client, services, s3, rekognition, monkeypatch):
    monkeypatch.setenv("THUMBNAIL_SIZE", "0")
    key = "usercontent/alice/plain.jpg"
    etag = put(s3, key)
    rekognition.labels(BUCKET, key, CAR_ON_STREET)
    assert index_event(client, created(key, etag)) == ["indexed"]
    assert stored(services, key)["thumbnails"] is None
    assert "Contents" not in s3.list_objects_v2(Bucket=BUCKET, Prefix="thumbnails/")


@pytest.mark.parametrize("name", ["crash-465703f71a0f0094873a3e0e82c9f798161171b8.sgi",
                                  "crash-4fb027452e6988530aa5dabee76eecacb3b79f8a.j2k", "crash-5762152299364352.fli",
                                  "crash-754d9c7ec485ffb76a90eeaab191ef69a2a3a3cd.sgi",
                                  "crash-d2c93af851d3ab9a19e34503626368b2ecde9c03.j2k", "broken.png",
                                  "broken_data_stream.png", "cross_scan_line_truncated.tga", "truncated_jpeg.jpg",
                                  "corrupted.heic"])
def test_fuzzer_crash_and_broken_files_end_with_a_reason_not_a_crash(client, services, s3, name):
    key = "usercontent/alice/hostile/" + name
    etag = put(s3, key, _real(name), "application/octet-stream")
    outcome = index_event(client, created(key, etag))   # no Rekognition call is queued
    doc = stored(services, key)
    assert outcome in (["unsupported"], ["failed"]) and doc["status"] == outcome[0]
    assert doc["reason"].split(":")[0] in ("NotSupportedImageType", "InvalidImageFormat", "ImageTooLarge")
    assert doc["retryable"] is False


def test_the_byte_limit_is_configurable_and_big_jpegs_are_converted(client, services, s3, rekognition,
                                                                    monkeypatch):
    import io
    import os
    from PIL import Image
    noise = Image.frombytes("RGB", (3000, 3000), os.urandom(3000 * 3000 * 3))
    out = io.BytesIO()
    noise.save(out, "JPEG", quality=100)
    data = out.getvalue()
    assert len(data) > 15 * 1024 * 1024          # over Rekognition's S3 limit
    key = "usercontent/alice/huge.jpg"
    etag = put(s3, key, data)
    rekognition.labels_for_bytes(CAR_ON_STREET)
    assert index_event(client, created(key, etag)) == ["indexed"]
    assert len(rekognition.sent[-1]["Image"]["Bytes"]) <= 5 * 1024 * 1024
    monkeypatch.setenv("MAX_PHOTO_BYTES", str(len(data) - 1))
    key2 = "usercontent/alice/huge2.jpg"
    etag2 = put(s3, key2, data)
    assert index_event(client, created(key2, etag2)) == ["unsupported"]
    assert stored(services, key2)["reason"].startswith("ImageTooLarge")



def test_identical_bytes_of_one_owner_reuse_the_analysis_and_stay_independent(client, services, s3, rekognition):
    data = _real("r_canon.jpg")
    first, second = "usercontent/alice/a/canon.jpg", "usercontent/alice/b/copy of canon.jpg"
    e1 = put(s3, first, data)
    rekognition.labels(BUCKET, first, CAR_ON_STREET)
    assert index_event(client, created(first, e1)) == ["indexed"]
    e2 = put(s3, second, data)
    assert index_event(client, created(second, e2)) == ["indexed"]     # no second DetectLabels queued
    copy = stored(services, second)
    assert copy["reused_from"] == photo_id(BUCKET, first) and copy["labels"][0]["name"] == "Car"
    assert copy["thumbnails"]["thumbnail"] == "thumbnails/alice/b/copy of canon.jpg/thumb.jpg"
    services.index.refresh()
    hits = services.index.search("alice", ["car"], 10)
    assert sorted(h["photo_id"] for h in hits.hits) == sorted([photo_id(BUCKET, first), photo_id(BUCKET, second)])
    s3.delete_object(Bucket=BUCKET, Key=first)
    assert remove_event(client, removed(first)) == ["removed"]
    services.index.refresh()
    assert [h["photo_id"] for h in services.index.search("alice", ["car"], 10).hits] == [photo_id(BUCKET, second)]


def test_another_owners_identical_bytes_are_analysed_anew(client, services, s3, rekognition):
    data = _real("r_canon.jpg")
    a, b = "usercontent/alice/canon.jpg", "usercontent/bob/canon.jpg"
    rekognition.labels(BUCKET, a, CAR_ON_STREET)
    rekognition.labels(BUCKET, b, DOG_ON_GRASS)
    assert index_event(client, created(a, put(s3, a, data))) == ["indexed"]
    assert index_event(client, created(b, put(s3, b, data))) == ["indexed"]
    assert stored(services, b).get("reused_from") is None and stored(services, b)["labels"][0]["name"] == "Dog"
