"""The corpus-learned word vectors and the two neural candidates (subword_cnn, stacked) on tiny data."""
from __future__ import annotations

import json
import zipfile

import numpy as np
import pytest

from conftest import SENTENCES, build_corpus
from ctframe import CtframeError
from ctframe.features.subwords import SubwordVectors, corpus_vectors, subword_rows, tokenizer
from ctframe.train import families
from ctframe.train.config import load_config
from ctframe.train.families.neural import StackedFrames
from ctframe.train.model import as_frame

TEXTS = [s for sentences in SENTENCES.values() for s in sentences] * 6
SMALL_NET = {"pretrain_steps": 40, "pretrain_lr": 0.0005, "dim": 16, "filters": 8, "hidden": 16, "epochs": 60, "batch": 16}


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("CTFRAME_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


def test_tokenizer_normalizes_like_the_features():
    tokenize = tokenizer({"alef": True, "diacritics": True, "digits": True, "whitespace": True})
    assert tokenize("أحبطت  الأجهزةُ ٣ خلايا،") == ["احبطت", "الاجهزة", "0", "خلايا", "،"]


def test_word_vectors_fit_compose_and_round_trip(tmp_path):
    vectors = SubwordVectors(dim=12, buckets=500, min_count=2, max_steps=30, batch=64).fit(TEXTS)
    assert vectors.steps_ == 30 and vectors.table_.shape == (len(vectors.vocab_) + 500, 12)
    words = ["الإرهاب", "الامنية", "كلمةلمترد"]  # the last was never seen: its n-grams still compose a vector
    composed = vectors.vectors(tokenizer()(" ".join(words)))
    assert composed.shape == (3, 12) and np.all(np.abs(composed).sum(axis=1) > 0)
    again = SubwordVectors(dim=12, buckets=500, min_count=2, max_steps=30, batch=64).fit(TEXTS)
    assert np.array_equal(again.table_, vectors.table_)  # same seed, same steps: the same table
    loaded = SubwordVectors.load(vectors.save(tmp_path / "v.npz"))
    assert loaded.vocab_ == vectors.vocab_ and loaded.get_params() == vectors.get_params()
    assert np.array_equal(loaded.vectors(words), vectors.vectors(words))


def test_word_vector_file_refuses_pickles_and_wrong_shapes(tmp_path):
    pickled = tmp_path / "p.npz"
    np.savez(pickled, table=np.zeros((3, 2)), vocab=np.array([{"x": 1}], dtype=object), meta=np.array("{}"))
    with pytest.raises(CtframeError, match="not a word-vector file"):
        SubwordVectors.load(pickled)
    vectors = SubwordVectors(dim=4, buckets=50, min_count=2, max_steps=2, batch=8).fit(TEXTS)
    vectors.table_ = vectors.table_[:-1]
    with pytest.raises(CtframeError, match="does not match"):
        SubwordVectors.load(vectors.save(tmp_path / "short.npz"))
    with pytest.raises(CtframeError, match="too few words"):
        SubwordVectors(min_count=5).fit(["كلمة واحدة"])


def test_subword_rows_skip_the_whole_word():
    assert len(subword_rows("ab", 100)) == 2  # <ab and ab>; the 4-gram <ab> is the word itself
    assert all(0 <= r < 100 for r in subword_rows("الإرهاب", 100))


def test_corpus_vectors_are_cached_by_fingerprint_and_skip_later_dates(tmp_path, cache):
    folder = tmp_path / "corpus"
    build_corpus(folder, n_articles=24)
    with zipfile.ZipFile(folder / "2015-08-08.zip", "w") as archive:  # a later day with a word seen nowhere else
        archive.writestr("x.json", json.dumps([{"source": "s", "url": "http://late.test/1", "title": "t",
                                                "date_extracted": "2015-08-08 10:00:00", "author": "",
                                                "content": " ".join(["زلزلةمتأخرة"] * 40)}], ensure_ascii=False))
    params = {"dim": 8, "buckets": 200, "min_count": 1, "max_steps": 5, "batch": 32}
    first = corpus_vectors(params, folder, before="2015-08-06", progress=False)
    stamp = first.stat().st_mtime_ns
    assert corpus_vectors(params, folder, before="2015-08-06", progress=False) == first
    assert first.stat().st_mtime_ns == stamp  # read from the cache, not fitted again
    vocab = SubwordVectors.load(first).vocab_
    assert "زلزلةمتاخرة" not in vocab and "داعش" in vocab
    with_later = corpus_vectors(params, folder, before=None, progress=False)
    assert with_later != first and "زلزلةمتاخرة" in SubwordVectors.load(with_later).vocab_
    (folder / "2015-08-08.zip").unlink()  # another corpus: another key
    assert corpus_vectors(params, folder, before=None, progress=False) not in (first, with_later)


def _tiny(tmp_path, family: str, model: dict):
    from ctframe.train.schema import load_schema

    truth = build_corpus(tmp_path / "corpus", n_articles=120)
    config = load_config(None, {"corpus": {"path": str(tmp_path / "corpus")}, "features": {"min_df": 1},
                                "model": {"family": family, **model}})
    texts, topics = [t["text"] for t in truth], np.array([t["topic"] for t in truth])
    frames, groups = [t["frames"] for t in truth], np.array([t["ref"].split("#")[0] for t in truth])
    return families.build_model(config, load_schema()), texts, topics, frames, groups


def test_subword_cnn_learns_topics_and_frames_and_keeps_its_validation_share_apart(tmp_path, cache):
    model, texts, topics, frames, groups = _tiny(tmp_path, "subword_cnn", SMALL_NET)
    model.fit(texts, topics, frames, groups=groups)
    held = np.zeros(len(texts), bool)
    held[model.validation_index_] = True
    assert 0.1 < held.mean() < 0.35 and not set(groups[held]) & set(groups[~held])  # whole articles held out
    predicted_topics, predicted_frames = model.predict(texts)
    assert np.mean(predicted_topics[held] == topics[held]) > 0.8  # paragraphs it never trained on
    truth = model.frame_matrix(frames)
    assert np.mean((predicted_frames == truth).all(axis=1)[held]) > 0.8
    unseen = "كلمات لم ترد قط في التدريب أحبطت الأجهزة الأمنية مخططا"
    _, extra = model._ids(as_frame([unseen]), model.types_, grow=False)
    assert "ترد" in extra and np.all(np.abs(model.vectors_.vectors(extra)).sum(axis=1) > 0)  # composed, not zero
    topic_p, frame_p = model.predict_proba([unseen])
    assert topic_p.shape == (1, len(model.topics)) and np.isclose(topic_p.sum(), 1)
    files = model.save(tmp_path)
    assert {f.name for f in files} == {"cnn.pt", "vectors.npz"} and all(f.stat().st_size for f in files)


def test_stacked_combines_both_models_on_predictions_neither_trained_on(tmp_path, cache, monkeypatch):
    model, texts, topics, frames, groups = _tiny(tmp_path, "stacked", {"neural": SMALL_NET, "linear": {"inner_folds": 2}})
    seen = []
    original = StackedFrames._topic_inputs
    monkeypatch.setattr(StackedFrames, "_topic_inputs", lambda self, a, b: seen.append((a, b)) or original(self, a, b))
    model.fit(texts, topics, frames, groups=groups)
    linear_in, neural_in = seen[0]  # what the topic stacker was fitted on
    held = model.neural_.validation_index_
    columns = [list(model.linear_.topic_model_.classes_).index(t) for t in model.topics]
    assert np.array_equal(linear_in, model.linear_.topic_model_.oof_proba_[held][:, columns])  # out of fold
    assert np.array_equal(neural_in, model.neural_.validation_proba_[0])  # rows the CNN never trained on
    assert model.topic_stacker_.coef_.shape[1] == 2 * len(model.topics)  # both models' log-probabilities
    assert [s.coef_.shape[1] for s in model.frame_stackers_] == [2 * len(model.frames)] * len(model.frames)
    predicted_topics, predicted_frames = model.predict(texts)
    assert np.mean(predicted_topics[held] == topics[held]) > 0.9
    assert np.mean((predicted_frames == model.frame_matrix(frames)).all(axis=1)[held]) > 0.8


def test_word_vectors_may_not_learn_from_the_holdout_dates():
    for model in ({"family": "subword_cnn", "pretrain_before": "2015-08-07"},
                  {"family": "stacked", "neural": {"pretrain_before": "2015-08-07"}}):
        with pytest.raises(CtframeError, match="holdout dates"):
            load_config(None, {"model": model})
    with pytest.raises(CtframeError, match="holdout dates"):  # the default date, against an earlier holdout
        load_config(None, {"model": {"family": "stacked"}, "evaluation": {"holdout_dates": ["2015-08-01"]}})
    assert load_config(None, {"model": {"family": "subword_cnn", "pretrain_before": "2015-08-01"}})
