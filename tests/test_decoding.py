"""The pipeline's decoding: hostile files end with a reason, the decode budget, one decode per
photo, and pictures under Rekognition's 80 px padded rather than failed."""
import io

import pytest
from PIL import Image

from tests.conftest import BUCKET
from tests.support import hostile, photos
from tests.support.rekognition import label, response
from tests.test_indexing import created, index_event, put, stored


def test_a_dds_declared_as_jpeg_is_unsupported_not_a_crash(client, services, s3):
    key = "usercontent/alice/hostile/texture.jpg"
    etag = put(s3, key, hostile.dds_unknown_fourcc(), "image/jpeg")
    assert index_event(client, created(key, etag)) == ["unsupported"]     # no Rekognition call is queued
    doc = stored(services, key)
    assert doc["reason"].startswith("NotSupportedImageType") and doc["retryable"] is False


@pytest.mark.parametrize("name,data,status,reason", [
    ("truncated.png", photos.encode(photos.load("chelsea.png"), "PNG")[:20000], "failed", "InvalidImageFormat"),
    ("huge.png", hostile.png_declaring(200_000, 200_000), "unsupported", "ImageTooLarge"),
    ("wide.png", hostile.png_declaring(4_294_967_295, 1), "unsupported", "ImageTooLarge"),
    ("bomb16.png", hostile.png_declaring(9999, 9999, 16, 0), "failed", "InvalidImageFormat"),
])
def test_hostile_pngs_end_with_a_reason(client, services, s3, name, data, status, reason):
    key = "usercontent/alice/hostile/" + name
    etag = put(s3, key, data, "image/png")
    assert index_event(client, created(key, etag)) == [status]
    doc = stored(services, key)
    assert doc["reason"].startswith(reason) and doc["retryable"] is False


def test_a_photo_over_the_decode_budget_is_unsupported_before_its_pixels_are_decoded(client, services, s3,
                                                                                    monkeypatch):
    from PIL import ImageFile
    loads = []
    real = ImageFile.ImageFile.load
    monkeypatch.setattr(ImageFile.ImageFile, "load", lambda self: (loads.append(self.size), real(self))[1])
    monkeypatch.setenv("DECODE_MAX_BYTES", str(1000 * 1000 * 4 - 1))
    key = "usercontent/alice/big.png"
    etag = put(s3, key, photos.encode(Image.new("RGB", (1000, 1000), (20, 90, 160)), "PNG"), "image/png")
    assert index_event(client, created(key, etag)) == ["unsupported"]
    doc = stored(services, key)
    assert doc["reason"].startswith("ImageTooLarge: decoding 1000x1000 pixels") and loads == []
    assert doc["metadata"]["width"] == 1000 and doc["retryable"] is False


def test_a_rotated_photo_with_a_face_is_decoded_once(client, services, s3, rekognition, monkeypatch):
    """The thumbnail, the JPEG converted for Rekognition and the face crop come from one decode
    (before: three, one of them at full size)."""
    from PIL import ImageFile
    monkeypatch.setenv("ANALYSIS_FEATURES", "labels,faces")
    monkeypatch.setenv("FACE_INDEXING", "off")
    exif = Image.Exif()
    exif[0x0112] = 6
    data = photos.encode(photos.load("astronaut.png").resize((3000, 2400)), "JPEG", exif=exif.tobytes())
    key = "usercontent/alice/portrait.jpg"
    etag = put(s3, key, data)
    rekognition.labels_for_bytes(response(label("Person", 99.0)))
    rekognition.stubber.add_response("detect_faces", {"FaceDetails": [
        {"BoundingBox": {"Width": 0.2, "Height": 0.25, "Left": 0.4, "Top": 0.1}, "Confidence": 99.9}]})
    loaded = []
    real = ImageFile.ImageFile.load

    def load(self):
        if self.format == "JPEG" and not any(self is seen for seen in loaded):
            loaded.append(self)
        return real(self)
    monkeypatch.setattr(ImageFile.ImageFile, "load", load)
    assert index_event(client, created(key, etag)) == ["indexed"]
    doc = stored(services, key)
    assert len(doc["thumbnails"]["faces"]) == 1
    assert len(loaded) == 1 and loaded[0].size == (3000, 2400)       # the stored photo, once
    sent = Image.open(io.BytesIO(rekognition.sent[0]["Image"]["Bytes"]))
    assert sent.size == (2400, 3000)                                  # as displayed


def test_a_banner_under_80_px_is_padded_for_rekognition_and_its_boxes_are_the_banners(client, services, s3,
                                                                                       rekognition):
    key = "usercontent/alice/banner.png"
    etag = put(s3, key, photos.encode(Image.new("RGB", (188, 76), (240, 200, 20)), "PNG"), "image/png")
    # the box Rekognition answers covers rows 2..78 of the 80 sent: the whole banner
    rekognition.labels_for_bytes(response(label("Banner", 93.0, instances=[(0.25, 0.025, 0.5, 0.95, 93.0)])))
    assert index_event(client, created(key, etag)) == ["indexed"]
    sent = Image.open(io.BytesIO(rekognition.sent[0]["Image"]["Bytes"]))
    assert sent.size == (188, 80)
    doc = stored(services, key)
    assert doc["status"] == "indexed" and doc["metadata"]["width"] == 188 and doc["metadata"]["height"] == 76
    assert doc["labels"][0]["instances"][0]["box"] == {"width": 0.5, "height": 1.0, "left": 0.25, "top": 0.0}
    thumb = Image.open(io.BytesIO(s3.get_object(Bucket=BUCKET, Key=doc["thumbnails"]["thumbnail"])["Body"].read()))
    assert thumb.size == (188, 76)                                   # the banner itself, not padded
