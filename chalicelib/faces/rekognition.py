"""Face matching on an Amazon Rekognition collection (one per deployment, FACE_COLLECTION).

Every owner's faces share the collection; a match is only ever returned when the face
store says it belongs to the caller (ExternalImageId is the photo id, FaceId is kept in
the face record as ``matcher_id``).  A missing collection is created on first use
(idempotently) and the call repeated.
"""
from chalicelib.analysis import unframe_face
from chalicelib.analysis.rekognition import call
from chalicelib.faces import NoFace, match_boxes

MAX_FACES = 4096          # SearchFaces' and DeleteFaces' limit per call


class CollectionMissing(Exception):
    pass


def _box(b):
    return {k.lower(): round(float(v), 6) for k, v in b.items()}


def _image(image):
    if "bytes" in image:
        return {"Bytes": image["bytes"]}
    return {"S3Object": {"Bucket": image["bucket"], "Name": image["key"]}}


def _frame(image):
    """Where the picture is in padded bytes (chalicelib.media.Converted), or None."""
    return getattr(image.get("bytes"), "frame", None)


class CollectionMatcher:
    engine = "rekognition"

    def __init__(self, client, collection, store):
        self.client = client
        self.collection = collection
        self.store = store

    def ensure_collection(self):
        try:
            self._call(self.client.create_collection, CollectionId=self.collection)
        except _AlreadyExists:
            pass

    def _call(self, fn, **kwargs):
        return call(fn, special=_collection_errors, **kwargs)

    def _in_collection(self, fn, **kwargs):
        """Call; if the collection does not exist yet, create it and call once more."""
        try:
            return self._call(fn, CollectionId=self.collection, **kwargs)
        except CollectionMissing:
            self.ensure_collection()
            return self._call(fn, CollectionId=self.collection, **kwargs)

    detects_while_indexing = True

    def detect_and_index(self, photo_id, image):
        """IndexFaces as the face detector: (FaceDetails with every attribute, FaceIds)."""
        response = self._in_collection(self.client.index_faces, Image=_image(image), ExternalImageId=photo_id,
                                       DetectionAttributes=["ALL"], MaxFaces=100, QualityFilter="NONE")
        records = response.get("FaceRecords", [])
        return [unframe_face(r["FaceDetail"], _frame(image)) for r in records], [r["Face"]["FaceId"] for r in records]

    def index(self, doc, image, faces):
        if not faces:
            return []
        response = self._in_collection(self.client.index_faces, Image=_image(image),
                                       ExternalImageId=doc["photo_id"], DetectionAttributes=["DEFAULT"],
                                       MaxFaces=100, QualityFilter="NONE")
        records = response.get("FaceRecords", [])
        pairs = match_boxes([f["box"] for f in faces],
                            [unframe_face(dict(r["Face"]), _frame(image))["BoundingBox"] for r in records])
        extra = [r["Face"]["FaceId"] for j, r in enumerate(records) if j not in pairs]
        if extra:   # faces IndexFaces found that DetectFaces did not: keep nothing we cannot show
            self.remove(extra)
        return [records[j]["Face"]["FaceId"] if j is not None else None for j in pairs]

    def remove(self, matcher_ids):
        ids = [i for i in matcher_ids if i]
        for start in range(0, len(ids), MAX_FACES):
            try:
                self._call(self.client.delete_faces, CollectionId=self.collection, FaceIds=ids[start:start + MAX_FACES])
            except CollectionMissing:
                return   # no collection: nothing of ours is in it

    def _owned(self, owner, matches):
        records = self.store.by_matcher_ids([m["Face"]["FaceId"] for m in matches])
        out = []
        for m in matches:
            face = records.get(m["Face"]["FaceId"])
            if face is not None and face["owner"] == owner:   # other owners' faces never match
                out.append((face, round(float(m["Similarity"]), 3)))
        out.sort(key=lambda fs: (-fs[1], fs[0]["face_id"]))
        return out

    def neighbours(self, face, threshold, limit):
        if not face.get("matcher_id"):
            return []
        try:
            response = self._call(self.client.search_faces, CollectionId=self.collection,
                                  FaceId=face["matcher_id"], FaceMatchThreshold=float(threshold), MaxFaces=MAX_FACES)
        except CollectionMissing:
            return []
        return [(f, s) for f, s in self._owned(face["owner"], response.get("FaceMatches", []))
                if f["face_id"] != face["face_id"]][:limit]

    def search_image(self, owner, image, threshold, limit):
        try:
            response = self._call(self.client.search_faces_by_image, CollectionId=self.collection,
                                  Image=_image(image), FaceMatchThreshold=float(threshold), MaxFaces=MAX_FACES)
        except CollectionMissing:
            return None, []
        box = _box(response["SearchedFaceBoundingBox"]) if response.get("SearchedFaceBoundingBox") else None
        return box, self._owned(owner, response.get("FaceMatches", []))[:limit]

    def compare(self, source, target, threshold):
        response = self._call(self.client.compare_faces, SourceImage=_image(source), TargetImage=_image(target),
                              SimilarityThreshold=float(threshold))
        matches = [(_box(m["Face"]["BoundingBox"]), round(float(m["Similarity"]), 3))
                   for m in response.get("FaceMatches", [])]
        matches.sort(key=lambda m: -m[1])
        return {"source_face": _box(response.get("SourceImageFace", {}).get("BoundingBox", {})) or None,
                "matches": matches,
                "unmatched": [_box(u["BoundingBox"]) for u in response.get("UnmatchedFaces", [])]}


class _AlreadyExists(Exception):
    pass


def _collection_errors(code, message):
    if code == "ResourceAlreadyExistsException":
        raise _AlreadyExists()
    if code == "ResourceNotFoundException":
        raise CollectionMissing(message)
    if code == "InvalidParameterException" and "no faces" in message.lower():
        raise NoFace()
