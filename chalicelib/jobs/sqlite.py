"""The local stage's job queue: one SQLite file (QUEUE_PATH), surviving restarts.

A job is a row; taking it sets a lease (`leased_until`).  A worker killed mid-job
leaves its lease to expire and the job is taken again.  Jobs waiting for the same
object collapse into one (the one with the newer sequencer wins, the place in line is
kept, its deliveries are counted afresh), so a burst of events or a reconcile pass over
a backlog never queues a photo twice.
"""
import json
import os
import sqlite3
import threading
import time

from chalicelib.errors import BackendUnavailable
from chalicelib.jobs import Job, max_receives

SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    target TEXT NOT NULL,
    body TEXT NOT NULL,
    available_at REAL NOT NULL,
    leased_until REAL,
    receives INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS jobs_by_target ON jobs (target);
CREATE INDEX IF NOT EXISTS jobs_by_time ON jobs (available_at, id);
"""


class SQLiteQueue:
    def __init__(self, path, busy_timeout=30.0):
        self.path = path
        self.busy_timeout = busy_timeout
        self._local = threading.local()
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        try:
            self._db().executescript(SCHEMA)
        except sqlite3.OperationalError as e:
            raise BackendUnavailable("the job queue %s cannot be opened: %s" % (path, e))

    def _db(self):
        db = getattr(self._local, "db", None)
        if db is None or getattr(self._local, "pid", None) != os.getpid():
            db = sqlite3.connect(self.path, timeout=self.busy_timeout, isolation_level=None,
                                 check_same_thread=False)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            self._local.db, self._local.pid = db, os.getpid()
        return db

    def _tx(self):
        return _Transaction(self._db())

    @staticmethod
    def _target(body):
        return "%s\x00%s" % (body["bucket"], body["key"])

    knows_positions = True     # position() None means "not queued" (the reconciler relies on it)

    def send(self, jobs):
        now = time.time()
        with self._tx() as db:
            for body in jobs:
                target = self._target(body)
                waiting = db.execute("SELECT id, body FROM jobs WHERE target = ? AND leased_until IS NULL "
                                     "ORDER BY id LIMIT 1", (target,)).fetchone()
                if waiting:
                    # one job per object: the newer of the two (by sequencer; a job without one
                    # never replaces a job with one), with its deliveries counted afresh
                    kept = _newer(json.loads(waiting[1]), body)
                    db.execute("UPDATE jobs SET body = ?, available_at = MIN(available_at, ?), receives = 0 "
                               "WHERE id = ?", (json.dumps(kept), now, waiting[0]))
                else:
                    db.execute("INSERT INTO jobs (target, body, available_at) VALUES (?, ?, ?)",
                               (target, json.dumps(body), now))

    def receive(self, max_jobs=1, lease_seconds=900):
        now = time.time()
        limit = max_receives()
        with self._tx() as db:
            rows = db.execute("SELECT id, body, receives FROM jobs WHERE available_at <= ? AND "
                              "(leased_until IS NULL OR leased_until < ?) ORDER BY available_at, id LIMIT ?",
                              (now, now, max_jobs)).fetchall()
            out = []
            for job_id, body, receives in rows:
                receives += 1
                db.execute("UPDATE jobs SET leased_until = ?, receives = ? WHERE id = ?",
                           (now + lease_seconds, receives, job_id))
                out.append(Job(json.loads(body), receives, (job_id, now + lease_seconds), receives >= limit))
        return out

    def ack(self, job):
        with self._tx() as db:
            db.execute("DELETE FROM jobs WHERE id = ? AND leased_until = ?", job.receipt)

    def release(self, job, delay=0.0, counted=True):
        """Give the job back.  `counted=False` (a backend was down, not the job's fault): this
        delivery does not count towards the dead limit."""
        with self._tx() as db:
            db.execute("UPDATE jobs SET leased_until = NULL, available_at = ?, receives = receives - ? "
                       "WHERE id = ? AND leased_until = ?", (time.time() + delay, 0 if counted else 1, *job.receipt))

    def depth(self):
        with self._tx() as db:
            return db.execute("SELECT COUNT(*) FROM jobs").fetchone()[0]

    def position(self, bucket, key):
        with self._tx() as db:
            row = db.execute("SELECT MIN(id) FROM jobs WHERE target = ?",
                             (self._target({"bucket": bucket, "key": key}),)).fetchone()
            if row[0] is None:
                return None
            return db.execute("SELECT COUNT(*) FROM jobs WHERE id < ?", (row[0],)).fetchone()[0]


def _newer(waiting, body):
    from chalicelib.index.documents import sequencer_newer
    old, new = waiting.get("sequencer") or "", body.get("sequencer") or ""
    if old and (not new or sequencer_newer(old, new)):
        return waiting
    return body


class _Transaction:
    def __init__(self, db):
        self.db = db

    def __enter__(self):
        try:
            self.db.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as e:
            raise BackendUnavailable("the job queue is busy or read-only: %s" % e)
        return self.db

    def __exit__(self, kind, value, tb):
        try:
            self.db.execute("COMMIT" if kind is None else "ROLLBACK")
        except sqlite3.OperationalError as e:
            if kind is None:
                raise BackendUnavailable("the job queue cannot be written: %s" % e)
        if isinstance(value, sqlite3.OperationalError):
            raise BackendUnavailable("the job queue is busy or read-only: %s" % value) from value
        return False
