"""The feature pipeline: normalization → character n-gram TF-IDF (+ optional word n-grams)."""
from __future__ import annotations

from sklearn.feature_extraction.text import TfidfTransformer, TfidfVectorizer
from sklearn.compose import ColumnTransformer
from sklearn.pipeline import FeatureUnion, Pipeline

from ctframe.features.hashing import CharNgramHasher
from ctframe.features.normalize import ArabicNormalizer

# Every type a pipeline built here can hold: the skops allow-list of the feature part of a saved model.
PIPELINE_TYPES = frozenset({
    "ctframe.features.normalize.ArabicNormalizer",
    "ctframe.features.hashing.CharNgramHasher",
    "sklearn.pipeline.Pipeline",
    "sklearn.pipeline.FeatureUnion",
    "sklearn.feature_extraction.text.TfidfVectorizer",
    "sklearn.feature_extraction.text.TfidfTransformer",
    "sklearn.compose._column_transformer.ColumnTransformer",
})


def build_features(normalize: dict, features: dict) -> ColumnTransformer:
    """The one feature transformer used by training, evaluation, export and scoring alike: a paragraph
    frame (``text``, ``title``, ``context`` columns) → the text's TF-IDF block, beside (when their weights
    are not 0) the same kind of block for the article's title and for the neighbouring paragraphs, scaled
    by ``title_weight`` and ``context_weight``: context is evidence, the label is the paragraph's own.

    ``normalize`` holds ArabicNormalizer parameters. ``features`` holds ``analyzer`` (char, or char_wb:
    n-grams inside words), ``ngram_range``, ``sublinear_tf``, ``word_ngrams`` (a word n-gram range to add
    in a FeatureUnion, or null) and either ``hashing`` (a number of hashed columns: fast, no vocabulary)
    or, when ``hashing`` is null, the vocabulary options ``min_df``, ``max_df`` and ``max_features``.
    """
    blocks = [("text", text_block(normalize, features), "text")]
    weights = {"text": 1.0}
    for column in ("title", "context"):
        if features[f"{column}_weight"]:
            blocks.append((column, text_block(normalize, features), column))
            weights[column] = float(features[f"{column}_weight"])
    return ColumnTransformer(blocks, transformer_weights=weights)


def text_block(normalize: dict, features: dict) -> Pipeline:
    """Normalization → character n-gram TF-IDF (+ word n-grams) for one text column."""
    if features["hashing"]:
        char = Pipeline([("count", CharNgramHasher(tuple(features["ngram_range"]), features["analyzer"] == "char_wb",
                                                   features["hashing"])),
                         ("tfidf", TfidfTransformer(sublinear_tf=features["sublinear_tf"]))])
    else:
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
