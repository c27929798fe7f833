"""S3 event notifications -> pipeline calls, for every record of an event."""
from chalicelib import jobs, logs
from chalicelib.keys import key_from_event, parse_key, photo_id
from chalicelib.pipeline.indexing import index_object
from chalicelib.pipeline.removal import remove_object
from chalicelib.retry import TransientError


def handle(services, raw_event, accept, deadline=None):
    """Process every record whose eventName starts with `accept`
    ("ObjectCreated:" or "ObjectRemoved:").  Returns the outcomes.

    Records are independent: any failure of one (transient, a backend down, a
    bug) does not stop the others; the first is raised at the end so Lambda
    retries the event (the records already done are then duplicates and do
    nothing).
    """
    outcomes, failure, queued = [], None, []
    for record in raw_event.get("Records", ()):
        name = record.get("eventName", "")
        s3 = record.get("s3") or {}
        bucket = (s3.get("bucket") or {}).get("name", "")
        obj = s3.get("object") or {}
        if record.get("eventSource") != "aws:s3" or not name.startswith(accept) or "key" not in obj:
            logs.event("s3-record", "ignored", photo_id=None, event_name=name)
            outcomes.append("ignored")
            continue
        key = key_from_event(obj["key"])
        try:
            if accept == "ObjectCreated:" and services.queue is not None:
                # analysis is queued: one message per photo, indexed by the index_job workers
                queued.append(jobs.index_job(bucket, key, obj.get("eTag"), obj.get("sequencer"), source="event"))
                outcome = "queued"
                logs.event("index", "queued", photo_id=photo_id(bucket, key) if parse_key(key) else None,
                           source="event")
            elif accept == "ObjectCreated:":
                outcome, _ = index_object(services, bucket, key, etag=obj.get("eTag"),
                                          sequencer=obj.get("sequencer"), deadline=deadline)
            else:
                outcome, _ = remove_object(services, bucket, key, sequencer=obj.get("sequencer"))
        except Exception as e:   # noqa: BLE001 -- one record's failure never stops the others
            # (analysis failures already ended in a document; this is a backend being down or a
            # bug: raised at the end so Lambda retries the event, whose done records are no-ops)
            if not isinstance(e, TransientError):
                logs.event("s3-record", "error", photo_id=None, event_name=name, error=type(e).__name__,
                           message=str(e)[:300])
            failure = failure or e
            outcome = "retry"
        outcomes.append(outcome)
    if queued:
        services.queue.send(queued)     # a failure here fails the event: Lambda retries it whole
    if failure is not None:
        raise failure
    return outcomes
