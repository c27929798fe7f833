"""Concept embeddings for word meaning at run time, written by `./dev models` (after the
MiniLM export) and again whenever a label list changes.  Runs in the project venv: it
embeds with the runtime's own chalicelib.query.embedding.TextEmbedder (ONNX).

    concepts.npz  names (the V concepts of chalicelib/query/vocabulary.py), texts (each
                  name and alias), vectors (their float16 unit embeddings), owner (the
                  concept of each text): chalicelib.query.embedding.nearest_concepts()
    conse.npz     concepts (the V' concepts that are not one of the classifier's class
                  names or aliases), sim (float16, 1000 x V', rows in taxonomy.json class
                  order): chalicelib/analysis/local/conse.py

    python tools/build_concept_vectors.py var/models
"""
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from chalicelib.query import vocabulary  # noqa: E402
from chalicelib.query.embedding import TextEmbedder, spelling_clash  # noqa: E402

# ConSE's shift: a class-concept cosine at or below C0 counts as unrelated.  MiniLM gives
# 0.40-0.55 to unrelated rare words ("Obelisk"~"Aardvark" 0.55, "Stupa"~"Tank Top" 0.51);
# related names sit above ("Ice Cream"~"Dessert" 0.65, "Church"~"Cathedral" 0.65).  On the
# "tune" photos of bench/photos.json, counting only concepts the classifier does not name
# itself with scores >= 5: C0 0.45 adds 23 hand labels for 1280 others, 0.5 12 for 472,
# 0.55 7 for 165, 0.6 4 for 76 (the hand labels are incomplete, so "others" are not all wrong).
C0 = 0.55


def texts_of(items):
    """(texts, owner): every name and alias, and the index of the item it belongs to."""
    texts, owner = [], []
    for i, (name, aliases) in enumerate(items):
        for t in [name, *aliases]:
            texts.append(t)
            owner.append(i)
    return texts, np.array(owner, dtype=np.int32)


def names_kind(class_spelling, concept_spelling):
    """Whether a concept name may mean a kind the class is, to judge by the words alone.
    "Arch" for "Triumphal Arch" may (the head word); "Summer Palace" for "Palace" and
    "Black Cat" for "Tabby Cat" may not (a more specific or a sibling kind), nor may names
    only spelled alike ("Figurine" for "Fig": see spelling_clash)."""
    class_words, concept_words = class_spelling[0], concept_spelling[0]
    if concept_words == class_words[-len(concept_words):]:
        return True
    if set(class_words) & set(concept_words):
        return False
    return not spelling_clash(class_spelling, concept_spelling)


def conse_similarity(embedder, class_texts, class_owner, n_classes, concept_texts, concept_vectors, concept_owner,
                     n_concepts):
    """classes x concepts: the best shifted cosine of a class's and a concept's names."""
    tokenizer = embedder.model["tokenizer"]
    cos = embedder.embed(class_texts) @ concept_vectors.T
    sim = np.zeros((n_classes, n_concepts), dtype=np.float32)
    for r, c in zip(*np.nonzero(cos > C0)):
        i, j = class_owner[r], concept_owner[c]
        if cos[r, c] > sim[i, j] and names_kind(tokenizer.spelling(class_texts[r]), tokenizer.spelling(concept_texts[c])):
            sim[i, j] = cos[r, c]
    return np.clip((sim - C0) / (1.0 - C0), 0.0, 1.0)


def main(out_dir):
    started = time.perf_counter()
    embedder = TextEmbedder()
    concepts = vocabulary.concepts()
    texts, owner = texts_of([(c.name, c.aliases) for c in concepts])
    vectors = embedder.embed(texts)
    names = np.array([c.name for c in concepts])
    np.savez_compressed(os.path.join(out_dir, "concepts.npz.tmp.npz"), names=names, texts=np.array(texts),
                        vectors=vectors.astype(np.float16), owner=owner)

    mine = vocabulary.class_names()
    columns = [j for j, c in enumerate(concepts) if vocabulary.key(c.name) not in mine]
    column_of = {j: n for n, j in enumerate(columns)}
    rows = [r for r, j in enumerate(owner) if j in column_of]
    classes = vocabulary.taxonomy()["classes"]
    class_texts, class_owner = texts_of([(c["name"], c["aliases"]) for c in classes])
    sim = conse_similarity(embedder, class_texts, class_owner, len(classes), [texts[r] for r in rows], vectors[rows],
                           [column_of[owner[r]] for r in rows], len(columns))
    np.savez_compressed(os.path.join(out_dir, "conse.npz.tmp.npz"), concepts=names[columns],
                        sim=sim.astype(np.float16))
    # conse.npz last: ./dev models rebuilds when it is missing or older than a label list
    for name in ("concepts.npz", "conse.npz"):
        os.replace(os.path.join(out_dir, name + ".tmp.npz"), os.path.join(out_dir, name))
    print("wrote %s/concepts.npz (%d concepts, %d names and aliases) and conse.npz (1000 x %d, "
          "%.1f%% nonzero) in %.1f s" % (out_dir, len(concepts), len(texts), len(columns),
                                         100.0 * np.count_nonzero(sim) / sim.size, time.perf_counter() - started))


if __name__ == "__main__":
    main(sys.argv[1])
