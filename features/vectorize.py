"""The feature pipeline: normalization → character n-gram TF-IDF (+ optional word n-grams)."""
from __future__ import annotations

from sklearn.pipeline import FeatureUnion, Pipeline
from sklearn.feature_extraction.text import TfidfVectorizer

from features.normalize import ArabicNormalizer


def build_features(normalize: dict, features: dict) -> Pipeline:
    """One Pipeline used by training, evaluation, export and scoring alike.

    ``normalize`` holds ArabicNormalizer parameters; ``features`` holds ``analyzer`` (char or char_wb),
    ``ngram_range``, ``min_df``, ``max_df``, ``sublinear_tf``, ``max_features`` and ``word_ngrams``
    (a word n-gram range to add in a FeatureUnion, or null).
    """
    char = TfidfVectorizer(analyzer=features["analyzer"], ngram_range=tuple(features["ngram_range"]),
                           min_df=features["min_df"], max_df=features["max_df"],
                           sublinear_tf=features["sublinear_tf"], max_features=features["max_features"],
                           lowercase=False)
    vectorizer = char
    if features.get("word_ngrams"):
        word = TfidfVectorizer(analyzer="word", ngram_range=tuple(features["word_ngrams"]),
                               min_df=features["min_df"], sublinear_tf=features["sublinear_tf"],
                               lowercase=False)
        vectorizer = FeatureUnion([("char", char), ("word", word)])
    return Pipeline([("normalize", ArabicNormalizer(**normalize)), ("tfidf", vectorizer)])
