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
