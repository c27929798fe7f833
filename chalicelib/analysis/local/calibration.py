"""Calibrated label confidences for the local engine.

The models' raw scores (a class's softmax probability summed into its parents, a detector
box's score, a ConSE sum) are not probabilities of being right.  Rekognition's are meant to
be read as such, and so are ours after this map: a piecewise-linear, increasing function
fitted by tools/calibrate_labels.py on the tune half of the labelled photos
(bench/photos.json) so that labels shown at 50 or more were right at least 9 times in 10
there (calibration.json says how often, and how often on the held-out half).  Without the
file (before the first fit) the scores are used as they are.
"""
import bisect
import json
import os

HERE = os.path.dirname(os.path.abspath(__file__))
PATH = os.path.join(HERE, "calibration.json")


class Calibration:
    def __init__(self, points):
        """points: [[raw, calibrated], ...] increasing in both, from (0, 0) to (100, 100)."""
        self.raw = [float(r) for r, _ in points]
        self.cal = [float(c) for _, c in points]

    @classmethod
    def load(cls, path=PATH):
        if not os.path.exists(path):
            return cls([[0, 0], [100, 100]])
        with open(path, encoding="utf-8") as f:
            return cls(json.load(f)["points"])

    @staticmethod
    def _map(x, xs, ys):
        x = min(max(float(x), xs[0]), xs[-1])
        i = min(max(bisect.bisect_right(xs, x) - 1, 0), len(xs) - 2)
        x0, x1, y0, y1 = xs[i], xs[i + 1], ys[i], ys[i + 1]
        return y0 if x1 == x0 else y0 + (y1 - y0) * (x - x0) / (x1 - x0)

    def shown(self, raw):
        """The calibrated confidence (0-100) of a raw score."""
        return round(self._map(raw, self.raw, self.cal), 3)

    def raw_of(self, calibrated):
        """The raw score that calibrates to `calibrated` (for cutoffs asked in calibrated units)."""
        return self._map(calibrated, self.cal, self.raw)

    def apply(self, labels):
        """Labels (Rekognition shape, or evidence items) with calibrated confidences, in place."""
        for lab in labels:
            lab["Confidence"] = self.shown(lab["Confidence"])
            for inst in lab.get("Instances", ()):
                inst["Confidence"] = self.shown(inst["Confidence"])
        return labels
