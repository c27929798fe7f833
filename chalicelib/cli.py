"""Command-line tools.

    python -m chalicelib.cli backfill [--stage dev]     reconcile a whole bucket, with progress
    python -m chalicelib.cli token NAME [--hours 12]    a local-stage ID token for user NAME

backfill runs the same reconciliation as the scheduled function, over a whole
bucket, with a progress bar; use it after deploying onto an existing bucket.
With a job queue (QUEUE_BACKEND sqlite or sqs) the walk only queues the photos
to analyse; backfill then shows the analysis itself (photos/min, ETA) until the
queue is empty, starting local worker processes on the local stage (--workers).
Configuration comes from the environment, or from a stage of
.chalice/config.json with --stage (the environment wins).
"""
import argparse
import json
import os
import subprocess
import sys
import time

from chalicelib import components, settings
from chalicelib.pipeline import reconcile as reconciliation
from chalicelib.settings import PHOTO_PREFIX

HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def load_stage(stage, path=os.path.join(HERE, ".chalice", "config.json")):
    with open(path) as f:
        config = json.load(f)
    if stage not in config.get("stages", {}):
        raise SystemExit("no stage %r in %s" % (stage, path))
    env = dict(config.get("environment_variables", {}))
    env.update(config["stages"][stage].get("environment_variables", {}))
    for name, value in env.items():
        os.environ.setdefault(name, str(value))


class Progress:
    """A one-line progress bar on stderr: done/total, rate, counters, ETA."""

    def __init__(self, total=None, stream=sys.stderr, every=0.2):
        self.total, self.stream, self.every = total, stream, every
        self.start = self.last = time.monotonic()

    def __call__(self, stats, key=None, force=False):
        now = time.monotonic()
        if not force and now - self.last < self.every:
            return
        self.last = now
        done = stats["scanned"]
        rate = done / max(now - self.start, 1e-9)
        counters = " ".join("%s=%d" % (k, stats[k]) for k in ("indexed", "removed", "retried", "failed"))
        if self.total:
            frac = min(done / self.total, 1.0)
            bar = "#" * int(frac * 30)
            eta = (self.total - done) / rate if rate > 0 else 0
            line = "[%-30s] %d/%d %5.1f%% %.1f/s eta %ds %s" % (bar, done, self.total, frac * 100, rate, eta, counters)
        else:
            line = "%d scanned %.1f/s %s" % (done, rate, counters)
        self.stream.write("\r" + line)
        self.stream.flush()

    def close(self, stats):
        self(stats, force=True)
        self.stream.write("\n")


def backfill(argv=None, services=None, stream=sys.stderr):
    parser = argparse.ArgumentParser(prog="python -m chalicelib.cli backfill", description=__doc__)
    parser.add_argument("--stage", help="read settings from this stage of .chalice/config.json")
    parser.add_argument("--restart", action="store_true", help="ignore the saved checkpoint, walk from the start")
    parser.add_argument("--max-seconds", type=float, help="stop cleanly after this long (resume next time)")
    parser.add_argument("--no-count", action="store_true", help="skip counting objects first (no percentage)")
    parser.add_argument("--workers", type=int, help="local worker processes to analyse the queued photos "
                                                    "(default: one per core on the local stage, 0 on AWS)")
    parser.add_argument("--no-wait", action="store_true", help="queue the work and return")
    args = parser.parse_args(argv)
    if args.stage:
        load_stage(args.stage)
    os.environ["QUEUE_WORKERS"] = "external"     # this command's own worker processes, never a thread here
    services = services or components.services()
    total = None
    if not args.no_count:
        total = sum(1 for _ in services.storage.list(PHOTO_PREFIX))
    progress = Progress(total, stream)
    deadline = time.monotonic() + args.max_seconds if args.max_seconds else None
    time_left = (lambda: deadline - time.monotonic()) if deadline else None
    stats = reconciliation.reconcile(services, time_left=time_left, progress=progress, restart=args.restart,
                                     safety=0)
    progress.close(stats)
    counts = " ".join("%s=%d" % (name, stats[name]) for name in reconciliation.Stats.FIELDS)
    stream.write("%s: %s in %.1fs\n" % ("complete" if stats["complete"] else "paused (run again to continue)",
                                        counts, stats["elapsed"]))
    if services.queue is not None and stats["queued"] and not args.no_wait:
        workers = args.workers if args.workers is not None else (
            os.cpu_count() or 1 if settings.get("QUEUE_BACKEND") == "sqlite" else 0)
        stats["drained"] = drain(services.queue, stats["queued"], workers, args.stage or "local", stream)
    return stats


def drain(queue, total, workers, stage, stream, every=0.5):
    """Wait for the queued photos to be analysed, with a progress bar (photos/min, ETA).
    Starts `workers` local worker processes (0: others do the work, e.g. Lambda on AWS)."""
    from chalicelib.jobs.worker import worker_env
    procs = [subprocess.Popen([sys.executable, "-m", "chalicelib.jobs.worker", "--stage", stage, "--once"],
                              cwd=HERE, stdout=subprocess.DEVNULL, env=worker_env(workers)) for _ in range(workers)]
    stream.write("analysing %d photos with %s\n" % (total, "%d local workers" % workers if workers
                                                    else "the queue's workers"))
    start = time.monotonic()
    try:
        while True:
            waiting = queue.depth()
            done = max(0, total - waiting)
            minutes = max(time.monotonic() - start, 1e-9) / 60
            rate = done / minutes
            eta = waiting / rate * 60 if rate > 0 else 0
            frac = min(done / total, 1.0) if total else 1.0
            stream.write("\r[%-30s] %d/%d %5.1f%% %.0f photos/min eta %ds" % (
                "#" * int(frac * 30), done, total, frac * 100, rate, eta))
            stream.flush()
            if waiting == 0 or (procs and all(p.poll() is not None for p in procs) and queue.depth() == waiting):
                break
            time.sleep(every)
    finally:
        for p in procs:
            if p.poll() is None:
                p.terminate()
    stream.write("\n")
    return done


def token(argv=None, stream=sys.stdout):
    parser = argparse.ArgumentParser(prog="python -m chalicelib.cli token",
                                     description="Print an ID token for the local stage (AUTH_MODE=local).")
    parser.add_argument("name", help="the user name (letters, digits, ._@-)")
    parser.add_argument("--hours", type=float, help="lifetime (default LOCAL_TOKEN_HOURS, 12)")
    args = parser.parse_args(argv)
    load_stage("local")
    from chalicelib import auth
    try:
        stream.write(auth.issue_local_token(args.name, args.hours) + "\n")
    except ValueError as e:
        raise SystemExit(str(e))
    return 0


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] == "token":
        return token(argv[1:])
    if not argv or argv[0] not in ("backfill", "reconcile"):
        sys.stderr.write("usage: python -m chalicelib.cli backfill [--stage STAGE] [--restart] [--max-seconds N]\n"
                         "       python -m chalicelib.cli token NAME [--hours H]\n")
        return 2
    stats = backfill(argv[1:])
    return 0 if stats["failed"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
