"""Memory: a small file that declares a big picture costs what the decode budget allows, not
gigabytes.  The photo is indexed by the real pipeline in a fresh process (bench/memory.py)."""
import importlib.util
import os

from tests.support import hostile

BOUND_MB = 400


def _bench():
    path = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "bench", "memory.py")
    spec = importlib.util.spec_from_file_location("bench_memory", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_a_214_kb_16_bit_png_of_9999x9999_is_indexed_within_the_bound(tmp_path):
    """It used to take 2.6 GB: decoded at full size for the thumbnail, converted through float64
    numpy, decoded again for Rekognition's JPEG and a third time by the local engine."""
    path = tmp_path / "png16.png"
    path.write_bytes(hostile.png16())
    assert os.path.getsize(path) < 300 * 1024
    result = _bench().measure("png16", "rekognition", str(path))
    assert "error" not in result, result
    assert result["status"] == "indexed", result
    assert result["growth"] < BOUND_MB, result
