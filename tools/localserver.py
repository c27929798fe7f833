"""photo-search with no cloud: `chalice local --stage local`, the workers and the reconciler.

    python tools/localserver.py [--host 127.0.0.1] [--port 8000] [--workers N] [--reconcile-seconds 30]

`chalice local` delivers no S3 events and runs no schedule.  An upload through the
app's signed URLs is stored and answered at once (`pending`) and its analysis is
queued (QUEUE_PATH, a SQLite file); --workers processes (default: one per core)
take the jobs, each loading the models once.  Files copied into (or deleted from)
the storage folder are found by the reconciler this launcher runs at start and
every --reconcile-seconds, which queues them for the same workers.  Everything
lives under var/local/ and survives restarts; a killed worker's job is taken
again when its lease expires.  Ctrl-C stops everything.
"""
import argparse
import os
import signal
import subprocess
import sys
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from chalicelib import components, logs  # noqa: E402
from chalicelib.cli import load_stage  # noqa: E402
from chalicelib.jobs import worker as jobs_worker  # noqa: E402
from chalicelib.pipeline import reconcile as reconciliation  # noqa: E402


def reconcile_forever(interval, stop):
    """Right away (files changed while the server was down), then every `interval` seconds."""
    while True:
        try:
            reconciliation.reconcile(components.services(), time_left=lambda: interval * 4, safety=0)
        except Exception as e:   # keep serving; the next run tries again
            logs.event("reconcile", "error", photo_id=None, error=type(e).__name__, message=str(e))
        if stop.wait(interval):
            return


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--reconcile-seconds", type=float, default=30.0)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1,
                        help="worker processes analysing uploads (default: one per core)")
    args = parser.parse_args(argv)
    load_stage("local")
    os.environ["QUEUE_WORKERS"] = "external"      # the workers below, not a thread in the server
    chalice = os.path.join(os.path.dirname(sys.executable), "chalice")
    server = subprocess.Popen([chalice, "local", "--stage", "local", "--no-autoreload", "--host", args.host,
                               "--port", str(args.port)],
                              cwd=ROOT, env=os.environ.copy())
    worker_env = jobs_worker.worker_env(args.workers)
    workers = [subprocess.Popen([sys.executable, "-m", "chalicelib.jobs.worker", "--stage", "local"],
                                cwd=ROOT, env=worker_env) for _ in range(max(0, args.workers))]
    stop = threading.Event()

    def shutdown(*_):
        stop.set()

    signal.signal(signal.SIGTERM, shutdown)
    signal.signal(signal.SIGINT, shutdown)
    worker = threading.Thread(target=reconcile_forever, args=(args.reconcile_seconds, stop), daemon=True)
    worker.start()
    try:
        while not stop.is_set() and server.poll() is None:
            for n, proc in enumerate(workers):      # a worker that died is replaced; its job comes back
                if proc.poll() is not None:
                    logs.event("worker", "restarted", photo_id=None, exit_code=proc.returncode)
                    workers[n] = subprocess.Popen([sys.executable, "-m", "chalicelib.jobs.worker", "--stage",
                                                   "local"], cwd=ROOT, env=worker_env)
            time.sleep(0.2)
    finally:
        stop.set()
        for proc in [server] + workers:
            if proc.poll() is None:
                proc.terminate()
        for proc in [server] + workers:
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
    return server.returncode or 0


if __name__ == "__main__":
    sys.exit(main())
