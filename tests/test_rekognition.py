"""The Rekognition analyzer at the boto3 boundary (botocore Stubber)."""
import pytest

from chalicelib.analysis import ImageRejected, PhotoSource, normalize_labels
from chalicelib.analysis.rekognition import RekognitionAnalyzer
from chalicelib.retry import TransientError, call_with_retries
from tests.support.rekognition import CAR_ON_STREET

SOURCE = PhotoSource("bucket", "usercontent/a/b c.jpg", "etag")


def test_detect_labels_reads_the_s3_object_with_the_configured_limits(rekognition):
    rekognition.labels("bucket", "usercontent/a/b c.jpg", CAR_ON_STREET, min_confidence=70.0, max_labels=10)
    result = RekognitionAnalyzer(rekognition.client).analyze(SOURCE, ("labels",), 70.0, 10)
    assert [lab["Name"] for lab in result["Labels"]] == ["Car", "Wheel", "Street"]
    assert result["LabelModelVersion"] == "3.0"


@pytest.mark.parametrize("code,error", [
    ("InvalidImageFormatException", ImageRejected), ("ImageTooLargeException", ImageRejected),
    ("InvalidParameterException", ImageRejected), ("ThrottlingException", TransientError),
    ("ProvisionedThroughputExceededException", TransientError), ("InternalServerError", TransientError),
    ("AccessDeniedException", TransientError), ("InvalidS3ObjectException", TransientError),
])
def test_error_codes_are_classified(rekognition, code, error):
    rekognition.error(code)
    with pytest.raises(error):
        RekognitionAnalyzer(rekognition.client).analyze(SOURCE, ("labels",), 55.0, 50)


def test_backoff_waits_grow_with_full_jitter_and_stop_at_the_deadline():
    waits, calls = [], []

    def flaky():
        calls.append(1)
        raise TransientError("ThrottlingException")

    with pytest.raises(TransientError):
        call_with_retries(flaky, attempts=5, base=0.1, cap=0.3, sleep=waits.append)
    assert len(calls) == 5 and len(waits) == 4
    assert all(0 <= w <= cap for w, cap in zip(waits, [0.1, 0.2, 0.3, 0.3]))
    calls.clear()
    with pytest.raises(TransientError):
        call_with_retries(flaky, attempts=5, base=10, cap=10, sleep=waits.append, deadline=0)
    assert len(calls) == 1


def test_labels_are_normalized_and_ordered_by_confidence():
    labels = normalize_labels({"Labels": list(reversed(CAR_ON_STREET["Labels"]))})
    assert [lab["name"] for lab in labels] == ["Car", "Wheel", "Street"]
    assert labels[1]["instances"][1] == {"box": {"width": 0.1, "height": 0.12, "left": 0.48, "top": 0.61},
                                         "confidence": 88.0}


def test_text_and_properties_are_separate_billed_calls_in_rekognitions_shapes(rekognition):
    text = {"TextDetections": [
        {"DetectedText": "OPEN", "Type": "LINE", "Id": 0, "Confidence": 99.1,
         "Geometry": {"BoundingBox": {"Width": 0.3, "Height": 0.1, "Left": 0.1, "Top": 0.2}, "Polygon": []}},
        {"DetectedText": "OPEN", "Type": "WORD", "Id": 1, "ParentId": 0, "Confidence": 99.1,
         "Geometry": {"BoundingBox": {"Width": 0.3, "Height": 0.1, "Left": 0.1, "Top": 0.2}, "Polygon": []}}]}
    props = dict(CAR_ON_STREET, ImageProperties={
        "Quality": {"Brightness": 61.2, "Sharpness": 88.4, "Contrast": 70.0},
        "DominantColors": [{"Red": 200, "Green": 30, "Blue": 30, "HexCode": "#C81E1E", "CSSColor": "firebrick",
                            "SimplifiedColor": "red", "PixelPercent": 41.5}]})
    rekognition.stubber.add_response("detect_labels", props, {
        "Image": {"S3Object": {"Bucket": "bucket", "Name": SOURCE.key}}, "MaxLabels": 50, "MinConfidence": 55.0,
        "Features": ["GENERAL_LABELS", "IMAGE_PROPERTIES"]})
    rekognition.stubber.add_response("detect_text", text, {"Image": {"S3Object": {"Bucket": "bucket",
                                                                                   "Name": SOURCE.key}}})
    result = RekognitionAnalyzer(rekognition.client).analyze(SOURCE, ("labels", "text", "properties"), 55.0, 50)
    from chalicelib.analysis import normalize_properties, normalize_text
    assert normalize_text(result["TextDetections"]) == [{
        "text": "OPEN", "confidence": 99.1, "box": {"width": 0.3, "height": 0.1, "left": 0.1, "top": 0.2},
        "words": [{"text": "OPEN", "confidence": 99.1, "box": {"width": 0.3, "height": 0.1, "left": 0.1,
                                                              "top": 0.2}}]}]
    assert normalize_properties(result["ImageProperties"]) == {
        "quality": {"brightness": 61.2, "sharpness": 88.4, "contrast": 70.0},
        "dominant_colors": [{"hex": "#C81E1E", "css": "firebrick", "simplified": "red", "percent": 41.5}]}


def test_faces_and_moderation_become_detect_faces_and_detect_moderation_labels(rekognition):
    image = {"S3Object": {"Bucket": "bucket", "Name": SOURCE.key}}
    face = {"BoundingBox": {"Width": 0.2, "Height": 0.3, "Left": 0.4, "Top": 0.1}, "Confidence": 99.9,
            "AgeRange": {"Low": 29, "High": 37}, "Gender": {"Value": "Female", "Confidence": 99.0},
            "Landmarks": [{"Type": "eyeLeft", "X": 0.45, "Y": 0.2}], "Pose": {"Roll": 1.5, "Yaw": -3.0, "Pitch": 2.0},
            "Quality": {"Brightness": 70.0, "Sharpness": 80.0}}
    rekognition.stubber.add_response("detect_moderation_labels", {"ModerationLabels": []},
                                     {"Image": image, "MinConfidence": 50.0})
    rekognition.stubber.add_response("detect_faces", {"FaceDetails": [face]}, {"Image": image, "Attributes": ["ALL"]})
    result = RekognitionAnalyzer(rekognition.client).analyze(SOURCE, ("faces", "moderation"), 55.0, 50)
    from chalicelib.analysis import normalize_faces
    assert result["ModerationLabels"] == [] and "Labels" not in result
    assert normalize_faces(result["FaceDetails"]) == [{
        "box": {"width": 0.2, "height": 0.3, "left": 0.4, "top": 0.1}, "confidence": 99.9,
        "landmarks": [{"type": "eyeLeft", "x": 0.45, "y": 0.2}], "age_range": {"low": 29, "high": 37},
        "gender": "Female", "pose": {"roll": 1.5, "yaw": -3.0, "pitch": 2.0},
        "quality": {"brightness": 70.0, "sharpness": 80.0}}]


# ---- pictures under 80 px: padded, and every box mapped back ------------------------------------

def _padded_banner():
    """A 188x76 banner sent as 188x80 (2 rows of padding above, 2 below)."""
    from PIL import Image
    from chalicelib import media
    img = Image.new("RGB", (188, 76), "white")
    return media.Picture(img, img.size).jpeg(min_side=80)


def test_unframe_maps_every_box_and_point_back_to_the_pictures_ratios():
    from chalicelib.analysis import unframe
    from chalicelib.media import Frame
    frame = Frame(left=10, top=2, width=60, height=76, outer_width=80, outer_height=80)
    box = {"Width": 0.5, "Height": 0.5, "Left": 0.25, "Top": 0.0}     # x 20..60, y 0..40 of the padded
    result = {"Labels": [{"Name": "Sign", "Instances": [{"BoundingBox": dict(box), "Confidence": 90.0}]}],
              "TextDetections": [{"Type": "LINE", "Geometry": {"BoundingBox": dict(box),
                                                               "Polygon": [{"X": 0.25, "Y": 0.0},
                                                                           {"X": 1.0, "Y": 0.5}]}}],
              "FaceDetails": [{"BoundingBox": dict(box), "Landmarks": [{"Type": "nose", "X": 0.5, "Y": 0.5}]}]}
    out = unframe(result, frame)
    expected = {"Width": 0.666667, "Height": round(38 / 76, 6), "Left": round(10 / 60, 6), "Top": 0.0}
    assert out["Labels"][0]["Instances"][0]["BoundingBox"] == expected
    assert out["TextDetections"][0]["Geometry"]["BoundingBox"] == expected
    assert out["TextDetections"][0]["Geometry"]["Polygon"] == [{"X": round(10 / 60, 6), "Y": 0.0},
                                                               {"X": 1.0, "Y": round(38 / 76, 6)}]
    assert out["FaceDetails"][0]["BoundingBox"] == expected
    assert out["FaceDetails"][0]["Landmarks"] == [{"Type": "nose", "X": 0.5, "Y": round(38 / 76, 6)}]
    assert result["Labels"][0]["Instances"][0]["BoundingBox"] == box            # the answer itself is kept
    assert unframe(result, None) is result


def test_a_padded_picture_is_sent_as_bytes_and_its_boxes_come_back_in_its_ratios(rekognition):
    from botocore.stub import ANY
    converted = _padded_banner()
    sent_box = {"Width": 0.5, "Height": 0.95, "Left": 0.1, "Top": 0.025}       # rows 2..78 of 80: all of it
    rekognition.stubber.add_response("detect_labels", {"Labels": [
        {"Name": "Banner", "Confidence": 91.0, "Instances": [{"BoundingBox": sent_box, "Confidence": 91.0}]}],
        "LabelModelVersion": "3.0"}, {"Image": {"Bytes": ANY}, "MinConfidence": 55.0, "MaxLabels": 50})
    rekognition.stubber.add_response("detect_text", {"TextDetections": [
        {"DetectedText": "SALE", "Type": "LINE", "Id": 0, "Confidence": 99.0,
         "Geometry": {"BoundingBox": sent_box, "Polygon": [{"X": 0.1, "Y": 0.0125}]}}]}, {"Image": {"Bytes": ANY}})
    rekognition.stubber.add_response("detect_faces", {"FaceDetails": [
        {"BoundingBox": sent_box, "Confidence": 99.0, "Landmarks": [{"Type": "eyeLeft", "X": 0.2, "Y": 0.5}]}]},
        {"Image": {"Bytes": ANY}, "Attributes": ["ALL"]})
    source = PhotoSource("bucket", "usercontent/a/banner.png", "etag", None, converted)
    result = RekognitionAnalyzer(rekognition.client).analyze(source, ("labels", "text", "faces"), 55.0, 50)
    assert rekognition.sent[0]["Image"]["Bytes"] == converted
    mapped = {"Width": 0.5, "Height": 1.0, "Left": 0.1, "Top": 0.0}
    assert result["Labels"][0]["Instances"][0]["BoundingBox"] == mapped
    assert result["TextDetections"][0]["Geometry"]["BoundingBox"] == mapped
    assert result["TextDetections"][0]["Geometry"]["Polygon"] == [{"X": 0.1, "Y": 0.0}]
    assert result["FaceDetails"][0]["BoundingBox"] == mapped
    assert result["FaceDetails"][0]["Landmarks"] == [{"Type": "eyeLeft", "X": 0.2, "Y": 0.5}]


def test_faces_indexed_from_a_padded_picture_come_back_in_its_ratios():
    from chalicelib.faces.rekognition import CollectionMatcher
    converted = _padded_banner()
    box = {"Width": 0.2, "Height": 0.5, "Left": 0.4, "Top": 0.025}

    class Client:
        def index_faces(self, **kwargs):
            assert kwargs["Image"] == {"Bytes": converted}
            return {"FaceRecords": [{"Face": {"FaceId": "f1", "BoundingBox": dict(box)},
                                     "FaceDetail": {"BoundingBox": dict(box), "Landmarks": []}}]}

        def delete_faces(self, **kwargs):
            raise AssertionError("the face matched: nothing to delete")

    matcher = CollectionMatcher(Client(), "collection", store=None)
    details, ids = matcher.detect_and_index("pid", {"bytes": converted})
    mapped = {"Width": 0.2, "Height": round(40 / 76, 6), "Left": 0.4, "Top": 0.0}
    assert details[0]["BoundingBox"] == mapped and ids == ["f1"]
    faces = [{"box": {k.lower(): v for k, v in mapped.items()}}]
    assert matcher.index({"photo_id": "pid"}, {"bytes": converted}, faces) == ["f1"]
