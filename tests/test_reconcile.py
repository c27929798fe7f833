"""The scheduled reconciliation and the backfill command."""
import io
import json

from chalicelib import cli
from chalicelib.index import documents
from chalicelib.keys import photo_id
from chalicelib.pipeline import reconcile as reconciliation
from chalicelib.storage import ObjectInfo
from tests.conftest import BUCKET
from tests.support.rekognition import CAR_ON_STREET, DOG_ON_GRASS
from tests.support import images
from tests.test_indexing import created, index_event, put, stored


def orphan(services, key):
    """A document whose object no longer exists."""
    info = ObjectInfo(key, "e", 10, None, "image/jpeg")
    services.index.put(documents.build(photo_id(BUCKET, key), key.split("/")[1], BUCKET, key, info, "", "indexed"))


def run_schedule(client):
    return client.lambda_.invoke("reconcile", client.events.generate_cw_event(
        source="aws.events", detail_type="Scheduled Event", detail={}, resources=[])).payload


def test_the_schedule_indexes_missing_removes_orphans_and_reindexes_changed(client, services, s3, rekognition,
                                                                            capsys):
    changed = "usercontent/alice/changed.jpg"
    etag = put(s3, changed)
    rekognition.labels(BUCKET, changed, DOG_ON_GRASS)
    index_event(client, created(changed, etag))
    put(s3, changed, images.png(), "image/png")                        # overwritten, event lost
    missing = "usercontent/bob/missed event.jpg"
    put(s3, missing)                                                    # event lost
    orphan(services, "usercontent/alice/deleted.jpg")                    # delete event lost
    put(s3, "usercontent/alice/current.jpg")
    rekognition.labels(BUCKET, "usercontent/alice/current.jpg", CAR_ON_STREET)
    index_event(client, created("usercontent/alice/current.jpg", s3.head_object(
        Bucket=BUCKET, Key="usercontent/alice/current.jpg")["ETag"]))
    put(s3, "system/not-a-photo.json", b"{}")                            # outside the layout
    services.index.refresh()

    rekognition.labels(BUCKET, changed, CAR_ON_STREET)                   # key order: alice/changed < bob/...
    rekognition.labels(BUCKET, missing, DOG_ON_GRASS)
    capsys.readouterr()
    stats = run_schedule(client)
    assert {k: stats[k] for k in ("scanned", "indexed", "removed", "retried", "failed")} == {
        "scanned": 4, "indexed": 2, "removed": 1, "retried": 0, "failed": 0}
    assert stats["complete"] is True
    assert stored(services, missing)["status"] == "indexed" and stored(services, missing)["owner"] == "bob"
    assert stored(services, changed)["content_type"] == "image/png"
    assert stored(services, "usercontent/alice/deleted.jpg") is None
    summary = [json.loads(line) for line in capsys.readouterr().out.splitlines()
               if json.loads(line)["event"] == "reconcile"]
    assert len(summary) == 1
    assert {"scanned", "indexed", "removed", "retried", "failed", "elapsed"} <= set(summary[0])
    # a second run finds nothing to do (no Rekognition call is queued)
    again = run_schedule(client)
    assert (again["scanned"], again["indexed"], again["removed"]) == (3, 0, 0)  # the orphan is gone


def test_transient_failures_are_retried_by_the_next_run(client, services, s3, rekognition, monkeypatch):
    monkeypatch.setenv("RETRY_ATTEMPTS", "1")
    key = "usercontent/alice/a.jpg"
    put(s3, key)
    rekognition.error("ThrottlingException")
    first = run_schedule(client)
    assert first["failed"] == 1 and stored(services, key)["retryable"] is True
    rekognition.labels(BUCKET, key, CAR_ON_STREET)
    second = run_schedule(client)
    assert second["retried"] == 1 and stored(services, key)["status"] == "indexed"


def test_permanent_failures_are_not_retried(client, services, s3, rekognition):
    key = "usercontent/alice/a.jpg"
    put(s3, key)
    rekognition.error("InvalidImageFormatException", "bad")
    run_schedule(client)
    assert run_schedule(client)["retried"] == 0   # no second Rekognition call queued


def test_a_run_out_of_time_stops_and_the_next_continues(services, s3, rekognition, monkeypatch):
    monkeypatch.setenv("RECONCILE_BATCH_SIZE", "2")
    keys = ["usercontent/alice/%02d.jpg" % n for n in range(7)]
    for key in keys:
        put(s3, key)
        rekognition.labels(BUCKET, key, DOG_ON_GRASS)
    budget = iter([100, 100, 100, 100, 0] + [100] * 50)          # time runs out at the 5th object
    first = reconciliation.reconcile(services, time_left=lambda: next(budget), safety=30)
    assert first["complete"] is False and first["indexed"] == 4
    services.index.refresh()
    assert json.loads(services.storage.read_state("system/reconcile-state.json"))["after"] == keys[3]
    second = reconciliation.reconcile(services)
    assert second["complete"] is True and second["indexed"] == 3 and second["scanned"] == 3
    assert all(stored(services, k)["status"] == "indexed" for k in keys)
    assert json.loads(services.storage.read_state("system/reconcile-state.json"))["after"] == ""


def test_writes_go_through_bulk_in_batches_and_memory_is_paged(services, s3, rekognition, opensearch, monkeypatch):
    monkeypatch.setenv("RECONCILE_BATCH_SIZE", "3")
    for n in range(7):
        key = "usercontent/u/%d.jpg" % n
        put(s3, key)
        rekognition.labels(BUCKET, key, DOG_ON_GRASS)
    opensearch.requests.clear()
    reconciliation.reconcile(services)
    bulks = [r.ndjson() for r in opensearch.requests if r.path == "/_bulk"]
    assert [len(b) // 2 for b in bulks] == [3, 3, 1]
    scans = [r.json() for r in opensearch.requests if r.path.endswith("/_search") and "seq_no_primary_term" in r.json()]
    assert scans and all(s["size"] == 3 for s in scans)


def test_a_document_written_by_an_event_during_the_walk_wins(services, s3, rekognition):
    """The bulk write is conditional: a newer document from an event is never overwritten."""
    key = "usercontent/alice/race.jpg"
    put(s3, key)
    real_analyzer = services.analyzer

    class EventArrivesDuringAnalysis:
        engine = "rekognition"

        def analyze(self, source, features, min_confidence, max_labels):
            result = real_analyzer.analyze(source, features, min_confidence, max_labels)
            doc = documents.build(photo_id(BUCKET, key), "alice", BUCKET, key,
                                  ObjectInfo(key, "from-event", 1, None, "image/jpeg"), "0F", "indexed")
            services.index.put(doc)
            return result

    rekognition.labels(BUCKET, key, DOG_ON_GRASS)
    stats = reconciliation.reconcile(services._replace(analyzer=EventArrivesDuringAnalysis()))
    assert stats["skipped"] == 1 and stored(services, key)["etag"] == "from-event"


def test_backfill_command_shows_progress_and_a_summary(services, s3, rekognition):
    for n in range(3):
        key = "usercontent/alice/%d.jpg" % n
        put(s3, key)
        rekognition.labels(BUCKET, key, CAR_ON_STREET)
    out = io.StringIO()
    stats = cli.backfill(["--restart"], services=services, stream=out)
    text = out.getvalue()
    assert stats["indexed"] == 3
    assert "[##############################] 3/3 100.0%" in text
    assert "complete: scanned=3 indexed=3 queued=0 removed=0 retried=0 failed=0" in text


def test_missing_thumbnails_are_made_again_by_the_reconciler(client, services, s3, rekognition):
    keys = ["usercontent/alice/a.jpg", "usercontent/alice/a.jpg b.jpg", "usercontent/alice/b.jpg"]
    for key in keys:
        rekognition.labels(BUCKET, key, CAR_ON_STREET)
        assert index_event(client, created(key, put(s3, key))) == ["indexed"]
    services.index.refresh()
    s3.delete_object(Bucket=BUCKET, Key="thumbnails/alice/a.jpg/thumb.jpg")
    s3.delete_object(Bucket=BUCKET, Key="thumbnails/alice/b.jpg/thumb.jpg")
    stats = reconciliation.reconcile(services, restart=True)      # no Rekognition call queued
    assert stats["repaired"] == 2 and stats["indexed"] == 0
    present = sorted(o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET, Prefix="thumbnails/")["Contents"])
    assert present == ["thumbnails/alice/a.jpg b.jpg/thumb.jpg", "thumbnails/alice/a.jpg/thumb.jpg",
                       "thumbnails/alice/b.jpg/thumb.jpg"]
    assert reconciliation.reconcile(services, restart=True)["repaired"] == 0
