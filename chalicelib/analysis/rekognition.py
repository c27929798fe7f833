"""Amazon Rekognition analyzer (reads the object straight from S3)."""
import botocore.exceptions

from chalicelib.analysis import ImageRejected
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

    def analyze(self, source, min_confidence, max_labels):
        try:
            response = self.client.detect_labels(
                Image={"S3Object": {"Bucket": source.bucket, "Name": source.key}},
                MaxLabels=max_labels, MinConfidence=min_confidence)
        except botocore.exceptions.ClientError as e:
            err = e.response.get("Error", {})
            code, message = err.get("Code", "Unknown"), err.get("Message", "")
            if code in REJECTED:
                raise ImageRejected(REJECTED[code], message)
            raise TransientError(code, message)
        except botocore.exceptions.BotoCoreError as e:
            raise TransientError(type(e).__name__, str(e))
        return {"Labels": response.get("Labels", []),
                "LabelModelVersion": response.get("LabelModelVersion", "")}
