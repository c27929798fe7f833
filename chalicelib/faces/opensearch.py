"""The face store on Amazon OpenSearch Service: one index of face, person and owner
documents (``kind``), next to the photo index (see chalicelib.faces).

Writes use ``refresh=wait_for`` so grouping, which reads right after it writes, sees
them.  Embeddings (local engine only) are kept in ``_source``, never indexed.
"""
import opensearchpy

from chalicelib.index.opensearch import _translated, _version, _version_params

KEYWORD = {"type": "keyword"}
MAPPINGS = {
    "dynamic": False,
    "properties": {
        "kind": KEYWORD, "face_id": KEYWORD, "person_id": KEYWORD, "owner": KEYWORD, "photo_id": KEYWORD,
        "matcher_id": KEYWORD, "grouped": {"type": "boolean"}, "name": KEYWORD, "created_at": {"type": "date"},
    },
}
PAGE = 1000


class OpenSearchFaceStore:
    def __init__(self, client, index_name, refresh="wait_for"):
        self.client = client
        self.name = index_name
        self.refresh = refresh

    def _params(self, **extra):
        return dict({"refresh": self.refresh} if self.refresh else {}, **extra)

    def ensure(self):
        with _translated():
            if not self.client.indices.exists(index=self.name):
                try:
                    self.client.indices.create(index=self.name, body={
                        "settings": {"index": {"number_of_shards": 1}}, "mappings": MAPPINGS})
                    return
                except opensearchpy.RequestError as e:
                    if e.error != "resource_already_exists_exception":
                        raise
            self.client.indices.put_mapping(index=self.name, body=MAPPINGS)

    # -- helpers ----------------------------------------------------------
    def _get(self, _id):
        with _translated():
            try:
                hit = self.client.get(index=self.name, id=_id)
            except opensearchpy.NotFoundError:
                return None, None
        return hit["_source"], _version(hit)

    def _search(self, filters, must_not=(), sort="face_id", embeddings=False, limit=None):
        """Every matching document, in `sort` order, page by page."""
        out, after = [], None
        while True:
            size = PAGE if limit is None else min(PAGE, limit - len(out))
            body = {"size": size, "track_total_hits": False, "sort": [{sort: {"order": "asc"}}],
                    "query": {"bool": {"filter": list(filters), "must_not": list(must_not)}}}
            if not embeddings:
                body["_source"] = {"excludes": ["embedding"]}
            if after:
                body["search_after"] = after
            with _translated():
                hits = self.client.search(index=self.name, body=body)["hits"]["hits"]
            out.extend(h["_source"] for h in hits)
            if len(hits) < size or (limit is not None and len(out) >= limit):
                return out
            after = hits[-1]["sort"]

    def _bulk(self, lines):
        if not lines:
            return
        with _translated():
            self.client.bulk(body=lines, params=self._params())

    # -- faces ------------------------------------------------------------
    def put_faces(self, records):
        lines = []
        for face in records:
            lines += [{"index": {"_index": self.name, "_id": face["face_id"]}}, dict(face, kind="face")]
        self._bulk(lines)

    def get_face(self, face_id, with_embeddings=False):
        doc, _ = self._get(face_id)
        if doc is None or doc.get("kind") != "face":
            return None
        return _face(doc, with_embeddings)

    def get_faces(self, face_ids):
        if not face_ids:
            return {}
        found = self._search([{"term": {"kind": "face"}}, {"terms": {"face_id": list(face_ids)}}])
        return {f["face_id"]: _face(f) for f in found}

    def faces_of_photo(self, photo_id, with_embeddings=False):
        found = self._search([{"term": {"kind": "face"}}, {"term": {"photo_id": photo_id}}], embeddings=with_embeddings)
        return sorted((_face(f, with_embeddings) for f in found), key=lambda f: f["n"])

    def faces(self, owner, person_id=None, unassigned=False, ungrouped=False):
        filters = [{"term": {"kind": "face"}}, {"term": {"owner": owner}}]
        must_not = []
        if person_id is not None:
            filters.append({"term": {"person_id": person_id}})
        if unassigned:
            must_not.append({"exists": {"field": "person_id"}})
        if ungrouped:
            filters.append({"term": {"grouped": False}})
        return [_face(f) for f in self._search(filters, must_not)]

    def by_matcher_ids(self, ids):
        if not ids:
            return {}
        found = self._search([{"term": {"kind": "face"}}, {"terms": {"matcher_id": list(ids)}}])
        return {f["matcher_id"]: _face(f) for f in found}

    def delete_faces(self, face_ids):
        self._bulk([{"delete": {"_index": self.name, "_id": fid}} for fid in face_ids])

    def assign(self, face_id, person_id, by, expected=None):
        doc, version = self._get(face_id)
        if doc is None or doc.get("person_id") != expected:
            return False
        doc = dict(doc, person_id=person_id, assigned_by=by if person_id else None)
        with _translated():
            try:
                self.client.index(index=self.name, id=face_id, body=doc,
                                  params=self._params(**_version_params(version)))
            except opensearchpy.ConflictError:
                return False
        return True

    def update_face(self, face_id, **fields):
        unknown = set(fields) - {"person_id", "assigned_by", "rejected", "grouped"}
        if unknown:
            raise ValueError("cannot update %s" % ", ".join(sorted(unknown)))
        for _ in range(5):
            doc, version = self._get(face_id)
            if doc is None:
                return False
            with _translated():
                try:
                    self.client.index(index=self.name, id=face_id, body=dict(doc, **fields),
                                      params=self._params(**_version_params(version)))
                    return True
                except opensearchpy.ConflictError:
                    continue
        return False

    def embeddings(self, owner):
        import numpy as np
        found = [f for f in self._search([{"term": {"kind": "face"}}, {"term": {"owner": owner}}], embeddings=True)
                 if f.get("embedding")]
        matrix = np.asarray([f["embedding"] for f in found], dtype=np.float32).reshape(len(found), -1) \
            if found else np.zeros((0, 128), dtype=np.float32)
        return [f["face_id"] for f in found], [f["photo_id"] for f in found], matrix

    def ungrouped(self, limit=100):
        return [_face(f) for f in self._search([{"term": {"kind": "face"}}, {"term": {"grouped": False}}],
                                               limit=limit)]

    # -- people -----------------------------------------------------------
    def put_person(self, person):
        with _translated():
            self.client.index(index=self.name, id="person:" + person["person_id"], body=dict(person, kind="person"),
                              params=self._params())

    def get_person(self, person_id):
        doc, _ = self._get("person:" + person_id)
        return _plain(doc) if doc and doc.get("kind") == "person" else None

    def delete_person(self, person_id):
        with _translated():
            try:
                self.client.delete(index=self.name, id="person:" + person_id, params=self._params())
            except opensearchpy.NotFoundError:
                pass

    def people(self, owner):
        return [_plain(p) for p in self._search([{"term": {"kind": "person"}}, {"term": {"owner": owner}}],
                                                sort="person_id")]

    def person_counts(self, owner, person_ids=None):
        counts = {}
        chosen = [{"terms": {"person_id": list(person_ids)}}] if person_ids is not None else []
        for face in self._search([{"term": {"kind": "face"}}, {"term": {"owner": owner}},
                                  {"exists": {"field": "person_id"}}] + chosen):
            faces, photos = counts.setdefault(face["person_id"], (0, set()))
            photos.add(face["photo_id"])
            counts[face["person_id"]] = (faces + 1, photos)
        return {pid: (n, len(photos)) for pid, (n, photos) in counts.items()}

    # -- owners -----------------------------------------------------------
    def get_owner(self, owner):
        doc, _ = self._get("owner:" + owner)
        return dict({"owner": owner, "opted_out": False}, **(_plain(doc) if doc else {}))

    def put_owner(self, settings):
        with _translated():
            self.client.index(index=self.name, id="owner:" + settings["owner"], body=dict(settings, kind="owner"),
                              params=self._params())

    def delete_owner(self, owner):
        faces = self._search([{"term": {"kind": "face"}}, {"term": {"owner": owner}}])
        self.delete_faces([f["face_id"] for f in faces])
        for person in self.people(owner):
            self.delete_person(person["person_id"])


def _plain(doc):
    return {k: v for k, v in doc.items() if k != "kind"}


def _face(doc, with_embeddings=False):
    out = _plain(doc)
    if not with_embeddings:
        out.pop("embedding", None)
    else:
        out.setdefault("embedding", None)
    return out
