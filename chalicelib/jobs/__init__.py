"""The job queue: heavy work (analysing a photo) is queued, never done while a client waits.

S3 events, the reconciler, uploads and `./dev backfill` send jobs; workers take them:
on AWS an ``@app.on_sqs_message`` Lambda per message (Lambda's own concurrency), on the
local stage worker processes (``tools/localserver.py --workers N``) polling a SQLite file.

Interface (every implementation passes tests/contract/test_queue_contract.py):

- ``send(jobs)``: enqueue job dicts ``{"kind": "index", "bucket", "key", "etag",
  "sequencer", "source"}``.  At least once: a job may be delivered twice, and the
  pipeline's order rules make the second delivery a no-op.
- ``receive(max_jobs, lease_seconds) -> [Job]``: jobs no other worker holds; each
  is hidden for `lease_seconds` (a worker that dies loses no job: it comes back).
  ``Job.receives`` counts deliveries; the QUEUE_MAX_RECEIVES-th delivery is
  ``dead`` (a photo whose analysis keeps killing the worker): the worker records
  it as failed for good instead of trying again (on SQS the redrive policy then
  moves the message to the dead-letter queue).
- ``ack(job)``: done, remove it.  ``release(job, delay, counted=True)``: give it
  back, visible again after `delay` seconds; ``counted=False`` (a backend was down)
  does not count the delivery towards the dead limit where the queue can (SQLite).
- ``depth() -> int``: jobs waiting (approximate on SQS).
- ``position(bucket, key) -> int | None``: jobs ahead of this key's.  Where
  ``knows_positions`` (SQLite), None means not queued; on SQS it is always None.
"""
from collections import namedtuple

from chalicelib import settings

Job = namedtuple("Job", "body receives receipt dead")

KINDS = ("index",)


def index_job(bucket, key, etag=None, sequencer=None, source="event"):
    return {"kind": "index", "bucket": bucket, "key": key, "etag": etag or None, "sequencer": sequencer or None,
            "source": source}


def max_receives():
    return settings.get_int("QUEUE_MAX_RECEIVES", minimum=1, maximum=1000)
