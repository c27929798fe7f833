"""Word meaning at run time: all-MiniLM-L6-v2 sentence embeddings with only numpy and
onnxruntime, and the concepts (label names the engines produce) nearest to a word.

The model is exported once to ONNX by tools/export_text_model.py (`./dev models`); this
module does what sentence-transformers does around it: BERT uncased WordPiece tokenizing
(lowercase, accents stripped, punctuation split off, greedy longest-match word pieces,
[CLS] ... [SEP]), mean pooling of the token vectors over the attention mask, L2
normalization.  tests/test_text_embedding.py checks it against sentence-transformers.

    TextEmbedder().embed(["kitty", "ice cream"])  -> float32 (2, 384), unit rows
    nearest_concepts("kitty")                      -> [("Cat", 0.84), ("Kitten", 0.79), ...]

nearest_concepts() reads var/models/concepts.npz (concept names and aliases with their
embeddings, written by tools/build_concept_vectors.py at `./dev models` time): it is the
live fallback for a word missing from chalicelib/query/expansions.json.  MiniLM rates
words that merely share word pieces as close ("beaker"~Beak 0.80); related() refuses
those, so both the table and the live lookup keep to meanings.
"""
import unicodedata

from chalicelib.analysis.local.models import LazyModel, model_path, onnx_session, shared

MODEL_FILE = "minilm-l6-v2.onnx"
VOCAB_FILE = "minilm-vocab.txt"
CONCEPTS_FILE = "concepts.npz"
DIM = 384
MAX_TOKENS = 32        # [CLS] + 30 word pieces + [SEP]: words and label names need far fewer
BATCH = 64
# Cosine from which a concept name counts as related to a word, chosen by reading samples
# of word-concept pairs in bands of 0.05: from 0.6 most are related ("ravine"~Canyon,
# "mattress"~Bed, "pup"~Kitten), below it many are loose ("backpack"~Hiking).  Rare words,
# which WordPiece splits, are less reliable and need more (see spelling_clash too).
MIN_COSINE = 0.6
SPLIT_MARGIN = 0.05


class WordPiece:
    """BERT's uncased tokenizer (BasicTokenizer + WordpieceTokenizer) over a vocab.txt."""

    def __init__(self, vocab_lines):
        self.vocab = list(vocab_lines)
        self.ids = {tok: i for i, tok in enumerate(self.vocab)}
        self.cls, self.sep, self.unk = self.ids["[CLS]"], self.ids["[SEP]"], self.ids["[UNK]"]

    def encode(self, text, max_tokens=MAX_TOKENS):
        ids = [self.cls]
        for word in _basic_tokens(text):
            ids.extend(self._word_pieces(word))
        return ids[:max_tokens - 1] + [self.sep]

    def spelling(self, text):
        """(words, pieces): the text's words and each word's pieces ("beaker" -> ["beak",
        "##er"]), for spelling_clash() and related()."""
        words = [w for w in _basic_tokens(text) if w.isalnum()]
        return words, [[self.vocab[i] for i in self._word_pieces(w)] for w in words]

    def _word_pieces(self, word):
        if len(word) > 100:
            return [self.unk]
        pieces, start = [], 0
        while start < len(word):
            end = len(word)
            while end > start:   # the longest piece in the vocabulary, "##" marks a continuation
                piece = word[start:end] if start == 0 else "##" + word[start:end]
                if piece in self.ids:
                    pieces.append(self.ids[piece])
                    break
                end -= 1
            else:
                return [self.unk]   # a word that cannot be pieced is one unknown token
            start = end
        return pieces


def spelling_clash(a, b):
    """True when two texts (WordPiece.spelling) look alike in a way MiniLM mistakes for
    meaning: they share a word piece of 3+ letters ("beaker"~Beak, "tort"~Torte,
    "fig"~Figurine) or a split word starts like a word of the other ("clime"~Clam,
    "pox"~Possum).  MiniLM rates such pairs 0.6-0.8 whatever they mean."""
    def long_pieces(spelling):
        return {p.lstrip("#") for word in spelling[1] for p in word if len(p.lstrip("#")) >= 3}

    def starts_like(x, y):
        return any(len(pieces) > 1 and len(pieces[0]) >= 2 and any(w.startswith(pieces[0]) for w in y[0])
                   for pieces in x[1])

    return bool(long_pieces(a) & long_pieces(b)) or starts_like(a, b) or starts_like(b, a)


def is_split(spelling):
    return any(len(pieces) > 1 for pieces in spelling[1])


def related(cos, a, b, min_cosine=MIN_COSINE):
    """Whether the cosine of two texts (their WordPiece.spelling a, b) means related."""
    if a[0] == b[0]:
        return True   # the same words
    if spelling_clash(a, b):
        return False
    return cos >= min_cosine + (SPLIT_MARGIN if is_split(a) or is_split(b) else 0.0)


def _basic_tokens(text):
    """Lowercase, strip accents, drop control characters, split on whitespace and around
    punctuation and CJK ideographs (BERT's BasicTokenizer with do_lower_case)."""
    chars = []
    for c in text:
        cp = ord(c)
        if cp == 0 or cp == 0xFFFD or _is_control(c):
            continue
        if _is_cjk(cp):
            chars.append(" %s " % c)
        else:
            chars.append(" " if c.isspace() else c)
    out = []
    for word in "".join(chars).split():
        word = unicodedata.normalize("NFD", word.lower())
        word = "".join(c for c in word if unicodedata.category(c) != "Mn")
        current = ""
        for c in word:
            if _is_punctuation(c):
                if current:
                    out.append(current)
                out.append(c)
                current = ""
            else:
                current += c
        if current:
            out.append(current)
    return out


def _is_control(c):
    if c in "\t\n\r":
        return False
    return unicodedata.category(c).startswith("C")


def _is_punctuation(c):
    cp = ord(c)
    if 33 <= cp <= 47 or 58 <= cp <= 64 or 91 <= cp <= 96 or 123 <= cp <= 126:
        return True   # BERT counts every non-alphanumeric ASCII character, e.g. "$" and "^"
    return unicodedata.category(c).startswith("P")


def _is_cjk(cp):
    return (0x4E00 <= cp <= 0x9FFF or 0x3400 <= cp <= 0x4DBF or 0x20000 <= cp <= 0x2A6DF or
            0x2A700 <= cp <= 0x2B73F or 0x2B740 <= cp <= 0x2B81F or 0x2B820 <= cp <= 0x2CEAF or
            0xF900 <= cp <= 0xFAFF or 0x2F800 <= cp <= 0x2FA1F)


class TextEmbedder(LazyModel):
    def _load(self):
        with open(model_path(VOCAB_FILE), encoding="utf-8") as f:
            vocab = [line.rstrip("\n") for line in f]
        return {"session": onnx_session(model_path(MODEL_FILE)), "tokenizer": WordPiece(vocab)}

    def embed(self, texts):
        """float32 array (len(texts), 384): unit-length mean-pooled sentence embeddings."""
        import numpy as np
        m = self.model
        encoded = [m["tokenizer"].encode(t) for t in texts]
        out = np.zeros((len(texts), DIM), dtype=np.float32)
        order = sorted(range(len(texts)), key=lambda i: len(encoded[i]))   # batch similar lengths
        for b in range(0, len(order), BATCH):
            rows = order[b:b + BATCH]
            width = max(len(encoded[i]) for i in rows)
            ids = np.zeros((len(rows), width), dtype=np.int64)   # [PAD] is id 0
            mask = np.zeros((len(rows), width), dtype=np.int64)
            for r, i in enumerate(rows):
                ids[r, :len(encoded[i])] = encoded[i]
                mask[r, :len(encoded[i])] = 1
            tokens = m["session"].run(None, {"input_ids": ids, "attention_mask": mask})[0]
            weights = mask[:, :, None].astype(np.float32)
            pooled = (tokens * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)
            out[rows] = pooled / np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)
        return out


class ConceptIndex(LazyModel):
    """concepts.npz: concept names, and the unit embeddings (float16) of each name and alias
    with the concept it belongs to."""

    def _load(self):
        import numpy as np
        data = np.load(model_path(CONCEPTS_FILE))
        return {"names": [str(n) for n in data["names"]], "texts": [str(t) for t in data["texts"]],
                "vectors": data["vectors"].astype(np.float32), "owner": data["owner"]}

    def nearest(self, vector, spelling, tokenizer, k, min_cosine):
        import numpy as np
        m = self.model
        # einsum, not BLAS: right after an onnxruntime run OpenBLAS' threads wait for cores
        # and this product takes ~18 ms instead of ~0.3 ms (measured on 2 cores)
        cos = np.einsum("ij,j->i", m["vectors"], vector)
        best = {}
        for row in np.argsort(-cos):
            if cos[row] < min_cosine or len(best) == k:
                break
            c = int(m["owner"][row])
            if c not in best and related(cos[row], spelling, tokenizer.spelling(m["texts"][row]), min_cosine):
                best[c] = round(float(cos[row]), 4)
        return [(m["names"][c], v) for c, v in best.items()]




def nearest_concepts(word, k=8, min_cosine=MIN_COSINE):
    """[(concept_name, cosine)] nearest to `word` by MiniLM cosine (its best name or alias),
    best first, at most k, at or above min_cosine and related() (so not merely spelled
    alike).  A concept named by the word itself comes first (cosine 1)."""
    embedder = shared(TextEmbedder)
    vector = embedder.embed([word])[0]
    tokenizer = embedder.model["tokenizer"]
    return shared(ConceptIndex).nearest(vector, tokenizer.spelling(word), tokenizer, k, min_cosine)
