"""The local analysis engine: Rekognition's answers from models on this CPU.

One class per model task (labels.LabelClassifier, text.TextReader,
properties), each loaded lazily once per process.  The image is decoded
once; each task gets the same oriented RGB picture.  Nothing is downloaded:
the label model is converted once by `./dev models` from its PyPI package,
the OCR models ship inside the rapidocr wheel.
"""
import threading

from chalicelib import settings
from chalicelib.analysis import ImageRejected
from chalicelib.analysis.local.image import decode
from chalicelib.analysis.local.labels import MODEL_VERSION, LabelClassifier
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

    def __init__(self, labels=None, text=None):
        self.labels = labels or _task(LabelClassifier)
        self.text = text or _task(TextReader)

    def warm_up(self, features):
        if "labels" in features:
            self.labels.model
        if "text" in features:
            self.text.model

    def analyze(self, source, features, min_confidence, max_labels):
        data = source.fetch()
        if data is None:
            raise ImageRejected("InvalidS3Object", "the object could not be read")
        img, _ = decode(data, settings.get_int("DECODE_MAX_PIXELS", minimum=1))
        result = {"LabelModelVersion": MODEL_VERSION}
        if "labels" in features:
            result["Labels"] = self.labels.predict(img, min_confidence, max_labels)
        if "text" in features:
            result["TextDetections"] = self.text.predict(img)
        if "properties" in features:
            result["ImageProperties"] = image_properties(img)
        return result
