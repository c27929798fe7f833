"""ConSE evidence (chalicelib/analysis/local/conse.py) from the real classifier on real
photos, and the score formula on the real similarity matrix (var/models/conse.npz)."""
import numpy as np
import pytest
from PIL import Image

from chalicelib.analysis.local.conse import ConceptEvidence
from chalicelib.analysis.local.labels import LabelClassifier
from chalicelib.query import vocabulary
from tests.support.photos import TESTDATA


@pytest.fixture(scope="module")
def evidence():
    return ConceptEvidence()


@pytest.fixture(scope="module")
def classifier():
    return LabelClassifier()


def probabilities(classifier, name):
    return classifier.probabilities(Image.open(TESTDATA + "/" + name).convert("RGB"))


def test_matrix_rows_are_the_classes_and_columns_not_class_names(evidence):
    m = evidence.model
    assert m["sim"].shape == (len(vocabulary.taxonomy()["classes"]), len(m["names"]))
    assert m["sim"].min() >= 0 and m["sim"].max() <= 1
    assert not {vocabulary.key(n) for n in m["names"]} & vocabulary.class_names()


def test_scores_are_the_top_classes_probability_times_similarity(evidence):
    m = evidence.model
    probs = np.zeros(m["sim"].shape[0])
    arch, palace, ignored = (next(i for i, c in enumerate(vocabulary.taxonomy()["classes"]) if c["name"] == n)
                             for n in ("Triumphal Arch", "Palace", "Pizza"))
    probs[[arch, palace, ignored]] = [0.6, 0.3, 0.1]
    scores = evidence.scores(probs, top=2)      # Pizza is third: it does not count
    assert scores and [s for _, s in scores] == sorted((s for _, s in scores), reverse=True)
    for name, score in scores:
        j = m["names"].index(name)
        assert score == pytest.approx(100 * (0.6 * m["sim"][arch, j] + 0.3 * m["sim"][palace, j]), abs=1e-3)
        assert 1 <= score <= 100
    assert all(s >= 1 for _, s in evidence.scores(probs))


def test_a_cat_photo_is_evidence_for_cat_and_kitten(evidence, classifier):
    scores = dict(evidence.scores(probabilities(classifier, "chelsea.png")))
    best = max(scores, key=scores.get)
    assert best == "Cat" and scores["Cat"] >= 20
    assert "Kitten" in scores
    assert "Dog" not in scores and "Car" not in scores


def test_a_rocket_photo_is_evidence_for_rocket(evidence, classifier):
    scores = evidence.scores(probabilities(classifier, "rocket.jpg"))
    assert scores[0][0] == "Rocket"


def test_probabilities_are_the_classifiers(classifier):
    probs = probabilities(classifier, "coffee.png")
    assert probs.shape == (1000,) and probs.sum() == pytest.approx(1.0)
    assert vocabulary.taxonomy()["classes"][int(np.argmax(probs))]["name"] == "Espresso"
