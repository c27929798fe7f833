"""The local analysis engine: Rekognition's answers from models on this CPU.

One class per model task (labels.LabelClassifier, objects.ObjectDetector, text.TextReader,
faces.FaceDetector, faces.FaceEmbedder, faces.FaceAttributes,
moderation.ModerationClassifier, properties), each loaded lazily once
per process.  Labels come from two models: the ImageNet classifier names what the photo is,
the COCO detector boxes the objects in it; a name both find is one label (_merged).
The image is decoded once (by the pipeline: PhotoSource.picture); each task gets the same oriented RGB picture,
padded when it is under 80 px on a side (boxes are mapped back).  Nothing is downloaded:
the label and object models are converted once by `./dev models` from their registry packages,
the OCR models ship inside the rapidocr wheel.
"""

from chalicelib import settings
from chalicelib.analysis import ImageRejected, unframe
from chalicelib.analysis.local.faces import FaceAttributes, FaceDetector, FaceEmbedder
from chalicelib.analysis.local.image import decode, framed, working
from chalicelib.analysis.local import labels as _labels, objects as _objects
from chalicelib.analysis.local import scenes
from chalicelib.analysis.local.calibration import Calibration
from chalicelib.analysis.local.labels import LabelClassifier
from chalicelib.analysis.local.models import shared
from chalicelib.analysis.local.moderation import ModerationClassifier
from chalicelib.analysis.local.objects import ObjectDetector
from chalicelib.analysis.local.properties import image_properties
from chalicelib.analysis.local.text import TextReader

MODEL_VERSION = "%s+%s" % (_labels.MODEL_VERSION, _objects.MODEL_VERSION)
_task = shared       # one loaded instance of each model task per process (models.shared)


class LocalAnalyzer:
    engine = "local"

    def __init__(self, labels=None, text=None, faces=None, embedder=None, attributes=None, moderation=None,
                 objects=None, calibration=None):
        self.labels = labels or _task(LabelClassifier)
        self.objects = objects or _task(ObjectDetector)
        self.text = text or _task(TextReader)
        self.faces = faces or _task(FaceDetector)
        self.embedder = embedder or _task(FaceEmbedder)
        self.attributes = attributes or _task(FaceAttributes)
        self.moderation = moderation or _task(ModerationClassifier)
        self.calibration = Calibration.load() if calibration is None else calibration

    def warm_up(self, features):
        """Load the models the features need now (instead of on the first photo)."""
        for feature, task in (("labels", self.labels), ("labels", self.objects), ("text", self.text),
                              ("faces", self.faces),
                              ("faces", self.embedder), ("faces", self.attributes), ("moderation", self.moderation)):
            if feature in features:
                task.model

    def analyze(self, source, features, min_confidence, max_labels):
        img, outer = self._picture(source)
        img, frame = framed(img)
        result = self._analyze(img, features, min_confidence, max_labels)
        return unframe(result, frame, outer)

    @staticmethod
    def _picture(source):
        """(the picture to analyse, the media.Frame of bytes padded before they came here)."""
        if source.picture is not None:      # decoded once by the pipeline
            return working(source.picture), None
        data = source.converted or source.fetch()
        if data is None:
            raise ImageRejected("InvalidS3Object", "the object could not be read")
        img, _ = decode(data, settings.get_int("DECODE_MAX_PIXELS", minimum=1))
        return img, getattr(data, "frame", None)

    def _analyze(self, img, features, min_confidence, max_labels):
        result = {"LabelModelVersion": MODEL_VERSION}
        if "labels" in features:
            # The models work in raw scores; what is shown is calibrated (calibration.py), so the
            # cutoff asked for is turned into the raw score it stands for.
            raw_min = self.calibration.raw_of(min_confidence)
            evidence = []     # what is not shown but stays searchable (labels.LabelClassifier.predict)
            detected = self.objects.predict(img, 0.0) + scenes.predict(img)
            evidence += [{"Name": d["Name"], "Confidence": d["Confidence"], "Parents": d["Parents"],
                          "Aliases": d["Aliases"]} for d in detected if d["Confidence"] < raw_min]
            result["Labels"] = self.calibration.apply(_merged(
                self.labels.predict(img, raw_min, max_labels, evidence),
                [dict(d, Instances=[i for i in d["Instances"] if i["Confidence"] >= raw_min])
                 for d in detected if d["Confidence"] >= raw_min], max_labels))
            shown = {lab["Name"] for lab in result["Labels"]}
            result["LabelEvidence"] = self.calibration.apply([e for e in evidence if e["Name"] not in shown])
        if "text" in features:
            result["TextDetections"] = self.text.predict(img)
        if "properties" in features:
            result["ImageProperties"] = image_properties(img)
        if "faces" in features:
            faces = self.faces.predict(img)
            for face in faces:
                face.update(self.attributes.predict(img, face["BoundingBox"]))
                face["Embedding"] = self.embedder.embed(img, face["BoundingBox"])
            result["FaceDetails"] = faces
            if "labels" in features and faces:
                result["Labels"] = _with_person(result["Labels"], faces, min_confidence, max_labels)
                shown, hidden = _split(self.calibration.apply(_people(faces)), min_confidence)
                result["Labels"] = _merged(result["Labels"], shown, max_labels)
                result["LabelEvidence"] = result.get("LabelEvidence", []) + hidden
        if "labels" in features:
            person = next((lab for lab in result["Labels"] if lab["Name"] == "Person"), None)
            if person is not None and len(person["Instances"]) >= 2:
                # two or more people boxed: "People", as Rekognition says
                second = sorted((i["Confidence"] for i in person["Instances"]), reverse=True)[1]
                shown, hidden = _split([_label("People", second, PEOPLE_LABELS["People"])], min_confidence)
                result["Labels"] = _merged(result["Labels"], shown, max_labels)
                result["LabelEvidence"] = result.get("LabelEvidence", []) + hidden
        if "moderation" in features:
            result["ModerationLabels"] = self.moderation.predict(img, settings.get_float(
                "MODERATION_MIN_CONFIDENCE", minimum=0, maximum=100))
        return result


def _merged(classified, detected, max_labels):
    """The classifier's and the detector's labels as one list: a name both found is one label
    with the larger confidence, the detector's boxes as Instances, and both models' parents,
    aliases and categories; best first, at most max_labels."""
    by_name = {lab["Name"]: lab for lab in classified}
    out = list(classified)
    for lab in detected:
        same = by_name.get(lab["Name"])
        if same is None:
            out.append(lab)
            continue
        same["Confidence"] = max(same["Confidence"], lab["Confidence"])
        same["Instances"] = lab["Instances"]
        for key in ("Parents", "Aliases", "Categories"):
            same[key] = same[key] + [x for x in lab[key] if x not in same[key]]
    out.sort(key=lambda lab: -lab["Confidence"])
    return out[:max_labels]


def _label(name, confidence, parents, category="Person Description"):
    return {"Name": name, "Confidence": round(float(confidence), 3), "Parents": [{"Name": p} for p in parents],
            "Aliases": [], "Categories": [{"Name": category}], "Instances": []}


def _split(labels, min_confidence):
    """(labels to show, evidence) at the cutoff."""
    return ([lab for lab in labels if lab["Confidence"] >= min_confidence],
            [lab for lab in labels if lab["Confidence"] < min_confidence])


# the labels faces and person boxes give, with their parents
PEOPLE_LABELS = {
    "Adult": ["Person"], "Woman": ["Female", "Person", "Adult"], "Man": ["Male", "Person", "Adult"],
    "Child": ["Person"], "Girl": ["Female", "Person", "Child"], "Boy": ["Male", "Person", "Child"],
    "Female": ["Person"], "Male": ["Person"], "People": ["Person"],
}


def _people(faces):
    """Rekognition-style labels from the faces' age and gender: Man, Woman, Boy, Girl, Child,
    Adult, Male, Female; raw scores = the face's confidence x the gender's (or the age's) certainty."""
    best = {}
    for face in faces:
        gender = face.get("Gender") or {}
        age = face.get("AgeRange") or {}
        if not gender or not age:
            continue
        face_p = face["Confidence"] / 100.0
        female = gender.get("Value") == "Female"
        sure = face_p * float(gender.get("Confidence", 0.0))
        middle = (age.get("Low", 0) + age.get("High", 0)) / 2.0
        names = []
        if middle >= 18:
            names += [("Adult", face_p * 100), ("Woman" if female else "Man", sure)]
        elif middle < 13:
            names += [("Child", face_p * 100), ("Girl" if female else "Boy", sure)]
        names.append(("Female" if female else "Male", sure))
        for name, score in names:
            best[name] = max(score, best.get(name, 0))
    return [_label(name, score, PEOPLE_LABELS[name]) for name, score in best.items() if score > 0]


def _with_person(labels, faces, min_confidence, max_labels):
    """Faces seen -> a "Person" label; the faces are its instances unless the detector boxed
    whole people already (a person's box is what Rekognition gives)."""
    best = max(f["Confidence"] for f in faces)
    if best < min_confidence:
        return labels
    person = next((lab for lab in labels if lab["Name"] == "Person"), None)
    if person is None:
        person = {"Name": "Person", "Confidence": best, "Parents": [], "Aliases": [{"Name": "Human"}],
                  "Categories": [{"Name": "Person Description"}], "Instances": []}
        labels = labels + [person]
    person["Confidence"] = max(person["Confidence"], best)
    if not person["Instances"]:
        person["Instances"] = [{"BoundingBox": f["BoundingBox"], "Confidence": f["Confidence"]} for f in faces]
    labels.sort(key=lambda lab: -lab["Confidence"])
    return labels[:max_labels]
