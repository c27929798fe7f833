"""Evidence for concepts the classifier has no class for, by ConSE (Norouzi et al. 2014,
"Zero-shot learning by convex combination of semantic embeddings").

The ImageNet classifier knows "Triumphal Arch", "Ice Cream" and "Trifle" but not
"Monument" or "Dessert".  A concept gets the classifier's belief in the classes whose
names mean something close to it:

    score(concept) = 100 * sum over the top-T classes t of p(t | photo) * sim(concept, t)

sim is precomputed at `./dev models` time by tools/build_concept_vectors.py into
var/models/conse.npz: MiniLM cosines between each class's name (and aliases, best of)
and each concept name, shifted so unrelated pairs give 0 -- max(0, (cos - c0)/(1 - c0)) --
and raised by WordNet where the concept is a hypernym of the class (Trifle is a Dessert).
The concepts are the vocabulary's (chalicelib/query/vocabulary.py) minus the classifier's
own class names and aliases, whose probability it gives directly; the labels it derives
(taxonomy parents such as Monument) stay, as ConSE may find them for other classes too.  Unlike the paper the sum is not divided by the top-T
probability mass, so an unsure photo gives weak evidence rather than confident guesses.
"""
from chalicelib.analysis.local.models import LazyModel, model_path

MODEL_FILE = "conse.npz"
MIN_SCORE = 1.0


class ConceptEvidence(LazyModel):
    def _load(self):
        import numpy as np
        data = np.load(model_path(MODEL_FILE))
        return {"names": [str(n) for n in data["concepts"]], "sim": data["sim"].astype(np.float32)}

    def scores(self, probs, top=20):
        """[(concept_name, score 0-100)] for a photo's class probabilities (the classifier's
        1000-vector, in taxonomy.json order), best first, only scores >= 1."""
        import numpy as np
        m = self.model
        probs = np.asarray(probs, dtype=np.float32)
        best = np.argsort(-probs)[:top]
        total = np.einsum("t,tc->c", probs[best], m["sim"][best]) * 100.0   # no BLAS: see embedding.py
        found = np.nonzero(total >= MIN_SCORE)[0]
        found = found[np.argsort(-total[found])]
        return [(m["names"][j], round(float(min(total[j], 100.0)), 3)) for j in found]
