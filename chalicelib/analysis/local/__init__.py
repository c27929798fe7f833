"""The local analysis engine: Rekognition's answers from models on this CPU.

One class per model task (labels.LabelClassifier, text.TextReader,
faces.FaceDetector, faces.FaceEmbedder, faces.FaceAttributes,
moderation.ModerationClassifier, properties), each loaded lazily once
per process.  The image is decoded
once (by the pipeline: PhotoSource.picture); each task gets the same oriented RGB picture,
padded when it is under 80 px on a side (boxes are mapped back).  Nothing is downloaded:
the label model is converted once by `./dev models` from its PyPI package,
the OCR models ship inside the rapidocr wheel.
"""
import threading

from chalicelib import settings
from chalicelib.analysis import ImageRejected, unframe
from chalicelib.analysis.local.faces import FaceAttributes, FaceDetector, FaceEmbedder
from chalicelib.analysis.local.image import decode, framed, working
from chalicelib.analysis.local.labels import MODEL_VERSION, LabelClassifier
from chalicelib.analysis.local.moderation import ModerationClassifier
from chalicelib.analysis.local.properties import image_properties
from chalicelib.analysis.local.text import TextReader

_shared = {}
_lock = threading.Lock()


def _task(cls):
    with _lock:
        if cls not in _shared:
            _shared[cls] = cls()
        return _shared[cls]


class LocalAnalyzer:
    engine = "local"

    def __init__(self, labels=None, text=None, faces=None, embedder=None, attributes=None, moderation=None):
        self.labels = labels or _task(LabelClassifier)
        self.text = text or _task(TextReader)
        self.faces = faces or _task(FaceDetector)
        self.embedder = embedder or _task(FaceEmbedder)
        self.attributes = attributes or _task(FaceAttributes)
        self.moderation = moderation or _task(ModerationClassifier)

    def warm_up(self, features):
        """Load the models the features need now (instead of on the first photo)."""
        for feature, task in (("labels", self.labels), ("text", self.text), ("faces", self.faces),
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
            result["Labels"] = self.labels.predict(img, min_confidence, max_labels)
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
        if "moderation" in features:
            result["ModerationLabels"] = self.moderation.predict(img, settings.get_float(
                "MODERATION_MIN_CONFIDENCE", minimum=0, maximum=100))
        return result


def _with_person(labels, faces, min_confidence, max_labels):
    """Faces seen -> a "Person" label whose instances are the faces (as Rekognition would box people)."""
    best = max(f["Confidence"] for f in faces)
    if best < min_confidence:
        return labels
    person = next((lab for lab in labels if lab["Name"] == "Person"), None)
    if person is None:
        person = {"Name": "Person", "Confidence": best, "Parents": [], "Aliases": [{"Name": "Human"}],
                  "Categories": [{"Name": "Person Description"}], "Instances": []}
        labels = labels + [person]
    person["Confidence"] = max(person["Confidence"], best)
    person["Instances"] = [{"BoundingBox": f["BoundingBox"], "Confidence": f["Confidence"]} for f in faces]
    labels.sort(key=lambda lab: -lab["Confidence"])
    return labels[:max_labels]
