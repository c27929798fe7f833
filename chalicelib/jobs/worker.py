"""Workers: take jobs from the queue and index the photos they name.

    python -m chalicelib.jobs.worker [--stage local] [--workers N]

On AWS the `index_job` Lambda calls `process` for each SQS message.  Locally
`tools/localserver.py` starts N of these processes (one per core by default), each
loading the models once; under plain `chalice local` the app runs one in a thread.
"""
import argparse
import os
import random
import signal
import sys
import threading
from datetime import datetime, timedelta, timezone

from chalicelib import logs, settings
from chalicelib.errors import BackendUnavailable, VersionConflict
from chalicelib.index import documents
from chalicelib.keys import parse_key, photo_id
from chalicelib.retry import TransientError
from chalicelib.storage import normalize_etag


def handle_sqs_event(services, raw_event, deadline=None):
    """The index_job Lambda: one SQS message per invocation (batch size 1, so one bad
    message never retries another).  Raising returns the message to the queue; after
    QUEUE_MAX_RECEIVES deliveries the redrive policy moves it to the dead-letter queue; the
    last delivery buries the photo here with a reason its owner can read, so only a message
    that even that could not handle (a backend down) reaches the dead-letter queue."""
    from chalicelib.jobs.sqs import message_job
    outcomes = []
    for record in raw_event.get("Records", ()):
        receives = int((record.get("attributes") or {}).get("ApproximateReceiveCount", "1"))
        try:
            job = message_job(record.get("body") or "{}", receives, record.get("receiptHandle"))
        except ValueError:
            logs.event("job", "ignored", photo_id=None, reason="not JSON")
            outcomes.append("ignored")
            continue
        outcomes.append(process(services, job, deadline))
    return outcomes


def process(services, job, deadline=None):
    """Do one job and return its outcome.  Raises when the job must be tried again
    (a backend down, analysis throttled past its retries): the queue brings it back."""
    from chalicelib.pipeline.indexing import index_object
    body = job.body if isinstance(job.body, dict) else {}
    if body.get("kind") != "index" or not isinstance(body.get("key"), str):
        logs.event("job", "ignored", photo_id=None, kind=str(body.get("kind"))[:20])
        return "ignored"
    if job.dead:
        return bury(services, body, job.receives)
    outcome, _ = index_object(services, body.get("bucket"), body["key"], etag=body.get("etag"),
                              sequencer=body.get("sequencer"), deadline=deadline, source=body.get("source") or "queue")
    return outcome


def bury(services, body, receives):
    """A job on its last delivery (its analysis kept killing the worker, or timing out): the
    photo is `failed`, with a reason its owner can read, instead of being tried again.

    The first burial leaves the photo retryable once more after a long wait (a backend that
    was down for every delivery looks the same as a crash on SQS, and must not cost a good
    photo for good); the second is for good."""
    bucket, key = body.get("bucket"), body["key"]
    parsed = parse_key(key)
    info = services.storage.head(key) if parsed and bucket == services.storage.bucket else None
    pid = photo_id(bucket, key) if parsed else None
    if info is None:
        logs.event("job", "dead-gone", photo_id=pid, receives=receives)
        return "gone"
    if body.get("etag") and normalize_etag(body["etag"]) != info.etag:
        logs.event("job", "dead-superseded", photo_id=pid, receives=receives)
        return "superseded"      # the file changed since: its own job analyses it
    doc, version = services.index.get(pid)
    same = doc is not None and doc.get("etag") == info.etag
    if same and (doc.get("status") in (documents.STATUS_INDEXED, documents.STATUS_UNSUPPORTED) or (
            doc.get("status") == documents.STATUS_FAILED and not (doc.get("retryable") and doc.get("buried")))):
        # done, failed for good, or a recorded transient failure whose retries the document
        # caps (attempts and backoff): nothing to bury
        return "duplicate"
    buried = ((doc or {}).get("buried") or 0) + 1 if same else 1
    final = buried >= 2
    failed = documents.build(pid, parsed.owner, bucket, key, info,
                             body.get("sequencer") or (doc or {}).get("sequencer", "") if same else
                             body.get("sequencer") or "", documents.STATUS_FAILED,
                             reason="ProcessingError: the analysis never finished in %d deliveries (the worker "
                             "stopped, timed out or ran out of memory on this file)%s" % (
                                 receives, "" if final else "; one more try later"),
                             retryable=not final, attempts=(doc or {}).get("attempts", 0) if same else 0)
    failed["buried"] = buried
    if not final:
        wait = settings.get_float("RETRY_BACKOFF_SECONDS", minimum=0) * 2 ** settings.get_int("MAX_ATTEMPTS",
                                                                                              minimum=1)
        failed["retry_at"] = documents.iso(datetime.now(timezone.utc) + timedelta(seconds=wait))
    try:
        services.index.put(failed, version)
    except VersionConflict:
        return "stale"
    logs.event("job", "dead", photo_id=pid, receives=receives, buried=buried, final=final)
    return "failed"


def backoff(receives):
    base = settings.get_float("RETRY_BACKOFF_SECONDS", minimum=0)
    return min(900.0, random.uniform(0.5, 1.0) * base * 2 ** max(0, receives - 1))


def run(services_fn, stop, idle_seconds=0.5, once=False):
    """Take and process jobs until `stop` is set (or, with `once`, the queue is empty)."""
    lease = settings.get_float("QUEUE_LEASE_SECONDS", minimum=1)
    done = 0
    while not stop.is_set():
        services = services_fn()
        try:
            jobs = services.queue.receive(1, lease)
        except BackendUnavailable as e:
            logs.event("job", "queue-unavailable", photo_id=None, message=str(e)[:200])
            stop.wait(idle_seconds * 4)
            continue
        if not jobs:
            if once:
                return done
            stop.wait(idle_seconds)
            continue
        job = jobs[0]
        try:
            process(services, job)
        except (TransientError, BackendUnavailable, VersionConflict) as e:
            # not the photo's fault (a backend down; throttling, whose attempts the document
            # counts): this delivery does not count towards burying the job
            logs.event("job", "retry", photo_id=None, error=type(e).__name__, receives=job.receives)
            _quietly(lambda: services.queue.release(job, backoff(job.receives), counted=False))
            continue
        except Exception as e:   # noqa: BLE001 -- a bug on one job: it comes back, then is buried
            logs.event("job", "error", photo_id=None, error=type(e).__name__, message=str(e)[:300])
            _quietly(lambda: services.queue.release(job, backoff(job.receives)))
            continue
        _quietly(lambda: services.queue.ack(job))
        done += 1
    return done


def worker_env(workers, env=None):
    """The environment of one of `workers` worker processes: unless LOCAL_THREADS is set, each
    model gets cores / workers threads (every process taking every core makes 2 workers slower
    than 1: measured with bench/ingest.py)."""
    env = dict(os.environ if env is None else env, QUEUE_WORKERS="external")
    if env.get("LOCAL_THREADS", "0") in ("", "0"):
        env["LOCAL_THREADS"] = str(max(1, (os.cpu_count() or 1) // max(1, workers)))
    for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):   # numpy, dlib, OpenCV
        env.setdefault(name, env["LOCAL_THREADS"])
    return env


def _quietly(call):
    try:
        call()
    except BackendUnavailable as e:   # the lease expires and the job comes back by itself
        logs.event("job", "queue-unavailable", photo_id=None, message=str(e)[:200])


_thread = None
_thread_lock = threading.Lock()


def start_in_process():
    """One worker thread in this process (plain `chalice local`, which runs no workers)."""
    global _thread
    with _thread_lock:
        if _thread is None or not _thread.is_alive():
            from chalicelib import components
            _thread = threading.Thread(target=run, args=(components.services, threading.Event()),
                                       name="photo-search-worker", daemon=True)
            _thread.start()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--stage", default="local")
    parser.add_argument("--once", action="store_true", help="stop when the queue is empty")
    args = parser.parse_args(argv)
    from chalicelib import components
    from chalicelib.cli import load_stage
    load_stage(args.stage)
    os.environ["QUEUE_WORKERS"] = "external"      # this process is the worker
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    run(components.services, stop, once=args.once)
    return 0


if __name__ == "__main__":
    sys.exit(main())
