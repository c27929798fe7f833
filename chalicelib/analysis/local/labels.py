"""Labels from EfficientNet-Lite2 (ImageNet-1k, ONNX) with a WordNet-derived hierarchy.

Each of the 1000 classes has a friendly name, aliases, parents (all friendly
ancestors) and a category (taxonomy.json, built by tools/build_taxonomy.py).
Like Rekognition, parents are labels too: a parent's confidence is the summed
probability of the top classes below it, so a photo the model is unsure is a
"tabby" or an "Egyptian Mau" is still confidently a Cat.  Only the top classes
count: summed over all 1000, the long tail of an uncertain photo makes broad
parents ("Animal" has ~400 classes) look likely for a rocket.
"""
import json
import os

from chalicelib.analysis.local.models import HERE, LazyModel, model_path, onnx_session

MODEL_FILE = "efficientnet-lite2.onnx"
MODEL_VERSION = "local-efficientnet-lite2-imagenet1k-wordnet3.0"
SIZE = 260
TOP_CLASSES = 10
TOP_CLASSES_CONSE = 20          # ConSE sums over the top 20 classes (Norouzi et al. use T = 10)
EVIDENCE_MIN = 2.0              # weaker evidence is not kept (it could never pass the search cutoff)


class LabelClassifier(LazyModel):
    def __init__(self):
        super().__init__()
        from chalicelib.analysis.local.conse import ConceptEvidence
        self.concepts = ConceptEvidence()

    def _load(self):
        import numpy as np
        with open(os.path.join(HERE, "taxonomy.json"), encoding="utf-8") as f:
            taxonomy = json.load(f)
        classes = taxonomy["classes"]
        parents = sorted(taxonomy["parents"])
        member = np.zeros((len(parents), len(classes)), dtype=np.float32)
        for i, cls in enumerate(classes):
            for p in cls["parents"]:
                member[parents.index(p), i] = 1.0
        return {"session": onnx_session(model_path(MODEL_FILE)), "classes": classes,
                "parent_names": parents, "parent_info": taxonomy["parents"], "member": member}

    def preprocess(self, img):
        import numpy as np
        from PIL import Image
        w, h = img.size
        scale = (SIZE / 0.875) / min(w, h)
        resized = img.resize((max(SIZE, round(w * scale)), max(SIZE, round(h * scale))), Image.BILINEAR)
        w, h = resized.size
        left, top = (w - SIZE) // 2, (h - SIZE) // 2
        arr = np.asarray(resized.crop((left, top, left + SIZE, top + SIZE)), dtype=np.float32)
        arr = (arr - 127.0) / 128.0   # the TF-Lite model's normalization (measured better than ImageNet mean/std)
        return arr.transpose(2, 0, 1)[None]

    def probabilities(self, img):
        """The softmax over the 1000 classes (taxonomy.json order)."""
        import numpy as np
        logits = self.model["session"].run(None, {"image": self.preprocess(img)})[0][0].astype(np.float64)
        probs = np.exp(logits - logits.max())
        return probs / probs.sum()

    def predict(self, img, min_confidence, max_labels, evidence=None):
        """Labels of at least `min_confidence` (at most `max_labels`).  With a list `evidence`,
        what is not shown is appended to it as {"Name", "Confidence", "Parents", "Aliases"}:
        the labels under the cutoff (searchable, never shown) and, from the same
        probabilities, ConSE scores of concepts that are not classes (conse.py)."""
        import numpy as np
        m = self.model
        probs = self.probabilities(img)
        labels = {}
        top = np.argsort(-probs)[:TOP_CLASSES]
        for i in top:
            cls = m["classes"][i]
            _add(labels, cls["name"], probs[i] * 100, cls["parents"], cls["aliases"], cls["categories"], combine=sum)
        kept = np.zeros_like(probs, dtype=np.float32)
        kept[top] = probs[top]
        parent_probs = m["member"] @ kept
        for j in np.nonzero(parent_probs)[0]:
            name = m["parent_names"][j]
            info = m["parent_info"][name]
            _add(labels, name, float(parent_probs[j]) * 100, info["parents"], [], info["categories"])
        ranked = sorted(labels.values(), key=lambda lab: (-lab["Confidence"], lab["Name"]))
        out = [lab for lab in ranked if lab["Confidence"] >= min_confidence][:max_labels]
        if evidence is not None:
            shown = {lab["Name"] for lab in out}
            evidence.extend({"Name": lab["Name"], "Confidence": lab["Confidence"],
                             "Parents": lab["Parents"], "Aliases": lab["Aliases"]}
                            for lab in ranked if lab["Name"] not in shown and lab["Confidence"] >= EVIDENCE_MIN)
            known = shown | {lab["Name"] for lab in ranked}
            evidence.extend({"Name": name, "Confidence": score}
                            for name, score in self.concepts.scores(probs, top=TOP_CLASSES_CONSE)
                            if name not in known and score >= EVIDENCE_MIN)
        return out


def _add(labels, name, confidence, parents, aliases, categories, combine=max):
    """Add a label; a name seen again (ImageNet has two "Missile" classes; a class may be
    named like a parent) combines: classes add up, a parent keeps the larger score."""
    confidence = round(min(float(confidence), 100.0), 3)
    current = labels.get(name)
    if current is not None:
        current["Confidence"] = round(min(100.0, combine([current["Confidence"], confidence])), 3)
        return
    labels[name] = {"Name": name, "Confidence": confidence, "Instances": [],
                    "Parents": [{"Name": p} for p in parents], "Aliases": [{"Name": a} for a in aliases],
                    "Categories": [{"Name": c} for c in categories]}
