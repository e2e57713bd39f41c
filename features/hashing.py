"""Hashed character n-gram counts for a batch of texts, in numpy (~10x scikit-learn's char analyzers).

The texts are joined into one array of code points, every n-gram gets a rolling polynomial hash, and
one sort of (text, column) keys per chunk of texts gives the counts of a CSR matrix.
"""
from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, TransformerMixin

from ctframe.features.normalize import collapse_whitespace

_BASE = np.uint64(0x100000001B3)  # rolling-hash multiplier (odd)
_LENGTH_SALT = 0xC2B2AE3D27D4EB4F  # mixed in per n-gram length so lengths don't collide systematically
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)  # multiplicative (Fibonacci) hashing: keep the top bits
_SEP, _SPACE = 10, 32  # "\n" joins texts; whitespace collapsing removed every "\n" from them
_CHUNK = 512  # texts hashed per numpy pass: bigger batches spill out of the CPU caches and get slower


class CharNgramHasher(TransformerMixin, BaseEstimator):
    """Counts of hashed character n-grams, computed for a whole batch at once with numpy.

    word_boundaries=True counts only n-grams inside space-padded words (like scikit-learn's
    analyzer="char_wb"); False counts every n-gram of the whitespace-collapsed text (analyzer="char").
    Unlike char_wb, a word shorter than n - 2 characters yields no n-gram of length n (scikit-learn
    emits the whole padded word once instead), and single spaces are never counted as 1-grams.
    Stateless: ``fit`` learns nothing and ``transform`` works without it.
    """

    def __init__(self, ngram_range=(2, 5), word_boundaries=True, n_features=2**20):
        self.ngram_range = ngram_range
        self.word_boundaries = word_boundaries
        self.n_features = n_features

    def _check_params(self) -> int:
        """Validate the parameters; return log2(n_features)."""
        lo, hi, n = *self.ngram_range, self.n_features
        if not (all(isinstance(v, (int, np.integer)) for v in (lo, hi)) and 1 <= lo <= hi):
            raise ValueError(f"ngram_range must be integers 1 <= lo <= hi, got {self.ngram_range!r}")
        if not (isinstance(n, (int, np.integer)) and 2**4 <= n <= 2**31 and n & (n - 1) == 0):
            raise ValueError(f"n_features must be a power of two between 2**4 and 2**31, got {n!r}")
        return int(n).bit_length() - 1

    def fit(self, X, y=None):
        """Check the parameters; nothing is learned."""
        self._check_params()
        return self

    def transform(self, texts) -> sp.csr_matrix:
        """Return a (len(texts), n_features) float64 CSR matrix of n-gram counts."""
        bits = self._check_params()
        if isinstance(texts, str):
            raise ValueError("Iterable over raw text documents expected, string object received.")
        pad = " " if self.word_boundaries else ""  # " w1 w2 ": neighbouring words share one space
        docs = [f"{pad}{d}{pad}" if d else "" for d in (collapse_whitespace(t) for t in texts)]
        chunk = min(_CHUNK, 2 ** (32 - bits))  # so that text-in-chunk << bits | column fits in uint32
        blocks = [self._count(docs[i:i + chunk], bits) for i in range(0, max(len(docs), 1), chunk)]
        matrix = blocks[0] if len(blocks) == 1 else sp.vstack(blocks, format="csr")
        matrix.has_canonical_format = True  # sorted indices, no duplicates
        return matrix

    def _count(self, docs: list[str], bits: int) -> sp.csr_matrix:
        """Count the n-grams of whitespace-collapsed (and, for word boundaries, padded) texts."""
        codes = np.frombuffer("\n".join(docs).encode("utf-32-le", "surrogatepass"), dtype=np.uint32)  # lone surrogates too
        size, (lo, hi) = len(codes), self.ngram_range
        # seps[i] / spaces[i]: separators / spaces in codes[:i]; seps[i] is also the text of position i.
        seps = np.cumsum(np.concatenate(([False], codes == _SEP)), dtype=np.uint32)
        spaces = np.cumsum(np.concatenate(([False], codes == _SPACE)), dtype=np.uint32)
        rows = seps[:-1] << np.uint32(bits)
        keys = [np.zeros(0, np.uint32)]  # text << bits | column, for each valid window
        hashed = values = codes.astype(np.uint64) + np.uint64(1)
        for n in range(1, min(hi, size) + 1):
            starts = size - n + 1
            if n > 1:
                hashed = hashed[:starts] * _BASE + values[n - 1:]
            if n < lo:
                continue
            ok = seps[n:] == seps[:starts]
            if self.word_boundaries and n > 1:  # spaces only at the ends: inside one padded word,
                ok &= spaces[n - 1:size] == spaces[1:starts + 1]  # so words shorter than n - 2 have none
            elif self.word_boundaries:
                ok &= codes != _SPACE
            column = ((hashed ^ np.uint64(n * _LENGTH_SALT % 2**64)) * _GOLDEN) >> np.uint64(64 - bits)
            keys.append((column.astype(np.uint32) | rows[:starts])[ok])
        # Sorting the keys orders the entries by text, then column; equal keys are one n-gram's count.
        unique, counts = np.unique(np.concatenate(keys), return_counts=True)
        indptr = np.searchsorted(unique >> np.uint32(bits), np.arange(len(docs) + 1, dtype=np.uint32))
        columns = (unique & np.uint32(self.n_features - 1)).astype(np.int32)
        return sp.csr_matrix((counts.astype(np.float64), columns, indptr.astype(np.int32)),
                             shape=(len(docs), self.n_features))

    def __sklearn_tags__(self):
        """Stateless (no fit needed) and takes raw text, like HashingVectorizer."""
        tags = super().__sklearn_tags__()
        tags.requires_fit = False
        tags.input_tags.two_d_array = False
        tags.input_tags.string = True
        return tags
