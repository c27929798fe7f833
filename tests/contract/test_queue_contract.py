"""The job queue contract, on every implementation: SQS (on moto's server, real HTTP) and
the local stage's SQLite file.  At least once, leases that expire, dead jobs, depth."""
import time
import uuid

import boto3
import pytest

from chalicelib.jobs import index_job
from tests.conftest import REGION

BACKENDS = ["sqs-moto", "sqlite"]


@pytest.fixture(params=BACKENDS)
def queue(request, tmp_path, monkeypatch):
    monkeypatch.setenv("QUEUE_MAX_RECEIVES", "3")
    if request.param == "sqlite":
        from chalicelib.jobs.sqlite import SQLiteQueue
        yield SQLiteQueue(str(tmp_path / "queue.sqlite3"))
        return
    from chalicelib.jobs.sqs import SQSQueue
    sqs = boto3.client("sqs", region_name=REGION, endpoint_url=request.getfixturevalue("aws"))
    url = sqs.create_queue(QueueName="jobs-%s" % uuid.uuid4().hex[:8])["QueueUrl"]
    yield SQSQueue(sqs, url)
    sqs.delete_queue(QueueUrl=url)


def job(key, etag="e1"):
    return index_job("b", "usercontent/u/" + key, etag, "0001", source="test")


def test_a_sent_job_is_received_once_while_leased_and_gone_when_acked(queue):
    queue.send([job("a.jpg")])
    assert queue.depth() == 1
    got, = queue.receive(5, lease_seconds=30)
    assert got.body == job("a.jpg") and got.receives == 1 and not got.dead
    assert queue.receive(5, lease_seconds=30) == []         # leased: nobody else gets it
    queue.ack(got)
    assert queue.depth() == 0 and queue.receive(5, 30) == []


def test_a_job_whose_worker_died_comes_back_when_its_lease_expires(queue):
    queue.send([job("crash.jpg")])
    first, = queue.receive(1, lease_seconds=1)                # the worker is killed: never acks
    time.sleep(1.2)
    again, = queue.receive(1, lease_seconds=30)
    assert again.body == first.body and again.receives == 2
    queue.ack(again)
    assert queue.depth() == 0


def test_a_released_job_comes_back_after_its_delay(queue):
    queue.send([job("later.jpg")])
    got, = queue.receive(1, 30)
    queue.release(got, delay=0)
    assert [j.body["key"] for j in queue.receive(1, 30)] == ["usercontent/u/later.jpg"]


def test_a_job_delivered_too_often_is_dead(queue):
    queue.send([job("poison.jpg")])
    seen = []
    for _ in range(3):
        got, = queue.receive(1, 30)
        seen.append(got.dead)
        queue.release(got, 0)
    assert seen[-1] is True and seen[0] is False


def test_many_jobs_are_sent_in_batches_and_all_arrive(queue):
    queue.send([job("%03d.jpg" % n) for n in range(25)])
    got = []
    for _ in range(20):
        batch = queue.receive(10, 30)
        got.extend(j.body["key"] for j in batch)
        for j in batch:
            queue.ack(j)
        if len(got) == 25:
            break
    assert sorted(got) == ["usercontent/u/%03d.jpg" % n for n in range(25)]
