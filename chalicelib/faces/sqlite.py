"""The embedded face store: tables in the index's SQLite file (see chalicelib.faces).

Embeddings are float32 blobs in their own column; ``embeddings(owner)`` keeps the
owner's matrix in memory until one of the owner's faces is added or deleted (a
per-owner generation number, bumped inside the same transaction as the change).
"""
import json
import threading

from chalicelib.index.sqlite import BUSY_TIMEOUT_SECONDS, Transaction, connect, translate_errors

SCHEMA = """
CREATE TABLE IF NOT EXISTS faces (
    face_id TEXT PRIMARY KEY,
    owner TEXT NOT NULL,
    photo_id TEXT NOT NULL,
    person_id TEXT,
    matcher_id TEXT,
    grouped INTEGER NOT NULL DEFAULT 0,
    embedding BLOB,
    doc TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS faces_owner_person ON faces (owner, person_id, face_id);
CREATE INDEX IF NOT EXISTS faces_photo ON faces (photo_id);
CREATE INDEX IF NOT EXISTS faces_matcher ON faces (matcher_id) WHERE matcher_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS faces_ungrouped ON faces (grouped) WHERE grouped = 0;
CREATE TABLE IF NOT EXISTS people (
    person_id TEXT PRIMARY KEY,
    owner TEXT NOT NULL,
    doc TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS people_owner ON people (owner);
CREATE TABLE IF NOT EXISTS face_owners (
    owner TEXT PRIMARY KEY,
    generation INTEGER NOT NULL DEFAULT 0,
    doc TEXT NOT NULL DEFAULT '{}'
);
"""
FIELDS = ("person_id", "assigned_by", "rejected", "grouped")


@translate_errors      # a locked or read-only file: BackendUnavailable (503), as for the photo index
class SQLiteFaceStore:
    def __init__(self, path, busy_timeout=BUSY_TIMEOUT_SECONDS):
        self.path = path
        self.busy_timeout = busy_timeout
        self._local = threading.local()
        self._cache = {}            # owner -> (generation, (face_ids, photo_ids, matrix))
        self._cache_lock = threading.Lock()

    def _db(self):
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._local.conn = connect(self.path, self.busy_timeout)
        return conn

    def _write(self):
        return Transaction(self._db())

    def ensure(self):
        self._db().executescript(SCHEMA)

    # -- faces ------------------------------------------------------------
    def put_faces(self, records):
        import numpy as np
        with self._write() as db:
            for face in records:
                doc = {k: v for k, v in face.items() if k != "embedding"}
                emb = face.get("embedding")
                blob = np.asarray(emb, dtype=np.float32).tobytes() if emb is not None else None
                db.execute("INSERT OR REPLACE INTO faces (face_id, owner, photo_id, person_id, matcher_id, grouped, "
                           "embedding, doc) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                           (face["face_id"], face["owner"], face["photo_id"], face.get("person_id"),
                            face.get("matcher_id"), 1 if face.get("grouped") else 0, blob,
                            json.dumps(doc, ensure_ascii=False)))
            self._bump(db, {f["owner"] for f in records})

    @staticmethod
    def _bump(db, owners):
        db.executemany("INSERT INTO face_owners (owner, generation) VALUES (?, 1) "
                       "ON CONFLICT (owner) DO UPDATE SET generation = generation + 1", [(o,) for o in owners])

    def _rows(self, sql, params, with_embeddings=False):
        import numpy as np
        out = []
        for doc, emb in self._db().execute(sql.replace("SELECT *", "SELECT doc, embedding"), params):
            face = json.loads(doc)
            if with_embeddings:
                face["embedding"] = np.frombuffer(emb, dtype=np.float32).tolist() if emb is not None else None
            out.append(face)
        return out

    def get_face(self, face_id, with_embeddings=False):
        rows = self._rows("SELECT * FROM faces WHERE face_id = ?", (face_id,), with_embeddings)
        return rows[0] if rows else None

    def get_faces(self, face_ids):
        if not face_ids:
            return {}
        rows = self._rows("SELECT * FROM faces WHERE face_id IN (SELECT value FROM json_each(?))",
                          (json.dumps(list(face_ids)),))
        return {f["face_id"]: f for f in rows}

    def faces_of_photo(self, photo_id, with_embeddings=False):
        faces = self._rows("SELECT * FROM faces WHERE photo_id = ?", (photo_id,), with_embeddings)
        return sorted(faces, key=lambda f: f["n"])

    def faces(self, owner, person_id=None, unassigned=False, ungrouped=False):
        sql, params = "SELECT * FROM faces WHERE owner = ?", [owner]
        if person_id is not None:
            sql += " AND person_id = ?"
            params.append(person_id)
        if unassigned:
            sql += " AND person_id IS NULL"
        if ungrouped:
            sql += " AND grouped = 0"
        return self._rows(sql + " ORDER BY face_id", params)

    def by_matcher_ids(self, ids):
        if not ids:
            return {}
        rows = self._rows("SELECT * FROM faces WHERE matcher_id IN (SELECT value FROM json_each(?))",
                          (json.dumps(list(ids)),))
        return {f["matcher_id"]: f for f in rows}

    def delete_faces(self, face_ids):
        if not face_ids:
            return
        with self._write() as db:
            owners = [r[0] for r in db.execute(
                "SELECT DISTINCT owner FROM faces WHERE face_id IN (SELECT value FROM json_each(?))",
                (json.dumps(list(face_ids)),))]
            db.execute("DELETE FROM faces WHERE face_id IN (SELECT value FROM json_each(?))",
                       (json.dumps(list(face_ids)),))
            self._bump(db, owners)

    def assign(self, face_id, person_id, by, expected=None):
        with self._write() as db:
            row = db.execute("SELECT doc, person_id FROM faces WHERE face_id = ?", (face_id,)).fetchone()
            if row is None or row[1] != expected:
                return False
            doc = dict(json.loads(row[0]), person_id=person_id, assigned_by=by if person_id else None)
            db.execute("UPDATE faces SET person_id = ?, doc = ? WHERE face_id = ?",
                       (person_id, json.dumps(doc, ensure_ascii=False), face_id))
            return True

    def update_face(self, face_id, **fields):
        unknown = set(fields) - set(FIELDS)
        if unknown:
            raise ValueError("cannot update %s" % ", ".join(sorted(unknown)))
        with self._write() as db:
            row = db.execute("SELECT doc FROM faces WHERE face_id = ?", (face_id,)).fetchone()
            if row is None:
                return False
            doc = dict(json.loads(row[0]), **fields)
            db.execute("UPDATE faces SET person_id = ?, grouped = ?, doc = ? WHERE face_id = ?",
                       (doc.get("person_id"), 1 if doc.get("grouped") else 0, json.dumps(doc, ensure_ascii=False),
                        face_id))
            return True

    def embeddings(self, owner):
        import numpy as np
        db = self._db()
        row = db.execute("SELECT generation FROM face_owners WHERE owner = ?", (owner,)).fetchone()
        generation = row[0] if row else 0
        with self._cache_lock:
            cached = self._cache.get(owner)
            if cached and cached[0] == generation:
                return cached[1]
        rows = db.execute("SELECT face_id, photo_id, embedding FROM faces WHERE owner = ? AND embedding IS NOT NULL "
                          "ORDER BY face_id", (owner,)).fetchall()
        matrix = np.frombuffer(b"".join(r[2] for r in rows), dtype=np.float32).reshape(len(rows), -1) \
            if rows else np.zeros((0, 128), dtype=np.float32)
        value = ([r[0] for r in rows], [r[1] for r in rows], matrix)
        with self._cache_lock:
            self._cache[owner] = (generation, value)
        return value

    def ungrouped(self, limit=100):
        return self._rows("SELECT * FROM faces WHERE grouped = 0 ORDER BY face_id LIMIT ?", (limit,))

    # -- people -----------------------------------------------------------
    def put_person(self, person):
        with self._write() as db:
            db.execute("INSERT OR REPLACE INTO people (person_id, owner, doc) VALUES (?, ?, ?)",
                       (person["person_id"], person["owner"], json.dumps(person, ensure_ascii=False)))

    def get_person(self, person_id):
        row = self._db().execute("SELECT doc FROM people WHERE person_id = ?", (person_id,)).fetchone()
        return json.loads(row[0]) if row else None

    def delete_person(self, person_id):
        with self._write() as db:
            db.execute("DELETE FROM people WHERE person_id = ?", (person_id,))

    def people(self, owner):
        rows = self._db().execute("SELECT doc FROM people WHERE owner = ? ORDER BY person_id", (owner,))
        return [json.loads(r[0]) for r in rows]

    def person_counts(self, owner, person_ids=None):
        sql, params = "SELECT person_id, COUNT(*), COUNT(DISTINCT photo_id) FROM faces WHERE owner = ?", [owner]
        if person_ids is not None:
            sql += " AND person_id IN (SELECT value FROM json_each(?))"
            params.append(json.dumps(list(person_ids)))
        rows = self._db().execute(sql + " AND person_id IS NOT NULL GROUP BY person_id", params)
        return {r[0]: (r[1], r[2]) for r in rows}

    # -- owners -----------------------------------------------------------
    def get_owner(self, owner):
        row = self._db().execute("SELECT doc FROM face_owners WHERE owner = ?", (owner,)).fetchone()
        return dict({"owner": owner, "opted_out": False}, **(json.loads(row[0]) if row else {}))

    def put_owner(self, settings):
        with self._write() as db:
            db.execute("INSERT INTO face_owners (owner, generation, doc) VALUES (?, 1, ?) "
                       "ON CONFLICT (owner) DO UPDATE SET doc = excluded.doc",
                       (settings["owner"], json.dumps(settings)))

    def delete_owner(self, owner):
        with self._write() as db:
            db.execute("DELETE FROM faces WHERE owner = ?", (owner,))
            db.execute("DELETE FROM people WHERE owner = ?", (owner,))
            self._bump(db, [owner])

