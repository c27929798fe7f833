"""The app on each configuration, for tests that must hold on both, through the chalice test client.

- ``aws``: storage on moto's S3 and the OpenSearch adapters on tests/support/opensearch_server.py
  (conftest.install_components), real Cognito ID tokens from moto.
- ``local``: what the local stage builds from its settings: a folder (DiskStorage), one SQLite
  file (index and face store), the app's own HS256 tokens (AUTH_MODE=local).

Both use the local engine's face matcher (embeddings in the face store), so the face and people
routes answer without Rekognition; no test here analyses an image.
"""
import hashlib
from collections import namedtuple

from chalicelib import auth as local_auth
from chalicelib import components
from chalicelib.index import ANY, documents
from chalicelib.keys import photo_id
from tests.conftest import install_components
from tests.support import images

Stack = namedtuple("Stack", "name services headers subs")

FACES = {"ANALYSIS_ENGINE": "local", "ANALYSIS_FEATURES": "labels,faces"}


def aws(request, monkeypatch):
    bucket, opensearch, users = (request.getfixturevalue(n) for n in ("bucket", "opensearch", "users"))
    services = install_components(monkeypatch, bucket, opensearch, **FACES)
    headers = {name: {"Authorization": users[name].token, "Content-Type": "application/json"} for name in users}
    return Stack("aws", services, headers, {name: users[name].sub for name in users})


def local(monkeypatch, tmp_path, **configured):
    """The local stage's components from its settings (or, with `configured`, some of them
    installed ready-made, e.g. SQLite adapters with a short busy timeout)."""
    for name, value in dict(FACES, STORAGE_BACKEND="disk", INDEX_BACKEND="sqlite", AUTH_MODE="local",
                            PHOTO_BUCKET="local", LOCAL_STORAGE_DIR=str(tmp_path / "bucket"),
                            SQLITE_PATH=str(tmp_path / "index.sqlite3"),
                            LOCAL_SECRET="stack-test-secret").items():
        monkeypatch.setenv(name, value)
    components.reset()
    components.configure(**configured)
    services = components.services()
    names = ("alice", "bob")
    headers = {n: {"Authorization": local_auth.issue_local_token(n), "Content-Type": "application/json"}
               for n in names}
    return Stack("local", services, headers, {n: local_auth.local_sub(n) for n in names})


DOG = {"name": "Dog", "confidence": 91.5, "parents": ["Animal"], "aliases": ["Pup"], "categories": ["Animals"],
       "instances": []}


def seed_photo(services, sub, name, labels=(DOG,), faces=()):
    """A stored, indexed photo (its bytes in storage, its document in the index)."""
    key = "usercontent/%s/%s" % (sub, name)
    info = services.storage.write(key, images.jpeg())
    pid = photo_id(services.storage.bucket, key)
    services.index.put(documents.build(pid, sub, services.storage.bucket, key, info, "", documents.STATUS_INDEXED,
                                       labels=list(labels), faces=list(faces)), ANY)
    services.index.refresh()
    return pid


def seed_person(services, sub, pid, name="Rex"):
    """One face of photo `pid` in a named person; returns (face_id, person_id)."""
    face_id = hashlib.sha256(("face:%s:%s" % (sub, pid)).encode()).hexdigest()[:32]
    person_id = hashlib.sha256(("person:%s:%s" % (sub, pid)).encode()).hexdigest()[:32]
    services.faces.put_person({"person_id": person_id, "owner": sub, "name": name, "created_at": "2026-01-01T00:00:00Z",
                               "created_by": "user"})
    services.faces.put_faces([{"face_id": face_id, "owner": sub, "photo_id": pid, "n": 1,
                               "box": {"width": 0.2, "height": 0.3, "left": 0.1, "top": 0.1}, "confidence": 99.0,
                               "crop_key": None, "person_id": person_id, "assigned_by": "user", "rejected": [],
                               "grouped": True, "matcher_id": None, "created_at": "2026-01-01T00:00:00Z",
                               "embedding": [0.01 * i for i in range(128)]}])
    return face_id, person_id
