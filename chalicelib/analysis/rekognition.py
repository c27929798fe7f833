"""Amazon Rekognition analyzer (reads the object straight from S3, or the converted bytes)."""
import botocore.exceptions

from chalicelib import settings
from chalicelib.analysis import ImageRejected, unframe
from chalicelib.retry import TransientError

# The image's own fault: record it, never retry.
REJECTED = {
    "InvalidImageFormatException": "InvalidImageFormat",
    "ImageTooLargeException": "ImageTooLarge",
    "InvalidParameterException": "InvalidParameter",
}
# Worth retrying with backoff.  Everything else (AccessDenied, InvalidS3Object,
# unknown codes) is also retried later by the reconciler, since it is about
# the deployment or a moment in time, not about the image.
THROTTLED = {"ThrottlingException", "ProvisionedThroughputExceededException",
             "InternalServerError", "ServiceUnavailableException", "LimitExceededException"}


class RekognitionAnalyzer:
    engine = "rekognition"

    def __init__(self, client):
        self.client = client

    def analyze(self, source, features, min_confidence, max_labels):
        """One API call per enabled feature (each is billed separately)."""
        image = {"Bytes": source.converted} if source.converted else \
            {"S3Object": {"Bucket": source.bucket, "Name": source.key}}
        result = {}
        if "labels" in features or "properties" in features:
            kwargs = {"Image": image, "MaxLabels": max_labels, "MinConfidence": min_confidence}
            if "properties" in features:
                kwargs["Features"] = ["GENERAL_LABELS", "IMAGE_PROPERTIES"] if "labels" in features \
                    else ["IMAGE_PROPERTIES"]
            response = self._call(self.client.detect_labels, **kwargs)
            result["Labels"] = response.get("Labels", []) if "labels" in features else []
            result["LabelModelVersion"] = response.get("LabelModelVersion", "")
            if "properties" in features:
                result["ImageProperties"] = response.get("ImageProperties")
        if "text" in features:
            result["TextDetections"] = self._call(self.client.detect_text, Image=image).get("TextDetections", [])
        if "moderation" in features:
            result["ModerationLabels"] = self._call(
                self.client.detect_moderation_labels, Image=image,
                MinConfidence=settings.get_float("MODERATION_MIN_CONFIDENCE", minimum=0, maximum=100),
            ).get("ModerationLabels", [])
        if "faces" in features:
            result["FaceDetails"] = self._call(self.client.detect_faces, Image=image,
                                               Attributes=["ALL"]).get("FaceDetails", [])
        # a picture padded to Rekognition's minimum size: boxes back to the picture's own ratios
        return unframe(result, getattr(source.converted, "frame", None))

    def _call(self, fn, **kwargs):
        return call(fn, **kwargs)


def call(fn, special=None, **kwargs):
    """One Rekognition call: the image's fault becomes ImageRejected, anything else
    TransientError.  `special(code, message)` may first raise an error of its own."""
    try:
        return fn(**kwargs)
    except botocore.exceptions.ClientError as e:
        err = e.response.get("Error", {})
        code, message = err.get("Code", "Unknown"), err.get("Message", "")
        if special is not None:
            special(code, message)
        if code in REJECTED:
            raise ImageRejected(REJECTED[code], message)
        raise TransientError(code, message)
    except botocore.exceptions.BotoCoreError as e:
        raise TransientError(type(e).__name__, str(e))
