"""The AWS job queue: an SQS standard queue (JOBS_QUEUE_URL) with a dead-letter queue.

On AWS the `index_job` Lambda receives messages through its event source mapping and
Lambda deletes them when the handler returns; receive/ack/release here serve tools
(and the contract tests on moto).  A message received more than QUEUE_MAX_RECEIVES
times is dead: SQS's redrive policy moves it to the dead-letter queue at the same
count (README: the queue setup).
"""
import json

from botocore.exceptions import BotoCoreError, ClientError

from chalicelib.errors import BackendUnavailable
from chalicelib.jobs import Job, max_receives


class SQSQueue:
    def __init__(self, client, url):
        self.client, self.url = client, url

    @staticmethod
    def _call(call):
        try:
            return call()
        except (ClientError, BotoCoreError) as e:
            raise BackendUnavailable("the job queue is not answering: %s" % e)

    def send(self, jobs):
        jobs = list(jobs)
        for start in range(0, len(jobs), 10):
            chunk = jobs[start:start + 10]
            entries = [{"Id": str(n), "MessageBody": json.dumps(body)} for n, body in enumerate(chunk)]
            answer = self._call(lambda: self.client.send_message_batch(QueueUrl=self.url, Entries=entries))
            if answer.get("Failed"):
                raise BackendUnavailable("SQS refused %d of %d jobs: %s" % (
                    len(answer["Failed"]), len(chunk), answer["Failed"][0].get("Message")))

    def receive(self, max_jobs=1, lease_seconds=900):
        answer = self._call(lambda: self.client.receive_message(
            QueueUrl=self.url, MaxNumberOfMessages=min(10, max_jobs), VisibilityTimeout=int(lease_seconds),
            WaitTimeSeconds=0, AttributeNames=["ApproximateReceiveCount"]))
        return [message_job(m["Body"], int(m["Attributes"]["ApproximateReceiveCount"]), m["ReceiptHandle"])
                for m in answer.get("Messages", ())]

    def ack(self, job):
        self._call(lambda: self.client.delete_message(QueueUrl=self.url, ReceiptHandle=job.receipt))

    knows_positions = False

    def release(self, job, delay=0.0, counted=True):   # (SQS counts every receive)
        self._call(lambda: self.client.change_message_visibility(QueueUrl=self.url, ReceiptHandle=job.receipt,
                                                                 VisibilityTimeout=int(delay)))

    def depth(self):
        attrs = self._call(lambda: self.client.get_queue_attributes(QueueUrl=self.url, AttributeNames=[
            "ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]))["Attributes"]
        return int(attrs["ApproximateNumberOfMessages"]) + int(attrs["ApproximateNumberOfMessagesNotVisible"])

    def position(self, bucket, key):
        return None      # SQS does not say; the photo shows `pending` with the queue's depth


def message_job(body, receives, receipt=None):
    """A Job from an SQS message (also what the Lambda handler gets from its event).  The
    last delivery the redrive policy allows is the one that buries the photo."""
    return Job(json.loads(body), receives, receipt, receives >= max_receives())
