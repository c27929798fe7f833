"""The fan-out: S3 events and the reconciler queue work, index_job Lambdas (or local workers)
do it.  AWS path: moto S3 and SQS, the recording OpenSearch server, Rekognition under a
Stubber.  Nothing is analysed while an event or a pass runs; every queued photo ends indexed
once; duplicates and redeliveries are no-ops; a job that keeps dying is failed for good."""
import json
import uuid

import boto3
import pytest

from chalicelib import components
from chalicelib.jobs import Job, index_job, worker
from chalicelib.jobs.sqs import SQSQueue
from chalicelib.pipeline import reconcile as reconciliation
from tests.conftest import BUCKET, REGION
from tests.support.rekognition import CAR_ON_STREET, DOG_ON_GRASS
from tests.test_api import auth
from tests.test_indexing import created, index_event, put, stored


@pytest.fixture
def sqs(aws):
    client = boto3.client("sqs", region_name=REGION, endpoint_url=aws)
    url = client.create_queue(QueueName="jobs-%s" % uuid.uuid4().hex[:8])["QueueUrl"]
    yield client, url
    client.delete_queue(QueueUrl=url)


@pytest.fixture
def services(services, sqs):  # noqa: F811 -- the AWS services, with the SQS job queue
    components.configure(queue=SQSQueue(sqs[0], sqs[1]))
    return components.services()


def messages(sqs):
    client, url = sqs
    out = []
    while True:
        got = client.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=60).get("Messages", [])
        if not got:
            return out
        for m in got:
            client.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
        out.extend(m["Body"] for m in got)


def run_jobs(client, bodies):
    """Deliver each message to the index_job Lambda, as its SQS event source would (batch size 1)."""
    return [client.lambda_.invoke("index_job", client.events.generate_sqs_event([body])).payload[0]
            for body in bodies]


def test_an_s3_event_queues_the_photo_and_the_index_job_lambda_indexes_it(client, services, s3, rekognition,
                                                                          sqs):
    key = "usercontent/alice/beach trip/dog+1.jpg"
    etag = put(s3, key)
    assert index_event(client, created(key, etag)) == ["queued"]            # no Rekognition call here
    assert stored(services, key) is None
    bodies = messages(sqs)
    assert [json.loads(b)["key"] for b in bodies] == [key]
    rekognition.labels(BUCKET, key, DOG_ON_GRASS)
    assert run_jobs(client, bodies) == ["indexed"]
    assert stored(services, key)["status"] == "indexed"
    assert run_jobs(client, bodies) == ["duplicate"]                       # SQS delivers at least once


def test_the_reconciler_only_diffs_and_queues_then_workers_index_everything_once(client, services, s3, rekognition,
                                                                                  sqs):
    names = ["usercontent/alice/%d.jpg" % n for n in range(4)]
    for name in names:
        put(s3, name)
    stats = reconciliation.reconcile(services, restart=True)              # no Rekognition call is queued
    assert stats["queued"] == 4 and stats["indexed"] == 0
    assert [stored(services, n)["status"] for n in names] == ["pending"] * 4    # owners see them waiting
    again = reconciliation.reconcile(services, restart=True)
    assert again["queued"] == 0                                            # queued recently: not twice
    bodies = messages(sqs)
    assert sorted(json.loads(b)["key"] for b in bodies) == names
    for name in sorted(names):
        rekognition.labels(BUCKET, name, CAR_ON_STREET)
    assert run_jobs(client, sorted(bodies, key=lambda b: json.loads(b)["key"])) == ["indexed"] * 4
    assert [stored(services, n)["status"] for n in names] == ["indexed"] * 4
    assert reconciliation.reconcile(services, restart=True)["queued"] == 0


def test_a_message_on_its_last_delivery_is_buried_as_failed_for_good(client, services, s3, monkeypatch):
    monkeypatch.setenv("QUEUE_MAX_RECEIVES", "3")
    monkeypatch.setenv("RETRY_BACKOFF_SECONDS", "60")
    key = "usercontent/alice/kills-the-worker.jpg"
    put(s3, key)
    event = client.events.generate_sqs_event([json.dumps(index_job(BUCKET, key, source="test"))])
    event["Records"][0]["attributes"]["ApproximateReceiveCount"] = "3"
    assert client.lambda_.invoke("index_job", event).payload == ["failed"]
    doc = stored(services, key)      # the first burial: one more try later (a backend may have been down)
    assert doc["status"] == "failed" and doc["retryable"] is True and doc["retry_at"] > doc["indexed_at"]
    assert "never finished in 3 deliveries" in doc["reason"] and doc["reason"].endswith("one more try later")
    assert client.lambda_.invoke("index_job", event).payload == ["failed"]      # it kills the worker again
    doc = stored(services, key)
    assert doc["status"] == "failed" and doc["retryable"] is False and doc["buried"] == 2
    assert client.lambda_.invoke("index_job", event).payload == ["duplicate"]   # and stays failed for good


def test_the_last_delivery_of_a_job_for_content_since_replaced_buries_nothing(client, services, s3, monkeypatch):
    monkeypatch.setenv("QUEUE_MAX_RECEIVES", "3")
    key = "usercontent/alice/fixed.jpg"
    old = put(s3, key)
    put(s3, key, b"\xff\xd8\xff" + b"new bytes")                              # the owner uploaded a fix
    event = client.events.generate_sqs_event([json.dumps(index_job(BUCKET, key, old, source="test"))])
    event["Records"][0]["attributes"]["ApproximateReceiveCount"] = "3"
    assert client.lambda_.invoke("index_job", event).payload == ["superseded"]
    assert stored(services, key) is None


def test_a_worker_carries_on_past_a_bad_job_and_returns_failed_jobs_to_the_queue(services, s3, rekognition,
                                                                                  monkeypatch):
    from chalicelib.jobs.sqlite import SQLiteQueue
    import tempfile
    queue = SQLiteQueue(tempfile.mktemp(suffix=".sqlite3"))
    components.configure(queue=queue)
    good = "usercontent/alice/good.jpg"
    put(s3, good)
    queue.send([{"kind": "unknown"} | {"bucket": BUCKET, "key": "x"}, index_job(BUCKET, good, source="test")])
    rekognition.labels(BUCKET, good, CAR_ON_STREET)
    import threading
    assert worker.run(components.services, threading.Event(), once=True) == 2
    assert stored(services, good)["status"] == "indexed" and queue.depth() == 0


def test_the_status_route_counts_an_owners_photos_by_status(client, services, s3, rekognition, users):
    alice = users["alice"]
    keys = ["usercontent/%s/%s.jpg" % (alice.sub, n) for n in ("a", "b")]
    for key in keys:
        put(s3, key)
    put(s3, "usercontent/%s/c.jpg" % alice.sub, b"not an image")
    reconciliation.reconcile(services, restart=True)
    r = client.http.get("/status", headers=auth(alice))
    assert r.status_code == 200
    assert r.json_body["pending"] == 3 and r.json_body["photos"] == 3 and r.json_body["queue"]["waiting"] >= 3
    bob = client.http.get("/status", headers=auth(users["bob"])).json_body
    assert bob["photos"] == 0                                               # scoped to the caller


def test_queued_events_delivered_out_of_order_leave_the_newest_content(client, services, s3, rekognition, sqs):
    key = "usercontent/alice/twice.jpg"
    old = put(s3, key)
    first = messages(sqs) or None
    assert first is None
    index_event(client, created(key, old, seq="0055AED6DCD90281E5"))
    new = put(s3, key, b"\x89PNG\r\n\x1a\n" + b"\x00" * 10, "image/png")     # overwritten: a second event
    index_event(client, created(key, new, seq="0055AED6DCD90281F0"))
    older, newer = messages(sqs)
    assert run_jobs(client, [newer]) == ["failed"]           # the newest content first (a broken PNG)
    assert run_jobs(client, [older]) == ["stale"]            # an older sequencer than the document: no-op
    doc = stored(services, key)
    assert doc["etag"] == new.strip('"') and doc["sequencer"] == "0055AED6DCD90281F0"


def test_local_backfill_queues_then_shows_the_workers_progress_until_done(tmp_path, monkeypatch):
    """The local stage: disk storage, SQLite index and queue, a real worker process with the
    local models.  backfill queues the photos, then reports photos/min and the ETA."""
    import io
    from chalicelib import cli
    from tests.support import photos
    env = {"STORAGE_BACKEND": "disk", "LOCAL_STORAGE_DIR": str(tmp_path / "bucket"), "PHOTO_BUCKET": "local",
           "INDEX_BACKEND": "sqlite", "SQLITE_PATH": str(tmp_path / "index.sqlite3"), "QUEUE_BACKEND": "sqlite",
           "QUEUE_PATH": str(tmp_path / "queue.sqlite3"), "QUEUE_WORKERS": "external",
           "LOCAL_SECRET": "backfill-test", "ANALYSIS_ENGINE": "local", "ANALYSIS_FEATURES": "labels"}
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    components.reset()
    storage = components.storage()
    for n, name in enumerate(["chelsea.png", "coffee.png", "rocket.jpg"]):
        storage.write("usercontent/ivy/%d.jpg" % n, photos.encode(photos.load(name)))
    out = io.StringIO()
    stats = cli.backfill(["--restart", "--workers", "1"], stream=out)
    text = out.getvalue()
    assert stats["queued"] == 3 and stats["drained"] == 3
    assert "analysing 3 photos with 1 local workers" in text and "photos/min eta" in text and "3/3 100.0%" in text
    index = components.index()
    docs = [d for d, _ in index.scan("local", "", 10)]
    assert [d["status"] for d in docs] == ["indexed"] * 3
    components.reset()



def test_the_local_queue_keeps_one_job_per_photo_the_newer_one_with_its_deliveries_counted_afresh(tmp_path,
                                                                                                  monkeypatch):
    from chalicelib.jobs.sqlite import SQLiteQueue
    monkeypatch.setenv("QUEUE_MAX_RECEIVES", "3")
    queue = SQLiteQueue(str(tmp_path / "q.sqlite3"))
    key = "usercontent/u/a.jpg"
    queue.send([index_job("b", key, "e1", "00A1", source="upload")])
    for _ in range(2):                                             # two failed deliveries...
        got, = queue.receive(1, 30)
        queue.release(got, 0)
    queue.send([index_job("b", key, "e2", "00A2", source="upload"),  # ...then a newer upload, and a
                index_job("b", key, "e0", None, source="reconcile")])  # reconcile job without a sequencer
    got, = queue.receive(1, 30)
    assert got.body["etag"] == "e2" and got.receives == 1 and not got.dead
    queue.release(got, 0)
    queue.send([index_job("b", key, "e1", "00A1", source="event")])   # an older event arriving late
    got, = queue.receive(1, 30)
    assert got.body["etag"] == "e2" and queue.depth() == 1


def test_a_local_delivery_given_back_because_a_backend_was_down_does_not_count(tmp_path, monkeypatch):
    from chalicelib.jobs.sqlite import SQLiteQueue
    monkeypatch.setenv("QUEUE_MAX_RECEIVES", "2")
    queue = SQLiteQueue(str(tmp_path / "q.sqlite3"))
    queue.send([index_job("b", "usercontent/u/a.jpg", "e1", "00A1")])
    for _ in range(5):                                             # an hour-long outage: never dead
        got, = queue.receive(1, 30)
        assert not got.dead
        queue.release(got, 0, counted=False)
    got, = queue.receive(1, 30)
    queue.release(got, 0)                                          # a real failure counts
    assert queue.receive(1, 30)[0].dead
