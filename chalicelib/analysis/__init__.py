"""Image analysis.  Rekognition's response shapes are the common currency.

Interface: ``analyze(source, min_confidence, max_labels) -> dict`` returning
DetectLabels' shape: ``{"Labels": [{"Name", "Confidence", "Parents": [{"Name"}],
"Aliases": [{"Name"}], "Categories": [{"Name"}], "Instances": [{"BoundingBox",
"Confidence"}]}], "LabelModelVersion": str}``.

It raises:
- ImageRejected: the image itself is the problem (format, size, dimensions);
  retrying cannot help, the photo is stored as ``failed`` with the reason.
- chalicelib.retry.TransientError: throttling, service errors, connection
  problems; the caller retries with backoff, then gives up for now.
"""
from collections import namedtuple

PhotoSource = namedtuple("PhotoSource", "bucket key etag")


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
