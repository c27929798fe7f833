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
local engine reads them; Rekognition reads the S3 object itself), ``source.picture``
the photo as the pipeline decoded it once (a chalicelib.media.Picture: the local
engine works from it rather than decoding the bytes again).

A picture under MIN_SIDE px on a side is padded before analysis (Rekognition refuses
it otherwise); every box and point answered is mapped back to the picture (unframe).

It raises:
- ImageRejected: the image itself is the problem (format, size, dimensions);
  retrying cannot help, the photo is stored as ``failed`` with the reason.
- chalicelib.retry.TransientError: throttling, service errors, connection
  problems; the caller retries with backoff, then gives up for now.
"""
import copy
from collections import namedtuple

# `converted`: JPEG bytes to analyse instead of the stored object (a format Rekognition does
# not take, an EXIF orientation to apply first, a picture to pad); None analyses the object as
# stored.  A padded one (chalicelib.media.Converted) says where the picture is in its `frame`.
# `picture`: the decoded chalicelib.media.Picture, or None.
PhotoSource = namedtuple("PhotoSource", "bucket key etag fetch converted picture")
PhotoSource.__new__.__defaults__ = (None, None, None)

from chalicelib.media import MIN_SIDE  # noqa: E402,F401 -- Rekognition's minimum side, px


def unframe(result, *frames):
    """`result` (Rekognition's shapes) with every box and point found in a padded picture
    mapped back to the picture it was padded from (`frames`: chalicelib.media.Frame, innermost
    padding first; None for none): labels' instances, text geometry, faces and landmarks."""
    frames = [f for f in frames if f is not None]
    if not frames:
        return result
    result = copy.deepcopy(result)
    for frame in frames:
        for label in result.get("Labels") or ():
            for instance in label.get("Instances") or ():
                _unframe_box(instance, frame)
        for det in result.get("TextDetections") or ():
            geometry = det.get("Geometry") or {}
            _unframe_box(geometry, frame)
            for point in geometry.get("Polygon") or ():
                _unframe_point(point, frame)
        for face in result.get("FaceDetails") or ():
            unframe_face(face, frame)
    return result


def unframe_face(face, frame):
    """A FaceDetail (or IndexFaces' Face) found in a padded picture, mapped back in place."""
    if frame is not None:
        _unframe_box(face, frame)
        for point in face.get("Landmarks") or ():
            _unframe_point(point, frame)
    return face


def _clip(v):
    return min(1.0, max(0.0, v))


def _unframe_box(holder, frame):
    box = holder.get("BoundingBox")
    if not box:
        return
    left, top = box.get("Left", 0.0), box.get("Top", 0.0)
    x0 = _clip((left * frame.outer_width - frame.left) / frame.width)
    y0 = _clip((top * frame.outer_height - frame.top) / frame.height)
    x1 = _clip(((left + box.get("Width", 0.0)) * frame.outer_width - frame.left) / frame.width)
    y1 = _clip(((top + box.get("Height", 0.0)) * frame.outer_height - frame.top) / frame.height)
    holder["BoundingBox"] = dict(box, Left=round(x0, 6), Top=round(y0, 6), Width=round(x1 - x0, 6),
                                 Height=round(y1 - y0, 6))


def _unframe_point(point, frame):
    if "X" in point:
        point["X"] = round(_clip((point["X"] * frame.outer_width - frame.left) / frame.width), 6)
    if "Y" in point:
        point["Y"] = round(_clip((point["Y"] * frame.outer_height - frame.top) / frame.height), 6)


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


def normalize_evidence(response):
    """The local engine's LabelEvidence (not part of Rekognition's answer: concepts searchable
    but not shown, chalicelib.index.documents.build) -> the index's evidence items."""
    items = []
    for item in response.get("LabelEvidence", ()):
        items.append({"name": item["Name"], "confidence": round(float(item["Confidence"]), 3),
                      "parents": [p["Name"] for p in item.get("Parents", ())],
                      "aliases": [a["Name"] for a in item.get("Aliases", ())]})
    items.sort(key=lambda i: (-i["confidence"], i["name"]))
    return items[:MAX_EVIDENCE]


MAX_EVIDENCE = 200


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
