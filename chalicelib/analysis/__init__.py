"""Image analysis.  Rekognition's response shapes are the common currency.

Interface: ``analyze(source, features, min_confidence, max_labels) -> dict``
with, for each enabled feature, the key Rekognition's API answers with:

- "labels": DetectLabels' ``Labels`` [{"Name", "Confidence", "Parents": [{"Name"}],
  "Aliases": [{"Name"}], "Categories": [{"Name"}], "Instances": [{"BoundingBox",
  "Confidence"}]}] and ``LabelModelVersion``;
- "text": DetectText's ``TextDetections`` (LINE and WORD, Geometry, ParentId);
- "properties": DetectLabels' ``ImageProperties`` (Quality, DominantColors);
- "faces": DetectFaces' ``FaceDetails`` (the local engine adds each face's
  128-d ``Embedding``);
- "moderation": DetectModerationLabels' ``ModerationLabels``.

`source` is a PhotoSource; ``source.fetch()`` returns the object's bytes (the
local engine reads them; Rekognition reads the S3 object itself).

It raises:
- ImageRejected: the image itself is the problem (format, size, dimensions);
  retrying cannot help, the photo is stored as ``failed`` with the reason.
- chalicelib.retry.TransientError: throttling, service errors, connection
  problems; the caller retries with backoff, then gives up for now.
"""
from collections import namedtuple

# `converted`: JPEG bytes to analyse instead of the stored object (a format Rekognition does
# not take, or an EXIF orientation to apply first); None analyses the object as stored.
PhotoSource = namedtuple("PhotoSource", "bucket key etag fetch converted")
PhotoSource.__new__.__defaults__ = (None, None)


class ImageRejected(Exception):
    def __init__(self, code, message=""):
        super().__init__("%s: %s" % (code, message) if message else code)
        self.code = code
        self.reason = message or code


def normalize_labels(response):
    """Rekognition DetectLabels labels -> the index's label documents."""
    labels = []
    for label in response.get("Labels", ()):
        labels.append({
            "name": label["Name"],
            "confidence": round(float(label.get("Confidence", 0.0)), 3),
            "parents": [p["Name"] for p in label.get("Parents", ())],
            "aliases": [a["Name"] for a in label.get("Aliases", ())],
            "categories": [c["Name"] for c in label.get("Categories", ())],
            "instances": [{
                "box": {k.lower(): round(float(v), 6) for k, v in i.get("BoundingBox", {}).items()},
                "confidence": round(float(i.get("Confidence", 0.0)), 3),
            } for i in label.get("Instances", ())],
        })
    labels.sort(key=lambda lab: (-lab["confidence"], lab["name"]))
    return labels


def normalize_text(detections):
    """DetectText's LINE/WORD detections -> the index's text lines, each with its words."""
    lines, by_id = [], {}
    for det in detections or ():
        if det.get("Type") == "LINE":
            line = {"text": det["DetectedText"], "confidence": round(float(det.get("Confidence", 0.0)), 3),
                    "box": _box(det), "words": []}
            by_id[det.get("Id")] = line
            lines.append(line)
    for det in detections or ():
        if det.get("Type") == "WORD" and det.get("ParentId") in by_id:
            by_id[det["ParentId"]]["words"].append({
                "text": det["DetectedText"], "confidence": round(float(det.get("Confidence", 0.0)), 3),
                "box": _box(det)})
    return lines


def _box(det):
    return {k.lower(): round(float(v), 6) for k, v in det.get("Geometry", {}).get("BoundingBox", {}).items()}


def normalize_properties(props):
    if not props:
        return None
    quality = {k.lower(): round(float(v), 2) for k, v in props.get("Quality", {}).items()}
    colors = [{"hex": c.get("HexCode"), "css": c.get("CSSColor"), "simplified": c.get("SimplifiedColor"),
               "percent": round(float(c.get("PixelPercent", 0.0)), 2)} for c in props.get("DominantColors", ())]
    return {"quality": quality, "dominant_colors": colors}


def normalize_faces(details):
    """DetectFaces' FaceDetails -> the index's faces (embedding kept, never shown to users)."""
    faces = []
    for f in details or ():
        face = {"box": {k.lower(): round(float(v), 6) for k, v in f.get("BoundingBox", {}).items()},
                "confidence": round(float(f.get("Confidence", 0.0)), 3),
                "landmarks": [{"type": p["Type"], "x": p["X"], "y": p["Y"]} for p in f.get("Landmarks", ())]}
        if f.get("AgeRange"):
            face["age_range"] = {"low": f["AgeRange"]["Low"], "high": f["AgeRange"]["High"]}
        if f.get("Gender"):
            face["gender"] = f["Gender"]["Value"]
        for key, name in (("Pose", "pose"), ("Quality", "quality")):
            if f.get(key):
                face[name] = {k.lower(): round(float(v), 2) for k, v in f[key].items()}
        if f.get("Embedding"):
            face["embedding"] = f["Embedding"]
        faces.append(face)
    return faces


def normalize_moderation(labels):
    return [{"name": m["Name"], "parent": m.get("ParentName") or None, "confidence": round(float(m["Confidence"]), 3)}
            for m in labels or ()]
