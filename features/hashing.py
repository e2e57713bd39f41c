"""Hashed character n-gram counts as a scikit-learn transformer (the kernel is ``features/ngrams.py``)."""
from __future__ import annotations

import scipy.sparse as sp
from sklearn.base import BaseEstimator, TransformerMixin

from ctframe.features.ngrams import check_params, ngram_counts


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

    def fit(self, X, y=None):
        """Check the parameters; nothing is learned."""
        check_params(self.ngram_range, self.n_features)
        return self

    def transform(self, texts) -> sp.csr_matrix:
        """Return a (len(texts), n_features) float64 CSR matrix of n-gram counts."""
        return ngram_counts(texts, self.ngram_range, self.word_boundaries, self.n_features)

    def __sklearn_tags__(self):
        """Stateless (no fit needed) and takes raw text, like HashingVectorizer."""
        tags = super().__sklearn_tags__()
        tags.requires_fit = False
        tags.input_tags.two_d_array = False
        tags.input_tags.string = True
        return tags
