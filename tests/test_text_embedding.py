"""Word meaning: the MiniLM runtime (numpy + onnxruntime, our own WordPiece) against
sentence-transformers' own output, the live concept lookup, and the committed word ->
concepts table.  Real model files from `./dev models`; nothing is mocked."""
import json
import os

import numpy as np
import pytest

from chalicelib.analysis.local.models import model_path
from chalicelib.index.terms import tokens
from chalicelib.query import embedding
from chalicelib.query.embedding import TextEmbedder, nearest_concepts

EXPANSIONS = os.path.join(os.path.dirname(embedding.__file__), "expansions.json")


@pytest.fixture(scope="module")
def embedder():
    return embedding.shared(TextEmbedder)


@pytest.fixture(scope="module")
def reference():
    with open(model_path("minilm-reference.json"), encoding="utf-8") as f:
        return json.load(f)["texts"]


@pytest.fixture(scope="module")
def expansions():
    with open(EXPANSIONS, encoding="utf-8") as f:
        return json.load(f)


def test_tokenizer_matches_the_reference_token_ids(embedder, reference):
    # accents ("Café", "naïve"), punctuation ("T-shirt", "St. Bernard's"), a word split into pieces
    tokenizer = embedder.model["tokenizer"]
    for item in reference:
        assert tokenizer.encode(item["text"]) == item["input_ids"], item["text"]


def test_embeddings_match_sentence_transformers(embedder, reference):
    texts = [item["text"] for item in reference]
    got = embedder.embed(texts)
    want = np.array([item["embedding"] for item in reference], dtype=np.float32)
    assert got.shape == (len(texts), 384) and got.dtype == np.float32
    assert np.allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-5)
    cosines = (got * want).sum(axis=1)
    assert cosines.min() >= 0.999, dict(zip(texts, cosines.round(5)))


def test_a_text_embeds_the_same_alone_and_padded_in_a_batch(embedder):
    alone = embedder.embed(["dog"])[0]
    batch = embedder.embed(["a woman smiling in a space suit", "dog", "x"])
    assert float(alone @ batch[1]) > 0.9999


def test_similar_words_are_closer(embedder):
    cat, kitten, car = embedder.embed(["cat", "kitten", "car"])
    assert cat @ kitten > cat @ car


def test_unknown_characters_become_unk(embedder):
    tokenizer = embedder.model["tokenizer"]
    ids = tokenizer.encode("\u2603")   # a snowman is no word piece
    assert ids == [tokenizer.cls, tokenizer.unk, tokenizer.sep]


def test_nearest_concepts_finds_meanings_not_spellings():
    found = dict(nearest_concepts("sofa"))
    assert "Couch" in found and found["Couch"] >= 0.6
    assert nearest_concepts("cat")[0] == ("Cat", 1.0)
    # MiniLM puts "beaker" close to Beak for the word piece they share: not a meaning
    assert "Beak" not in dict(nearest_concepts("beaker", k=20))
    assert all(cos >= 0.7 for _, cos in nearest_concepts("kitten", min_cosine=0.7))


def test_expansion_table_format(expansions):
    concepts, words = expansions["concepts"], expansions["words"]
    assert len(words) > 5000 and os.path.getsize(EXPANSIONS) < 3 * 1024 * 1024
    for word, entry in words.items():
        assert tokens(word) == [word], word             # normalized like query words
        assert 1 <= len(entry) <= 8
        for index, weight, via in entry:
            assert 0 < weight <= 1 and via in ("synonym", "wordnet", "embedding")
            assert tokens(concepts[index]) != [word]     # a word's own concept is no expansion


@pytest.mark.parametrize("word, concept", [
    ("kitty", "Cat"), ("kitten", "Cat"), ("puppy", "Dog"), ("automobile", "Car"), ("motorbike", "Motorcycle"),
    ("sofa", "Couch"), ("kid", "Child"), ("mug", "Cup"), ("coffee", "Coffee Cup"), ("monument", "Landmark"),
])
def test_everyday_words_mean_their_concepts(expansions, word, concept):
    entry = {expansions["concepts"][i]: (weight, via) for i, weight, via in expansions["words"][word]}
    assert concept in entry and entry[concept][0] >= 0.6 and entry[concept][1] != "embedding"
