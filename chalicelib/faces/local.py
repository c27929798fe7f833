"""Face matching on the local engine's dlib embeddings (brute force over one owner's faces).

A query costs one matrix-vector distance over the owner's faces: the face store keeps
each owner's embedding matrix in memory until the owner's faces change.
"""
from chalicelib import settings
from chalicelib.faces import PER_DISTANCE, NoFace


def _vectors(image):
    """(box, embedding) of every face in an image, largest face first."""
    from chalicelib.analysis.local import _task
    from chalicelib.analysis.local.faces import FaceDetector, FaceEmbedder
    from chalicelib.analysis.local.image import decode
    img, _ = decode(image["bytes"], settings.get_int("DECODE_MAX_PIXELS", minimum=1))
    faces = _task(FaceDetector).predict(img)
    faces.sort(key=lambda f: -f["BoundingBox"]["Width"] * f["BoundingBox"]["Height"])
    embedder = _task(FaceEmbedder)
    return [({k.lower(): v for k, v in f["BoundingBox"].items()}, embedder.embed(img, f["BoundingBox"]))
            for f in faces]


def _similarities(matrix, vector):
    import numpy as np
    if not len(matrix):
        return np.zeros(0, dtype=np.float32)
    distances = np.linalg.norm(matrix - np.asarray(vector, dtype=np.float32), axis=1)
    return np.clip(100.0 - distances * PER_DISTANCE, 0.0, 100.0)     # chalicelib.faces.similarity


class EmbeddingMatcher:
    engine = "local"

    def __init__(self, store):
        self.store = store

    def index(self, doc, image, faces):
        return [None] * len(faces)   # the embeddings themselves are the index (kept in the face records)

    def remove(self, matcher_ids):
        pass

    def neighbours(self, face, threshold, limit):
        vector = face.get("embedding")
        if vector is None:
            stored = self.store.get_face(face["face_id"], with_embeddings=True)
            vector = stored and stored.get("embedding")
        if vector is None:
            return []
        return self._nearest(face["owner"], vector, threshold, limit, exclude=face["face_id"])

    def _nearest(self, owner, vector, threshold, limit, exclude=None):
        import numpy as np
        face_ids, _, matrix = self.store.embeddings(owner)
        sims = _similarities(matrix, vector)
        picked = np.nonzero(sims >= threshold)[0]
        order = sorted(picked, key=lambda i: (-float(sims[i]), face_ids[i]))
        chosen = [(face_ids[i], round(float(sims[i]), 3)) for i in order if face_ids[i] != exclude][:limit]
        records = self.store.get_faces([fid for fid, _ in chosen])
        return [(records[fid], sim) for fid, sim in chosen if fid in records]

    def search_image(self, owner, image, threshold, limit):
        found = _vectors(image)
        if not found:
            raise NoFace()
        box, vector = found[0]
        return box, self._nearest(owner, vector, threshold, limit)

    def compare(self, source, target, threshold):
        found = _vectors(source)
        if not found:
            raise NoFace("the source image shows no face")
        box, vector = found[0]
        targets = _vectors(target)
        matches, unmatched = [], []
        for tbox, tvector in targets:
            sim = round(float(_similarities([tvector], vector)[0]), 3)
            (matches if sim >= threshold else unmatched).append((tbox, sim))
        matches.sort(key=lambda m: -m[1])
        return {"source_face": box, "matches": matches, "unmatched": [b for b, _ in unmatched]}
