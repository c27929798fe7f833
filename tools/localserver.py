"""photo-search with no cloud: `chalice local --stage local` plus the periodic reconciler.

    python tools/localserver.py [--host 127.0.0.1] [--port 8000] [--reconcile-seconds 30]

`chalice local` delivers no S3 events and runs no schedule.  Uploads through the
app's signed URLs are indexed at once; files copied into (or deleted from) the
storage folder are picked up by the reconciler this launcher runs at start and
every --reconcile-seconds, in this process, on the same folder and SQLite file.
Everything lives under var/local/ (LOCAL_STORAGE_DIR, SQLITE_PATH) and survives
restarts.  Ctrl-C stops both.
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
    args = parser.parse_args(argv)
    os.environ["LOCAL_PUBLIC_URL"] = "http://%s:%d" % (args.host, args.port)
    load_stage("local")
    chalice = os.path.join(os.path.dirname(sys.executable), "chalice")
    server = subprocess.Popen([chalice, "local", "--stage", "local", "--no-autoreload", "--host", args.host,
                               "--port", str(args.port)],
                              cwd=ROOT, env=os.environ.copy())
    stop = threading.Event()

    def shutdown(*_):
        stop.set()

    signal.signal(signal.SIGTERM, shutdown)
    signal.signal(signal.SIGINT, shutdown)
    worker = threading.Thread(target=reconcile_forever, args=(args.reconcile_seconds, stop), daemon=True)
    worker.start()
    try:
        while not stop.is_set() and server.poll() is None:
            time.sleep(0.2)
    finally:
        stop.set()
        if server.poll() is None:
            server.terminate()
            try:
                server.wait(10)
            except subprocess.TimeoutExpired:
                server.kill()
    return server.returncode or 0


if __name__ == "__main__":
    sys.exit(main())
