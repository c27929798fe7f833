"""The local engine on real photos: Rekognition's shapes from models on this CPU."""
import threading

import numpy as np
import pytest
from PIL import Image

from chalicelib.analysis import ImageRejected, PhotoSource
from chalicelib.analysis.local import LocalAnalyzer
from chalicelib.analysis.local.properties import simplified_color
from tests.support import photos

ALL = ("labels", "text", "properties")


@pytest.fixture(scope="module")
def engine():
    return LocalAnalyzer()


def analyze(engine, data, features=ALL, min_confidence=10.0, max_labels=20):
    return engine.analyze(PhotoSource("b", "usercontent/u/x", "e", lambda: data), features, min_confidence, max_labels)


def names(result, n=5):
    return [lab["Name"] for lab in result["Labels"][:n]]


@pytest.mark.parametrize("photo,concept", [
    ("chelsea.png", "Cat"), ("coffee.png", "Espresso"), ("china.jpg", "Palace"),
    ("motorcycle_left.png", "Vehicle"), ("rocket.jpg", "Missile"), ("camera.png", "Tripod"),
])
def test_everyday_photos_get_the_right_concept_in_the_top_5(engine, photo, concept):
    result = analyze(engine, photos.encode(photos.load(photo)), ("labels",))
    assert concept in names(result), names(result, 8)


def test_labels_have_rekognitions_shape_and_a_friendly_hierarchy(engine):
    result = analyze(engine, photos.encode(photos.load("chelsea.png")), ("labels",))
    cat = next(lab for lab in result["Labels"] if lab["Name"] == "Cat")
    assert set(cat) == {"Name", "Confidence", "Instances", "Parents", "Aliases", "Categories"}
    assert [p["Name"] for p in cat["Parents"]] == ["Animal", "Mammal"] or \
        {"Animal", "Mammal"} <= {p["Name"] for p in cat["Parents"]}
    assert cat["Categories"] == [{"Name": "Animals and Pets"}]
    assert cat["Confidence"] > 80
    breed = next(lab for lab in result["Labels"] if "Cat" in [p["Name"] for p in lab["Parents"]])
    assert breed["Name"] in ("Egyptian Mau", "Tabby Cat", "Tiger Cat") and breed["Confidence"] < cat["Confidence"]
    assert result["LabelModelVersion"].startswith("local-efficientnet-lite2")


def test_min_confidence_and_max_labels_are_honoured(engine):
    data = photos.encode(photos.load("chelsea.png"))
    few = analyze(engine, data, ("labels",), min_confidence=50.0, max_labels=3)["Labels"]
    assert 1 <= len(few) <= 3 and all(lab["Confidence"] >= 50.0 for lab in few)
    many = analyze(engine, data, ("labels",), min_confidence=0.1, max_labels=6)["Labels"]
    assert len(many) == 6
    assert [lab["Confidence"] for lab in many] == sorted((lab["Confidence"] for lab in many), reverse=True)


def test_text_on_a_photo_is_read_exactly_as_lines_and_words(engine):
    result = analyze(engine, photos.encode(photos.sign("OPEN 24 HOURS")), ("text",))
    lines = [d for d in result["TextDetections"] if d["Type"] == "LINE"]
    assert [line["DetectedText"] for line in lines] == ["OPEN 24 HOURS"]
    words = [d for d in result["TextDetections"] if d["Type"] == "WORD"]
    assert [w["DetectedText"] for w in words] == ["OPEN", "24", "HOURS"]
    assert all(w["ParentId"] == lines[0]["Id"] for w in words)
    box = lines[0]["Geometry"]["BoundingBox"]
    assert 0 <= box["Left"] < 0.2 and 0 <= box["Top"] < 0.2 and 0.3 < box["Width"] < 0.9
    assert lines[0]["Confidence"] > 90


def test_properties_give_dominant_colours_and_quality(engine):
    red = Image.new("RGB", (200, 200), (210, 25, 30))
    props = analyze(engine, photos.encode(red, "PNG"), ("properties",))["ImageProperties"]
    top = props["DominantColors"][0]
    assert top["SimplifiedColor"] == "red" and top["PixelPercent"] > 95 and top["HexCode"].startswith("#")
    assert props["Quality"]["Sharpness"] < 5 and props["Quality"]["Contrast"] < 5
    sharp = analyze(engine, photos.encode(photos.load("camera.png"), "PNG"), ("properties",))["ImageProperties"]
    assert sharp["Quality"]["Sharpness"] > 20 and sharp["Quality"]["Contrast"] > 20
    white = analyze(engine, photos.encode(Image.new("RGB", (100, 100), "white"), "PNG"), ("properties",))
    assert white["ImageProperties"]["Quality"]["Brightness"] > 99


@pytest.mark.parametrize("rgb,name", [((0, 0, 0), "black"), ((250, 250, 250), "white"), ((128, 128, 128), "grey"),
                                      ((20, 160, 40), "green"), ((30, 60, 200), "blue"), ((250, 200, 20), "yellow"),
                                      ((240, 130, 10), "orange"), ((120, 70, 20), "brown"), ((130, 40, 180), "purple")])
def test_simplified_colour_names(rgb, name):
    assert simplified_color(*rgb) == name


def _modes():
    cat = photos.load("chelsea.png")
    yield "grayscale", photos.encode(cat.convert("L"), "PNG")
    yield "palette", photos.encode(cat.convert("P"), "PNG")
    yield "cmyk jpeg", photos.encode(cat.convert("CMYK"), "JPEG")
    arr16 = (np.asarray(cat.convert("L"), dtype=np.uint16) * 257)
    yield "16-bit", photos.encode(Image.fromarray(arr16), "PNG")
    rgba = cat.convert("RGBA")
    rgba.putalpha(128)
    yield "transparent", photos.encode(rgba, "PNG")
    yield "webp", photos.encode(cat, "WEBP")
    yield "tiff", photos.encode(cat, "TIFF")


@pytest.mark.parametrize("mode,data", list(_modes()), ids=[m for m, _ in _modes()])
def test_every_pixel_format_is_analysed(engine, mode, data):
    result = analyze(engine, data, ("labels", "properties"))
    assert "Cat" in names(result, 8) or "Animal" in names(result, 8), (mode, names(result, 8))


def test_exif_orientation_is_applied_before_analysis(engine):
    img = photos.sign("OPEN", background=None, size=48)
    rotated = img.rotate(90, expand=True)          # stored sideways...
    exif = Image.Exif()
    exif[0x0112] = 6                               # ...with "rotate 90 CW to display"
    result = analyze(engine, photos.encode(rotated, "JPEG", exif=exif.tobytes()), ("text",))
    assert [d["DetectedText"] for d in result["TextDetections"] if d["Type"] == "LINE"] == ["OPEN"]


@pytest.mark.parametrize("data,code", [
    (b"this is not an image", "InvalidImageFormat"),
    (b"", "InvalidImageFormat"),
])
def test_unusable_images_fail_with_a_clear_reason(engine, data, code):
    with pytest.raises(ImageRejected) as e:
        analyze(engine, data)
    assert e.value.code == code and e.value.reason


def banner(text="SALE 50%", size=(188, 76), at=(14, 20)):
    """A small banner (under Rekognition's 80 px) with `text`: (PNG bytes, the text's box as ratios)."""
    from PIL import ImageDraw
    img = Image.new("RGB", size, (250, 250, 250))
    draw = ImageDraw.Draw(img)
    left, top, right, bottom = draw.textbbox(at, text, font=photos.font(30))
    draw.text(at, text, font=photos.font(30), fill=(200, 0, 0))
    return photos.encode(img, "PNG"), (left / size[0], top / size[1], right / size[0], bottom / size[1])


def test_a_picture_under_80_px_is_padded_and_its_boxes_are_the_pictures(engine):
    data, (left, top, right, bottom) = banner()
    result = analyze(engine, data, ("labels", "text", "properties", "faces"))
    lines = [d for d in result["TextDetections"] if d["Type"] == "LINE"]
    assert [line["DetectedText"] for line in lines] == ["SALE 50%"]
    box = lines[0]["Geometry"]["BoundingBox"]
    # in the banner's own ratios (76 px high; the padded picture is 80): around the drawn text
    assert box["Left"] <= left + 0.02 and box["Left"] + box["Width"] >= right - 0.02
    assert box["Top"] <= top + 0.02 and box["Top"] + box["Height"] >= bottom - 0.02
    assert 0 <= box["Top"] and box["Top"] + box["Height"] <= 1.0 and box["Height"] < 0.6
    for point in lines[0]["Geometry"]["Polygon"]:
        assert 0 <= point["X"] <= 1 and 0 <= point["Y"] <= 1
    assert result["ImageProperties"]["DominantColors"] and result["FaceDetails"] == []
    tall = analyze(engine, photos.encode(Image.new("RGB", (50, 200), "red"), "PNG"), ("properties",))
    assert tall["ImageProperties"]["DominantColors"][0]["SimplifiedColor"] == "red"


def test_the_pipelines_decoded_picture_is_analysed_without_decoding_the_bytes_again(monkeypatch):
    from chalicelib import media

    class Seen:
        def __init__(self):
            self.images = []

        def predict(self, img, *args):
            self.images.append(img)
            return []

    seen = Seen()
    local = LocalAnalyzer(labels=seen, text=seen, faces=seen, embedder=seen, attributes=seen, moderation=seen)
    picture = media.decode(photos.encode(photos.load("chelsea.png")))
    monkeypatch.setattr(media, "decode", lambda *a, **k: pytest.fail("decoded again"))
    source = PhotoSource("b", "usercontent/u/x", "e", lambda: pytest.fail("read again"), None, picture)
    local.analyze(source, ("labels", "text", "faces"), 10.0, 5)
    assert len(seen.images) == 3 and all(img is picture.image for img in seen.images)


def test_the_face_detector_logs_no_protobuf_deprecation_warning(engine):
    import warnings
    img = photos.load("obama.jpg")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert len(engine.faces.predict(img)) == 1
        engine.faces.predict(img)
    assert not [w for w in caught if "GetPrototype" in str(w.message)], [str(w.message) for w in caught]


def test_a_truncated_jpeg_fails_cleanly(engine):
    data = photos.encode(photos.load("chelsea.png"))
    with pytest.raises(ImageRejected) as e:
        analyze(engine, data[: len(data) // 3])
    assert e.value.code == "InvalidImageFormat" and "truncated" in e.value.reason


def test_too_many_pixels_is_refused_before_decoding(engine, monkeypatch):
    monkeypatch.setenv("DECODE_MAX_PIXELS", "10000")
    with pytest.raises(ImageRejected) as e:
        analyze(engine, photos.encode(photos.load("chelsea.png")))
    assert e.value.code == "ImageTooLarge"


def test_concurrent_requests_share_one_model_and_agree():
    fresh = LocalAnalyzer(labels=type(LocalAnalyzer().labels)(), text=LocalAnalyzer().text)
    data = photos.encode(photos.load("coffee.png"))
    results, errors = [], []

    def run():
        try:
            results.append(names(analyze(fresh, data, ("labels",)), 3))
        except Exception as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=run) for _ in range(4)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    assert not errors and len(results) == 4 and all(r == results[0] for r in results)


# ---- faces ------------------------------------------------------------------------------------

def faces_of(engine, name, features=("faces",)):
    return analyze(engine, photos.encode(photos.load(name)), features)


def _distance(a, b):
    return float(np.linalg.norm(np.array(a) - np.array(b)))


@pytest.mark.parametrize("name", ["astronaut.png", "obama.jpg", "obama2.jpg", "obama3.jpg", "biden.jpg"])
def test_a_clear_frontal_face_is_found_with_box_landmarks_and_embedding(engine, name):
    faces = faces_of(engine, name)["FaceDetails"]
    assert len(faces) == 1, name
    face = faces[0]
    box = face["BoundingBox"]
    assert 0 <= box["Left"] < 1 and 0 <= box["Top"] < 1 and 0.05 < box["Width"] <= 1 and 0.05 < box["Height"] <= 1
    assert face["Confidence"] > 70
    marks = {m["Type"]: m for m in face["Landmarks"]}
    assert marks["eyeLeft"]["X"] < marks["nose"]["X"] < marks["eyeRight"]["X"]
    assert box["Top"] <= marks["eyeLeft"]["Y"] <= box["Top"] + box["Height"]
    assert abs(face["Pose"]["Roll"]) < 30 and 0 < face["Quality"]["Brightness"] <= 100
    assert len(face["Embedding"]) == 128


@pytest.mark.parametrize("name", ["chelsea.png", "coffee.png", "rocket.jpg", "china.jpg", "moon.png", "coins.png"])
def test_photos_without_people_have_no_faces(engine, name):
    assert faces_of(engine, name)["FaceDetails"] == []


def test_embeddings_tell_the_same_person_from_another(engine):
    emb = {n: faces_of(engine, n + ".jpg")["FaceDetails"][0]["Embedding"] for n in ("obama", "obama2", "obama3",
                                                                                     "biden")}
    for a, b in (("obama", "obama2"), ("obama", "obama3"), ("obama2", "obama3")):
        assert _distance(emb[a], emb[b]) < 0.6, (a, b)
    for o in ("obama", "obama2", "obama3"):
        assert _distance(emb[o], emb["biden"]) > 0.6, o


def test_faces_make_a_person_label_with_the_faces_as_instances(engine):
    # (the object detector's person, calibrated 81, is under this cutoff; the face, 84.7, is not:
    # faces box the Person label only where the detector found no person, tests/test_objects.py)
    result = analyze(engine, photos.encode(photos.load("obama.jpg")), ("labels", "faces"), min_confidence=84.0)
    person = next(lab for lab in result["Labels"] if lab["Name"] == "Person")
    assert len(person["Instances"]) == 1
    assert person["Instances"][0]["BoundingBox"] == result["FaceDetails"][0]["BoundingBox"]


def test_faces_carry_age_range_and_gender(engine):
    found = {n: faces_of(engine, n)["FaceDetails"][0] for n in ("obama.jpg", "biden.jpg", "astronaut.png")}
    assert found["obama.jpg"]["Gender"]["Value"] == "Male" and found["biden.jpg"]["Gender"]["Value"] == "Male"
    assert found["astronaut.png"]["Gender"]["Value"] == "Female"
    for face in found.values():
        assert 0 <= face["AgeRange"]["Low"] < face["AgeRange"]["High"] <= 100
    assert found["biden.jpg"]["AgeRange"]["High"] > found["obama.jpg"]["AgeRange"]["High"]


@pytest.mark.parametrize("name", ["chelsea.png", "astronaut.png", "obama.jpg", "coffee.png", "china.jpg"])
def test_everyday_photos_get_a_low_adult_score_and_no_moderation_label(engine, name):
    assert engine.moderation.score(photos.load(name)) < 0.1
    assert analyze(engine, photos.encode(photos.load(name)), ("moderation",))["ModerationLabels"] == []


def test_a_moderation_label_appears_above_the_threshold(engine, monkeypatch):
    monkeypatch.setenv("MODERATION_MIN_CONFIDENCE", "0")
    labels = analyze(engine, photos.encode(photos.load("astronaut.png")), ("moderation",))["ModerationLabels"]
    assert [m["Name"] for m in labels] == ["Explicit"] and 0 <= labels[0]["Confidence"] < 10


def _sessions(obj, depth=0, seen=None):
    """Every onnxruntime session reachable from obj's attributes (dicts, lists, objects)."""
    import onnxruntime
    seen = set() if seen is None else seen
    if id(obj) in seen or depth > 5 or isinstance(obj, (str, bytes, int, float, np.ndarray)):
        return []
    seen.add(id(obj))
    if isinstance(obj, onnxruntime.InferenceSession):
        return [obj]
    if isinstance(obj, dict):
        children = list(obj.values())
    elif isinstance(obj, (list, tuple)):
        children = list(obj)
    else:
        children = list(getattr(obj, "__dict__", {}).values())
    return [s for child in children for s in _sessions(child, depth + 1, seen)]


def test_every_model_session_keeps_to_local_threads(monkeypatch):
    """A worker of several keeps to its share of the cores: a session on every core in each of two
    workers made two workers barely faster than one (open_nsfw's did, until it got LOCAL_THREADS)."""
    from chalicelib.analysis.local import FaceAttributes, LabelClassifier, ModerationClassifier, ObjectDetector
    from chalicelib.analysis.local.text import TextReader
    monkeypatch.setenv("LOCAL_THREADS", "1")
    img = photos.load("insightface_t1.jpg").convert("RGB")
    box = {"Left": 0.1, "Top": 0.1, "Width": 0.3, "Height": 0.3}
    uses = {LabelClassifier: lambda t: t.predict(img, 50, 5), ObjectDetector: lambda t: t.predict(img, 50),
            ModerationClassifier: lambda t: t.predict(img, 50), FaceAttributes: lambda t: t.predict(img, box),
            TextReader: lambda t: t.predict(img)}
    found = {}
    for task, use in uses.items():     # some packages make their sessions on first use
        instance = task()
        use(instance)
        found[task.__name__] = _sessions(instance.model)
    assert all(found.values()), {k: len(v) for k, v in found.items()}
    threads = {k: [s.get_session_options().intra_op_num_threads for s in v] for k, v in found.items()}
    assert all(n == 1 for v in threads.values() for n in v), threads
