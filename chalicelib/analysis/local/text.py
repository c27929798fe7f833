"""Text in photos with RapidOCR (PP-OCRv6 ONNX models shipped inside the rapidocr wheel)."""
from chalicelib.analysis.local.models import LazyModel


# Detection looks at the picture with its long side at most 960 px.  RapidOCR's default
# (short side at least 736 px) upscales small pictures 5-8x, which splits lines into words,
# and runs 12 MP photos at full size (0.6-1.6 s); measured with bench/run.py.  Detection is
# two thirds of a photo's analysis (bench/ingest.py --profile): 960 instead of 1280 px reads
# the same 39 of 40 rendered lines (20-48 px on 12 MP photos) and halves the 12 MP median.
DETECTION_SIDE = 960


class TextReader(LazyModel):
    def _load(self):
        from rapidocr import RapidOCR
        from chalicelib import settings
        params = {"Global.log_level": "error", "Det.limit_type": "max", "Det.limit_side_len": DETECTION_SIDE}
        threads = settings.get_int("LOCAL_THREADS", minimum=0)
        if threads:      # as the other models: worker processes share the cores instead of each taking all
            params["EngineConfig.onnxruntime.intra_op_num_threads"] = threads
            params["EngineConfig.onnxruntime.inter_op_num_threads"] = 1
            import cv2
            cv2.setNumThreads(threads)      # RapidOCR's pre- and post-processing
        return RapidOCR(params=params)

    def predict(self, img, min_confidence=0.0):
        """DetectText's TextDetections: LINE entries, each followed by its WORDs (ParentId)."""
        import numpy as np
        width, height = img.size
        result = self.model(np.asarray(img)[:, :, ::-1], return_word_box=True)
        detections = []
        if result.txts is None:
            return detections
        words_per_line = result.word_results or [()] * len(result.txts)
        for line_text, score, box, words in zip(result.txts, result.scores, result.boxes, words_per_line):
            confidence = round(float(score) * 100, 3)
            if not line_text.strip() or confidence < min_confidence:
                continue
            line_id = len(detections)
            detections.append({"DetectedText": line_text, "Type": "LINE", "Id": line_id, "Confidence": confidence,
                               "Geometry": _geometry(box, width, height)})
            for word in words or ():
                text, word_score, word_box = word[0], word[1], word[2]
                if text.strip():
                    detections.append({"DetectedText": text, "Type": "WORD", "Id": len(detections),
                                       "ParentId": line_id, "Confidence": round(float(word_score) * 100, 3),
                                       "Geometry": _geometry(word_box, width, height)})
        return detections


def _geometry(points, width, height):
    xs = [float(p[0]) / width for p in points]
    ys = [float(p[1]) / height for p in points]
    left, top = max(0.0, min(xs)), max(0.0, min(ys))
    return {"BoundingBox": {"Width": round(min(1.0, max(xs)) - left, 6), "Height": round(min(1.0, max(ys)) - top, 6),
                            "Left": round(left, 6), "Top": round(top, 6)},
            "Polygon": [{"X": round(x, 6), "Y": round(y, 6)} for x, y in zip(xs, ys)]}
