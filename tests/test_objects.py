"""The COCO object detector (objects.py) on real photos, and its labels merged with the classifier's."""
import json
import os

import pytest
from PIL import Image, ImageOps

from chalicelib.analysis import PhotoSource
from chalicelib.analysis.local import MODEL_VERSION, LocalAnalyzer
from chalicelib.analysis.local.models import HERE
from chalicelib.analysis.local.objects import ObjectDetector
from tests.support import photos


@pytest.fixture(scope="module")
def detector():
    return ObjectDetector()


@pytest.fixture(scope="module")
def engine():
    return LocalAnalyzer()


def analyze(engine, img, features=("labels",), min_confidence=20.0, max_labels=20):
    return engine.analyze(PhotoSource("b", "usercontent/u/x", "e", lambda: photos.encode(img)),
                          features, min_confidence, max_labels)


def corners(box):
    return box["Left"], box["Top"], box["Left"] + box["Width"], box["Top"] + box["Height"]


def only(labels, name):
    found = [lab for lab in labels if lab["Name"] == name]
    assert len(found) == 1, [lab["Name"] for lab in labels]
    return found[0]


# photo, label, the region (left, top, right, bottom) the box's centre must be in, its least area
@pytest.mark.parametrize("photo,name,centre,area", [
    ("chelsea.png", "Cat", (0.3, 0.3, 0.7, 0.7), 0.5),            # a cat's head filling the photo
    ("coffee.png", "Cup", (0.35, 0.2, 0.65, 0.55), 0.15),         # the cup in the middle, saucer below
    ("motorcycle_left.png", "Motorcycle", (0.35, 0.3, 0.65, 0.7), 0.4),
    ("horse.png", "Horse", (0.3, 0.3, 0.7, 0.7), 0.5),
    ("astronaut.png", "Person", (0.2, 0.3, 0.5, 0.7), 0.4),       # Eileen Collins, left half of the photo
])
def test_the_photos_object_is_found_with_a_box_around_it(detector, photo, name, centre, area):
    label = only(detector.predict(photos.load(photo), 20.0), name)
    best = max(label["Instances"], key=lambda i: i["Confidence"])
    left, top, right, bottom = corners(best["BoundingBox"])
    assert centre[0] < (left + right) / 2 < centre[2] and centre[1] < (top + bottom) / 2 < centre[3], best
    assert (right - left) * (bottom - top) >= area, best
    assert label["Confidence"] == best["Confidence"] >= 30


@pytest.mark.parametrize("texture", ["brick.png", "grass.png", "gravel.png"])
def test_a_texture_has_no_objects(detector, texture):
    assert detector.predict(photos.load(texture), 0.0) == []


def test_labels_have_rekognitions_shape_and_vocabulary(detector):
    labels = detector.predict(photos.load("obama.jpg"), 0.0)
    assert {"Person", "Tie"} <= {lab["Name"] for lab in labels}
    person = only(labels, "Person")
    assert set(person) == {"Name", "Confidence", "Instances", "Parents", "Aliases", "Categories"}
    assert person["Aliases"] == [{"Name": "Human"}] and person["Categories"] == [{"Name": "Person Description"}]
    assert only(labels, "Tie")["Parents"] == [{"Name": "Accessories"}]
    for lab in labels:
        assert lab["Confidence"] == max(i["Confidence"] for i in lab["Instances"])
        for instance in lab["Instances"]:
            box = instance["BoundingBox"]
            assert set(box) == {"Width", "Height", "Left", "Top"}
            left, top, right, bottom = corners(box)
            assert 0 <= left < right <= 1 + 1e-9 and 0 <= top < bottom <= 1 + 1e-9


def test_the_class_table_speaks_rekognition():
    with open(os.path.join(HERE, "objects.json"), encoding="utf-8") as f:
        classes = json.load(f)["classes"]
    assert len(classes) == 80 and len({c["name"] for c in classes}) == 80
    by_coco = {c["coco"]: c for c in classes}
    assert by_coco["cell phone"]["name"] == "Mobile Phone" and "Cell Phone" in by_coco["cell phone"]["aliases"]
    assert by_coco["tv"]["name"] == "TV" and by_coco["dining table"]["name"] == "Dining Table"
    assert by_coco["sports ball"]["name"] == "Ball"
    assert by_coco["dog"]["parents"] == ["Animal", "Canine", "Mammal", "Pet"]
    assert by_coco["cup"]["categories"] == ["Kitchen and Dining"]
    for c in classes:
        assert c["categories"] and c["name"] not in c["parents"], c


def test_min_confidence_drops_weaker_boxes_and_labels(detector):
    img = photos.load("insightface_t1.jpg")                       # six people at a table with glasses
    every = detector.predict(img, 0.0)
    cut = sorted(i["Confidence"] for lab in every for i in lab["Instances"])[len(every) // 2]
    fewer = detector.predict(img, cut)
    assert fewer and all(i["Confidence"] >= cut for lab in fewer for i in lab["Instances"])
    assert sum(len(lab["Instances"]) for lab in fewer) < sum(len(lab["Instances"]) for lab in every)
    assert len(only(every, "Person")["Instances"]) >= 4


def test_a_12_megapixel_photo_gives_the_same_box(detector):
    small = photos.load("coffee.png")
    big = small.resize((4032, 2688), Image.LANCZOS)
    a = only(detector.predict(small, 20.0), "Cup")["Instances"][0]["BoundingBox"]
    b = only(detector.predict(big, 20.0), "Cup")["Instances"][0]["BoundingBox"]
    assert all(abs(a[k] - b[k]) < 0.03 for k in a), (a, b)


def test_a_mirrored_photo_mirrors_the_box(detector):
    img = photos.load("motorcycle_left.png")
    a = only(detector.predict(img, 20.0), "Motorcycle")["Instances"][0]["BoundingBox"]
    b = only(detector.predict(ImageOps.mirror(img), 20.0), "Motorcycle")["Instances"][0]["BoundingBox"]
    assert abs((a["Left"] + a["Width"] / 2) - (1 - b["Left"] - b["Width"] / 2)) < 0.05, (a, b)


def test_local_threads_is_honoured(monkeypatch):
    monkeypatch.setenv("LOCAL_THREADS", "1")
    session = ObjectDetector().model["session"]
    assert session.get_session_options().intra_op_num_threads == 1


# ---- merged with the classifier (LocalAnalyzer) ------------------------------------------------

def test_a_name_both_models_find_is_one_label_with_the_detectors_boxes(engine):
    result = analyze(engine, photos.load("chelsea.png"))
    cat = only(result["Labels"], "Cat")
    assert cat["Confidence"] > 80                                  # the classifier's, the larger
    assert len(cat["Instances"]) == 1 and cat["Instances"][0]["BoundingBox"]["Width"] > 0.7
    parents = [p["Name"] for p in cat["Parents"]]
    assert {"Animal", "Mammal", "Pet"} <= set(parents) and len(parents) == len(set(parents))
    assert cat["Categories"] == [{"Name": "Animals and Pets"}]
    assert result["LabelModelVersion"] == MODEL_VERSION and MODEL_VERSION.endswith("+centernet-mbv3-coco80")


def test_a_detected_object_the_classifier_does_not_name_is_added(engine):
    labels = analyze(engine, photos.load("insightface_t1.jpg"))["Labels"]
    assert len(only(labels, "Person")["Instances"]) >= 4
    assert [lab["Confidence"] for lab in labels] == sorted((lab["Confidence"] for lab in labels), reverse=True)


def test_max_labels_and_min_confidence_hold_for_the_merged_labels(engine):
    labels = analyze(engine, photos.load("insightface_t1.jpg"), min_confidence=40.0, max_labels=3)["Labels"]
    assert 1 <= len(labels) <= 3 and all(lab["Confidence"] >= 40 for lab in labels)
    assert all(i["Confidence"] >= 40 for lab in labels for i in lab["Instances"])


def test_the_detectors_people_are_the_person_instances_and_faces_only_without_them(engine):
    img = photos.load("obama.jpg")
    result = analyze(engine, img, ("labels", "faces"))
    person = only(result["Labels"], "Person")
    face = result["FaceDetails"][0]["BoundingBox"]
    box = max(person["Instances"], key=lambda i: i["Confidence"])["BoundingBox"]
    assert box != face and box["Width"] * box["Height"] > 4 * face["Width"] * face["Height"]
    # above the detector's confidence for the person (~79) only the face (~99) is sure enough
    strict = analyze(engine, img, ("labels", "faces"), min_confidence=85.0)
    person = only(strict["Labels"], "Person")
    assert [i["BoundingBox"] for i in person["Instances"]] == [strict["FaceDetails"][0]["BoundingBox"]]


def test_warm_up_loads_the_detector():
    fresh = LocalAnalyzer(objects=ObjectDetector())
    assert fresh.objects._model is None
    fresh.warm_up(("labels",))
    assert fresh.objects._model is not None
