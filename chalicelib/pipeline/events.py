"""S3 event notifications -> pipeline calls, for every record of an event."""
from chalicelib import logs
from chalicelib.keys import key_from_event
from chalicelib.pipeline.indexing import index_object
from chalicelib.pipeline.removal import remove_object
from chalicelib.retry import TransientError


def handle(services, raw_event, accept, deadline=None):
    """Process every record whose eventName starts with `accept`
    ("ObjectCreated:" or "ObjectRemoved:").  Returns the outcomes.

    Records are independent: a transient failure of one does not stop the
    others; it is raised at the end so Lambda retries the event (the records
    already done are then duplicates and do nothing).
    """
    outcomes, failure = [], None
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
            if accept == "ObjectCreated:":
                outcome, _ = index_object(services, bucket, key, etag=obj.get("eTag"),
                                          sequencer=obj.get("sequencer"), deadline=deadline)
            else:
                outcome, _ = remove_object(services, bucket, key, sequencer=obj.get("sequencer"))
        except TransientError as e:
            failure = failure or e
            outcome = "retry"
        outcomes.append(outcome)
    if failure is not None:
        raise failure
    return outcomes
