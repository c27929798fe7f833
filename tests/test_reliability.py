"""Nothing one object does can stop the others, and nothing is lost or resurrected.

Fault injection on the real components: moto S3 events and the recording OpenSearch server
(answering 503 when told to), Rekognition under a Stubber, and the local stage's disk
storage with a real SQLite file.  Each test asserts the final state of every object.
"""
import threading

import pytest

from chalicelib import components, keys
from chalicelib.errors import BackendUnavailable
from chalicelib.keys import photo_id
from chalicelib.pipeline import events, reconcile as reconciliation
from chalicelib.pipeline.indexing import index_object
from chalicelib.pipeline.removal import remove_object
from tests.conftest import BUCKET, INDEX, install_components, s3_event
from tests.support import images, photos
from tests.support.rekognition import CAR_ON_STREET, DOG_ON_GRASS
from tests.test_indexing import created, index_event, put, stored


class Faulty:
    """The real analyzer, with faults injected for chosen keys: `raise_for` raises inside
    analysis; `during` runs a callback in the middle of one analysis (a concurrent writer)."""

    def __init__(self, real, raise_for=(), during=None):
        self.real, self.raise_for, self.during, self.calls = real, raise_for, during or {}, []
        self.engine = real.engine
        self.client = getattr(real, "client", None)

    def analyze(self, source, *args, **kwargs):
        self.calls.append(source.key)
        if any(part in source.key for part in self.raise_for):
            raise RuntimeError("decoder bug on %s" % source.key)
        callback = self.during.pop(source.key, None)
        if callback:
            callback()
        return self.real.analyze(source, *args, **kwargs)


@pytest.fixture
def services(services):  # noqa: F811 -- the app's services, with a Faulty analyzer around the real one
    components.configure(analyzer=Faulty(services.analyzer))
    return components.services()


@pytest.fixture
def faulty(services):
    return services.analyzer


def keys_under(s3, prefix):
    return sorted(o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET, Prefix=prefix).get("Contents", ()))


# ---- defect 1: one object's exception ends in a final status, never stops the walk -------------

def test_an_exception_for_one_photo_mid_pass_leaves_it_failed_and_the_pass_goes_on(services, s3, rekognition,
                                                                                    faulty):
    faulty.raise_for = ("poison",)
    put(s3, "usercontent/alice/a.jpg")
    put(s3, "usercontent/alice/poison.jpg")
    put(s3, "usercontent/bob/z.jpg")
    rekognition.labels(BUCKET, "usercontent/alice/a.jpg", CAR_ON_STREET)
    rekognition.labels(BUCKET, "usercontent/bob/z.jpg", DOG_ON_GRASS)
    stats = reconciliation.reconcile(services, restart=True)
    assert stats["complete"] and stats["indexed"] == 3 and stats["errors"] == 0
    assert stored(services, "usercontent/alice/a.jpg")["status"] == "indexed"
    assert stored(services, "usercontent/bob/z.jpg")["status"] == "indexed"
    poison = stored(services, "usercontent/alice/poison.jpg")
    assert poison["status"] == "failed" and poison["retryable"] is True and poison["attempts"] == 1
    assert poison["reason"].startswith("ProcessingError: RuntimeError: decoder bug")


def test_retries_of_a_poison_photo_are_capped_then_it_is_failed_for_good(services, s3, faulty, monkeypatch):
    monkeypatch.setenv("MAX_ATTEMPTS", "3")
    faulty.raise_for = ("poison",)
    put(s3, "usercontent/alice/poison.jpg")
    for attempt in (1, 2, 3):
        reconciliation.reconcile(services, restart=True)
        assert stored(services, "usercontent/alice/poison.jpg")["attempts"] == attempt
    doc = stored(services, "usercontent/alice/poison.jpg")
    assert doc["status"] == "failed" and doc["retryable"] is False
    assert doc["reason"].endswith("(gave up after 3 attempts)")
    faulty.calls.clear()
    reconciliation.reconcile(services, restart=True)
    assert faulty.calls == []                       # never analysed again until the file changes


def test_a_failed_photo_waits_out_its_backoff_before_the_next_try(services, s3, faulty, monkeypatch):
    monkeypatch.setenv("RETRY_BACKOFF_SECONDS", "3600")
    faulty.raise_for = ("poison",)
    put(s3, "usercontent/alice/poison.jpg")
    reconciliation.reconcile(services, restart=True)
    first = stored(services, "usercontent/alice/poison.jpg")
    assert first["retry_at"] > first["indexed_at"]
    faulty.calls.clear()
    reconciliation.reconcile(services, restart=True)
    assert faulty.calls == [] and stored(services, "usercontent/alice/poison.jpg")["attempts"] == 1


def test_a_two_record_event_whose_first_record_fails_indexes_the_second(client, services, s3, rekognition,
                                                                         faulty):
    faulty.raise_for = ("poison",)
    e1 = put(s3, "usercontent/alice/poison.jpg")
    e2 = put(s3, "usercontent/alice/fine.jpg")
    rekognition.labels(BUCKET, "usercontent/alice/fine.jpg", CAR_ON_STREET)
    assert index_event(client, created("usercontent/alice/poison.jpg", e1),
                       created("usercontent/alice/fine.jpg", e2)) == ["failed", "indexed"]
    assert stored(services, "usercontent/alice/fine.jpg")["status"] == "indexed"


def test_opensearch_down_for_the_first_record_still_indexes_the_second_and_the_retry_completes(
        client, services, s3, rekognition, opensearch):
    e1 = put(s3, "usercontent/alice/one.jpg")
    e2 = put(s3, "usercontent/alice/two.jpg")
    rekognition.labels(BUCKET, "usercontent/alice/two.jpg", DOG_ON_GRASS)
    one = photo_id(BUCKET, "usercontent/alice/one.jpg")
    opensearch.hook = lambda r: 503 if one in r.path or one.encode() in r.body else None   # down for one photo
    event = [created("usercontent/alice/one.jpg", e1), created("usercontent/alice/two.jpg", e2)]
    with pytest.raises(BackendUnavailable):
        events.handle(services, s3_event(event), "ObjectCreated:")
    opensearch.hook = None
    assert stored(services, "usercontent/alice/two.jpg")["status"] == "indexed"
    assert stored(services, "usercontent/alice/one.jpg") is None
    rekognition.labels(BUCKET, "usercontent/alice/one.jpg", CAR_ON_STREET)
    assert index_event(client, *event) == ["indexed", "duplicate"]      # Lambda's retry of the event
    assert [stored(services, k)["status"] for k in ("usercontent/alice/one.jpg", "usercontent/alice/two.jpg")] \
        == ["indexed", "indexed"]


def test_opensearch_down_during_a_reconcile_pass_loses_and_duplicates_nothing(services, s3, rekognition,
                                                                               opensearch, monkeypatch):
    monkeypatch.setenv("RECONCILE_BATCH_SIZE", "2")
    names = ["usercontent/alice/%d.jpg" % n for n in range(5)]
    for name in names:
        put(s3, name)
    for name in names[:2]:
        rekognition.labels(BUCKET, name, CAR_ON_STREET)
    calls_before = len(opensearch.requests)
    bulk_seen = []

    def fail_second_bulk(request):
        if request.path.endswith("/_bulk"):
            bulk_seen.append(request)
            return 503 if len(bulk_seen) >= 2 else None     # down from the second batch on
        return None
    opensearch.hook = fail_second_bulk
    rekognition.labels(BUCKET, names[2], CAR_ON_STREET)
    rekognition.labels(BUCKET, names[3], CAR_ON_STREET)
    with pytest.raises(BackendUnavailable):
        reconciliation.reconcile(services, restart=True)
    opensearch.hook = None
    assert len(opensearch.requests) > calls_before
    services.index.refresh()
    assert [stored(services, n) is not None for n in names] == [True, True, False, False, False]
    for name in names[2:]:
        rekognition.labels(BUCKET, name, DOG_ON_GRASS)
    stats = reconciliation.reconcile(services)                       # resumes after the checkpoint
    assert stats["complete"] and stats["indexed"] == 3
    services.index.refresh()
    assert [stored(services, n)["status"] for n in names] == ["indexed"] * 5
    docs = [d for d, _ in services.index.scan(BUCKET, "", 100)]
    assert sorted(d["key"] for d in docs) == names                   # nothing duplicated


# ---- defect 4: a delete during indexing never brings the document back -------------------------

@pytest.mark.parametrize("had_document", [True, False], ids=["pending-doc", "no-doc"])
def test_a_photo_deleted_while_it_is_analysed_stays_deleted(services, s3, rekognition, faulty, had_document):
    key = "usercontent/alice/short-lived.jpg"
    etag = put(s3, key)
    if had_document:
        from chalicelib.index import documents
        info = services.storage.head(key)
        services.index.put(documents.build(photo_id(BUCKET, key), "alice", BUCKET, key, info, "", "pending"))

    def delete_meanwhile():
        s3.delete_object(Bucket=BUCKET, Key=key)
        remove_object(services, BUCKET, key, sequencer="0055AED6DCD90281E9")
    faulty.during[key] = delete_meanwhile
    rekognition.labels(BUCKET, key, CAR_ON_STREET)
    outcome, _ = index_object(services, BUCKET, key, etag=etag, sequencer="0055AED6DCD90281E5")
    assert outcome == "gone"
    assert stored(services, key) is None
    assert keys_under(s3, "thumbnails/") == []                       # no orphan thumbnail either


# ---- defect 9: derived keys of different photos never collide -----------------------------------

def test_a_photo_named_like_another_photos_face_crop_gets_its_own_files(services, s3, rekognition):
    first, second = "usercontent/alice/crop/o.jpg", "usercontent/alice/crop/o.jpg.face-1.jpg"
    derived = {keys.thumbnail_key(first), keys.face_crop_key(first, 1), keys.thumbnail_key(second),
               keys.face_crop_key(second, 1)}
    assert len(derived) == 4
    for key, labels in ((first, CAR_ON_STREET), (second, DOG_ON_GRASS)):
        rekognition.labels(BUCKET, key, labels)
        assert index_object(services, BUCKET, key, etag=put(s3, key))[0] == "indexed"
    s3.delete_object(Bucket=BUCKET, Key=second)
    remove_object(services, BUCKET, second)
    assert keys_under(s3, "thumbnails/") == [keys.thumbnail_key(first)]


# ---- defects 3 and 10: the local stage (disk storage, SQLite, local engine) ----------------------

@pytest.fixture
def disk_services(bucket, opensearch, monkeypatch, tmp_path):
    services = install_components(monkeypatch, bucket, opensearch, STORAGE_BACKEND="disk",
                                  LOCAL_STORAGE_DIR=str(tmp_path / "bucket"), PHOTO_BUCKET="local",
                                  INDEX_BACKEND="sqlite", SQLITE_PATH=str(tmp_path / "index.sqlite3"),
                                  LOCAL_SECRET="reliability-test", ANALYSIS_ENGINE="local",
                                  ANALYSIS_FEATURES="labels", MIN_CONFIDENCE="20")
    components.reset()
    yield components.services()
    components.reset()


def test_deleting_several_files_of_one_folder_never_stops_the_reconciler(disk_services):
    storage = disk_services.storage
    data = photos.encode(photos.load("chelsea.png"))
    names = ["usercontent/alice/f/%d.jpg" % n for n in range(5)]
    for name in names:
        storage.write(name, data)
    assert reconciliation.reconcile(disk_services, restart=True)["indexed"] == 5
    for name in names[1:4]:
        storage.delete(name)
    storage.write("usercontent/zoe/later.jpg", data)                   # after the folder in key order
    stats = reconciliation.reconcile(disk_services, restart=True)
    assert stats["complete"] and stats["removed"] == 3 and stats["indexed"] == 1 and stats["errors"] == 0
    assert [k.key for k in storage.list("thumbnails/")] == [
        keys.thumbnail_key(names[0]), keys.thumbnail_key(names[4]), keys.thumbnail_key("usercontent/zoe/later.jpg")]
    assert all(disk_services.index.get(photo_id("local", n))[0] is None for n in names[1:4])


def test_orphan_derived_files_are_deleted_by_a_complete_pass(disk_services):
    storage = disk_services.storage
    storage.write(keys.thumbnail_key("usercontent/alice/gone.jpg"), images.jpeg())
    storage.write("usercontent/alice/kept.jpg", photos.encode(photos.load("chelsea.png")))
    stats = reconciliation.reconcile(disk_services, restart=True)
    assert stats["orphans"] == 1
    assert [k.key for k in storage.list("thumbnails/")] == [keys.thumbnail_key("usercontent/alice/kept.jpg")]


def test_two_writes_of_one_key_get_increasing_sequencers_and_the_last_one_wins(disk_services):
    storage = disk_services.storage
    key = "usercontent/alice/same.jpg"
    seen = []
    threads = [threading.Thread(target=lambda n=n: seen.append(storage.write(key, images.jpeg(size=(90 + n, 90)))
                                                               .sequencer)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(seen)) == 8 and all(len(s) == 20 for s in seen)

    first = storage.write(key, photos.encode(photos.load("chelsea.png")))
    later = {}

    def second_upload_meanwhile():
        later["info"] = storage.write(key, images.png(size=(300, 200)))
        index_object(disk_services, "local", key, etag=later["info"].etag, sequencer=later["info"].sequencer)
    analyzer = Faulty(disk_services.analyzer, during={key: second_upload_meanwhile})
    components.configure(analyzer=analyzer)
    services = components.services()
    outcome, _ = index_object(services, "local", key, etag=first.etag, sequencer=first.sequencer)
    assert outcome in ("stale", "superseded")
    doc, _ = services.index.get(photo_id("local", key))
    assert doc["etag"] == later["info"].etag and doc["content_type"] == "image/png"


def test_a_file_name_that_is_not_utf8_is_skipped_and_removes_nothing_after_it(disk_services):
    import os
    storage = disk_services.storage
    data = photos.encode(photos.load("chelsea.png"))
    names = ["usercontent/alice/a.jpg", "usercontent/alice/z1.jpg", "usercontent/alice/z2.jpg"]
    for name in names:
        storage.write(name, data)
    assert reconciliation.reconcile(disk_services, restart=True)["indexed"] == 3
    folder = os.path.join(storage.root, "usercontent", "alice", "m")
    os.makedirs(folder)
    with open(os.path.join(folder.encode(), b"caf\xe9.jpg"), "wb") as f:      # from an old camera card
        f.write(data)
    stats = reconciliation.reconcile(disk_services, restart=True)
    assert stats["complete"] and stats["removed"] == 0 and stats["errors"] == 0
    assert all(disk_services.index.get(photo_id("local", n))[0]["status"] == "indexed" for n in names)
    assert [k.key for k in storage.list("thumbnails/")] == [keys.thumbnail_key(n) for n in names]


def test_thumbnails_of_the_older_layout_are_moved_on_disk(disk_services):
    storage = disk_services.storage
    key = "usercontent/alice/old.jpg"
    storage.write(key, photos.encode(photos.load("chelsea.png")))
    reconciliation.reconcile(disk_services, restart=True)
    doc, version = disk_services.index.get(photo_id("local", key))
    for made in [doc["thumbnails"]["thumbnail"]]:
        storage.delete(made)
    storage.write("thumbnails/alice/old.jpg", images.jpeg())                  # the layout before today's
    disk_services.index.put(dict(doc, thumbnails={"thumbnail": "thumbnails/alice/old.jpg", "faces": []}), version)
    stats = reconciliation.reconcile(disk_services, restart=True)
    assert stats["repaired"] == 1 and stats["errors"] == 0
    assert [k.key for k in storage.list("thumbnails/")] == [keys.thumbnail_key(key)]
    assert disk_services.index.get(photo_id("local", key))[0]["thumbnails"]["thumbnail"] == keys.thumbnail_key(key)


def test_a_slower_analysis_of_older_bytes_neither_overwrites_the_newer_document_nor_its_thumbnail(
        services, s3, rekognition, faulty):
    """A reconcile job (no sequencer) analyses v1; meanwhile v2 is uploaded and indexed."""
    from PIL import Image
    import io
    key = "usercontent/alice/changing.jpg"
    v1 = put(s3, key, images.jpeg(size=(200, 150), color=(250, 0, 0)))
    state = {}

    def v2_meanwhile():
        state["v2"] = put(s3, key, images.jpeg(size=(200, 150), color=(0, 0, 250)))
        faulty.during.clear()
        assert index_object(services, BUCKET, key, etag=state["v2"], sequencer="0055AED6DCD90281F0")[0] == "indexed"
    faulty.during[key] = v2_meanwhile
    rekognition.labels(BUCKET, key, DOG_ON_GRASS)      # v2's analysis runs first, inside v1's
    rekognition.labels(BUCKET, key, CAR_ON_STREET)
    assert index_object(services, BUCKET, key, etag=v1, source="reconcile")[0] == "superseded"
    doc = stored(services, key)
    assert doc["etag"] == state["v2"].strip('"') and doc["labels"][0]["name"] == "Dog"
    thumb = s3.get_object(Bucket=BUCKET, Key=keys.thumbnail_key(key))["Body"].read()
    r, g, b = Image.open(io.BytesIO(thumb)).convert("RGB").getpixel((10, 10))
    assert b > 200 and r < 50                                        # v2's blue, not v1's red


def test_opensearch_timing_out_for_one_record_still_indexes_the_other(services, s3, rekognition, opensearch):
    import time
    from botocore.credentials import Credentials
    from chalicelib.index.opensearch import OpenSearchIndex, make_client
    slow = OpenSearchIndex(make_client(opensearch.url, "us-east-1", timeout=0.3,
                                       credentials=Credentials("AKIDTESTING", "testing-secret")), INDEX)
    components.configure(index=slow)
    services = components.services()
    e1 = put(s3, "usercontent/alice/slow.jpg")
    e2 = put(s3, "usercontent/alice/quick.jpg")
    rekognition.labels(BUCKET, "usercontent/alice/quick.jpg", DOG_ON_GRASS)
    one = photo_id(BUCKET, "usercontent/alice/slow.jpg")
    opensearch.hook = lambda r: time.sleep(0.6) if one in r.path else None    # answers too late for one photo
    with pytest.raises(BackendUnavailable):
        events.handle(services, s3_event([created("usercontent/alice/slow.jpg", e1),
                                          created("usercontent/alice/quick.jpg", e2)]), "ObjectCreated:")
    opensearch.hook = None
    assert stored(services, "usercontent/alice/quick.jpg")["status"] == "indexed"
    assert stored(services, "usercontent/alice/slow.jpg") is None          # nothing half-written: retried whole
