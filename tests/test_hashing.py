"""CharNgramHasher: n-gram counts agree with scikit-learn's char / char_wb analyzers, batch-independent."""
import random
from collections import Counter

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.feature_extraction.text import CountVectorizer, TfidfTransformer
from sklearn.pipeline import Pipeline

from ctframe.features.hashing import CharNgramHasher

# Every word has at least two characters, so char_wb's n-grams up to n = 4 are all whole windows.
TEXTS = ["أعلنت وزارة الداخلية اليوم عن إحباط مخطط إرهابي كان يستهدف منشآت حيوية",
         "قال المتحدث الأمني إن الخلية ضمت عشرة أشخاص من جنسيات مختلفة",
         "ارتفع مؤشر السوق بنسبة 2.5% في تعاملات الأحد",
         "The ministry said the cell was dismantled on Sunday, officials confirmed it.",
         "aa aa aa bb ab ba",
         "هو هو هو"]


def sklearn_ngrams(text, analyzer, ngram_range=(2, 4)):
    return CountVectorizer(analyzer=analyzer, ngram_range=ngram_range, lowercase=False).build_analyzer()(text)


def rows(matrix):
    return [sorted(zip(matrix[i].indices.tolist(), matrix[i].data.tolist())) for i in range(matrix.shape[0])]


@pytest.mark.parametrize("word_boundaries, analyzer", [(True, "char_wb"), (False, "char")])
def test_counts_match_scikit_learn_analyzer(word_boundaries, analyzer):
    X = CharNgramHasher(ngram_range=(2, 4), word_boundaries=word_boundaries, n_features=2**22).transform(TEXTS)
    assert X.shape == (len(TEXTS), 2**22) and X.dtype == np.float64
    for i, text in enumerate(TEXTS):
        expected = Counter(sklearn_ngrams(text, analyzer))
        assert X[i].sum() == sum(expected.values())
        assert X[i].nnz == len(expected)
        assert sorted(X[i].data) == sorted(expected.values())  # the same multiset of counts


def test_unigrams_without_word_boundaries_include_spaces_with_them_do_not():
    text = "abc de"
    assert CharNgramHasher((1, 3), word_boundaries=False).transform([text]).sum() == len(
        sklearn_ngrams(text, "char", (1, 3)))
    assert CharNgramHasher((1, 1)).transform([text]).sum() == 5  # a b c d e: no lone spaces


def test_word_shorter_than_n_minus_2_is_skipped():
    # " ab " has 3 + 2 + 1 n-grams of lengths 2-4; scikit-learn would also emit " ab " once more as a 5-gram.
    assert CharNgramHasher((2, 5)).transform(["ab"]).sum() == 6
    assert CharNgramHasher((5, 5)).transform(["ab"]).nnz == 0


def test_output_is_canonical_csr():
    X = CharNgramHasher(n_features=2**4).transform(TEXTS)  # tiny: many collisions, summed
    assert X.format == "csr" and X.has_canonical_format
    for i in range(X.shape[0]):
        assert np.all(np.diff(X[i].indices) > 0)
    assert X.sum() == CharNgramHasher(n_features=2**22).transform(TEXTS).sum()


def test_word_order_does_not_matter_with_word_boundaries():
    a, b = "مكافحة الإرهاب الدولي", "الدولي مكافحة الإرهاب"
    assert rows(CharNgramHasher().transform([a])) == rows(CharNgramHasher().transform([b]))
    assert rows(CharNgramHasher(word_boundaries=False).transform([a])) != rows(
        CharNgramHasher(word_boundaries=False).transform([b]))


@pytest.mark.parametrize("word_boundaries", [True, False])
def test_batch_equals_one_text_at_a_time(word_boundaries):
    rng = random.Random(0)
    words = " ".join(TEXTS).split()
    texts = [" ".join(rng.choices(words, k=rng.randint(0, 40))) for _ in range(1200)]  # > one chunk
    texts[5] = ""
    hasher = CharNgramHasher(word_boundaries=word_boundaries)
    batch = hasher.transform(texts)
    assert batch.shape == (1200, 2**20)
    assert rows(batch) == [rows(hasher.transform([t]))[0] for t in texts]


def test_empty_texts_give_empty_rows():
    X = CharNgramHasher().transform(["", "   \n ", TEXTS[0], ""])
    assert X.getnnz(axis=1).tolist()[:2] == [0, 0] and X[3].nnz == 0 and X[2].nnz > 0
    assert CharNgramHasher().transform([]).shape == (0, 2**20)


@pytest.mark.parametrize("word_boundaries", [True, False])
def test_repeated_whitespace_and_newlines_do_not_matter(word_boundaries):
    hasher = CharNgramHasher(word_boundaries=word_boundaries)
    messy = "  أعلنت \n\n وزارة\tالداخلية   اليوم\r\n"
    assert rows(hasher.transform([messy])) == rows(hasher.transform(["أعلنت وزارة الداخلية اليوم"]))


def test_pipeline_with_tfidf_and_clone():
    hasher = CharNgramHasher(ngram_range=(3, 5), word_boundaries=False, n_features=2**18)
    pipeline = Pipeline([("hash", hasher), ("tfidf", TfidfTransformer(sublinear_tf=True))])
    X = pipeline.fit_transform(TEXTS)
    assert X.shape == (len(TEXTS), 2**18)
    np.testing.assert_allclose(np.sqrt(X.multiply(X).sum(axis=1)).A1, 1.0)
    np.testing.assert_allclose(pipeline.transform(TEXTS).toarray(), X.toarray())
    copy = clone(hasher)
    assert copy is not hasher and copy.get_params() == hasher.get_params()
    assert rows(copy.transform(TEXTS)) == rows(hasher.fit(TEXTS).transform(TEXTS))


@pytest.mark.parametrize("params", [{"n_features": 1000}, {"n_features": 2**3}, {"n_features": 2.0**20},
                                    {"ngram_range": (0, 2)}, {"ngram_range": (4, 2)}])
def test_invalid_parameters_raise(params):
    with pytest.raises(ValueError, match="n_features|ngram_range"):
        CharNgramHasher(**params).fit(TEXTS)
    with pytest.raises(ValueError):
        CharNgramHasher(**params).transform(TEXTS)


def test_a_single_string_is_rejected():
    with pytest.raises(ValueError, match="Iterable"):
        CharNgramHasher().transform("نص واحد")
