"""bench/ingest.py and bench/reconcile_diff.py run end to end at a tiny scale and print their tables."""
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MODEL = os.path.join(ROOT, "var", "models", "efficientnet-lite2.onnx")


def table(out, first_cell):
    """The Markdown table whose header starts with `first_cell`: a dict per row, by column name."""
    lines = out.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("| %s |" % first_cell))
    names = [c.strip() for c in lines[start].strip("|").split("|")]
    rows = []
    for line in lines[start + 2:]:
        if not line.startswith("|"):
            break
        rows.append(dict(zip(names, (c.strip() for c in line.strip("|").split("|")))))
    return rows


def run(*args, timeout=120):
    out = subprocess.run([sys.executable, *args], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         timeout=timeout)
    assert out.returncode == 0, out.stdout.decode()[-2000:] + out.stderr.decode()[-2000:]
    return out.stdout.decode()


@pytest.mark.skipif(not os.path.exists(MODEL), reason="the local models are not built (./dev models)")
def test_ingest_bench_indexes_every_photo_with_one_worker():
    out = run("bench/ingest.py", "--photos", "6", "--workers", "1", "--profile", "1")
    [row] = table(out, "workers")
    assert row["workers"] == "1" and row["photos"] == "6"
    assert (row["indexed"], row["unsupported"], row["failed"], row["left pending"]) == ("6", "0", "0", "0")
    assert float(row["photos/min"]) > 0
    assert "| workers |" in out and "| target |" in out and "| step |" in out
    assert "problem:" not in out
    assert "command: .venv/bin/python bench/ingest.py --photos 6 --workers 1" in out


def test_reconcile_diff_bench_queues_and_removes_exactly_the_differences():
    out = run("bench/reconcile_diff.py", "--objects", "2000")
    same, diff = table(out, "pass")
    assert (same["scanned"], same["queued"], same["removed"]) == ("2000", "0", "0")
    assert (diff["scanned"], diff["queued"], diff["removed"]) == ("2020", "20", "20")
    assert "problem:" not in out
    assert "command: .venv/bin/python bench/reconcile_diff.py --objects 2000" in out
