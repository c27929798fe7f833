"""Terraform for the job queue and its dead-letter queue, next to chalice's own.

    python tools/queues_tf.py STAGE OUT_DIR        (./dev package runs it)

Chalice 1.34 references an SQS queue in the index_job event source but does not create
it.  This writes OUT_DIR/queues.tf.json (the queue, the dead-letter queue, the redrive
policy) and OUT_DIR/chalice_override.tf.json (the event source waits for the queue),
all from the stage's settings in .chalice/config.json, so no queue is made by hand.

- visibility timeout: 6 x index_job's timeout (AWS's advice for Lambda event sources,
  so a message is not redelivered while a slow invocation still works on it);
- maxReceiveCount = QUEUE_MAX_RECEIVES: after that many deliveries the message goes to
  the dead-letter queue (the last delivery records the photo as failed for good);
- the dead-letter queue keeps messages 14 days for inspection and redrive.
"""
import json
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def queue_terraform(config, stage):
    env = dict(config.get("environment_variables", {}))
    env.update(config["stages"][stage].get("environment_variables", {}))
    name = env["JOBS_QUEUE_NAME"]
    functions = config["stages"][stage].get("lambda_functions", {})
    timeout = int(functions.get("index_job", {}).get("lambda_timeout", config.get("lambda_timeout", 60)))
    receives = int(env.get("QUEUE_MAX_RECEIVES", "5"))
    queues = {"resource": {"aws_sqs_queue": {
        "jobs_dlq": {"name": name + "-dlq", "message_retention_seconds": 14 * 24 * 3600},
        "jobs": {"name": name, "visibility_timeout_seconds": 6 * timeout,
                 "message_retention_seconds": 4 * 24 * 3600,
                 "redrive_policy": json.dumps({"deadLetterTargetArn": "${aws_sqs_queue.jobs_dlq.arn}",
                                               "maxReceiveCount": receives})},
    }}}
    override = {"resource": {"aws_lambda_event_source_mapping": {
        "index_job-sqs-event-source": {"depends_on": ["aws_sqs_queue.jobs"]}}}}
    return queues, override


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    stage, out = argv
    with open(os.path.join(ROOT, ".chalice", "config.json")) as f:
        config = json.load(f)
    queues, override = queue_terraform(config, stage)
    for name, doc in (("queues.tf.json", queues), ("chalice_override.tf.json", override)):
        with open(os.path.join(out, name), "w") as f:
            json.dump(doc, f, indent=2)
    print("wrote %s/queues.tf.json and chalice_override.tf.json" % out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
