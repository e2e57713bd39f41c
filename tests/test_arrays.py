"""The array form of an exported linear model: the same numbers as the estimator, read without pickle, and
a scoring command that imports neither scikit-learn nor MLflow."""
import json
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ctframe import CtframeError
from ctframe.features.arabic import build_table, normalize_text
from ctframe.features.corpus import load_snn_paragraphs
from ctframe.features.ngrams import ngram_counts, normalized_ngram_counts, normalizing_table
from ctframe.train.arrays import ARRAYS_FILE, ArrayModel, save_arrays
from ctframe.train.config import load_config
from ctframe.train.dataset import load_dataset
from ctframe.train.families import build_model

from conftest import write_labels

TABLE = build_table()
LUT = normalizing_table(TABLE)
CHARS = st.sampled_from([*"ابتثإأآٱىةي َُِّْـ٠١٢۳x ", "\n", "\t", "\u3000", "\u00a0", "\u2028", "\ud800", "\x00", "😀"])


@settings(max_examples=300, deadline=None)
@given(texts=st.lists(st.text(CHARS, max_size=30), max_size=8), word_boundaries=st.booleans())
def test_fused_kernel_counts_what_translate_then_hash_counts(texts, word_boundaries):
    expected = ngram_counts([normalize_text(t, TABLE) for t in texts], (1, 4), word_boundaries, 2**16)
    found = normalized_ngram_counts(texts, LUT, (1, 4), word_boundaries, 2**16)
    assert found.shape == expected.shape and (found != expected).nnz == 0


@pytest.fixture(scope="module")
def fitted(tmp_path_factory):
    from conftest import build_corpus
    from ctframe.train.schema import load_schema

    root = tmp_path_factory.mktemp("arrays")
    write_labels(root / "labels", build_corpus(root / "corpus"))
    schema = load_schema()
    data = load_dataset(schema, root / "labels", root / "corpus")
    config = load_config(None, {"features": {"min_df": 1}})
    return root, data, build_model(config, schema).fit(data.inputs, data.topics, data.frames, groups=data.groups)


def test_array_form_gives_the_estimators_probabilities_exactly(fitted, tmp_path):
    root, data, model = fitted
    assert save_arrays(model, tmp_path / "model.npz")
    arrays = ArrayModel(tmp_path / "model.npz")
    paragraphs = load_snn_paragraphs(root / "corpus")
    inputs = {"text": [p.text for p in paragraphs], "title": [p.title for p in paragraphs],
              "context": [paragraphs[i - 1].text for i in range(len(paragraphs))]}
    for X in (inputs, inputs["text"], {"text": inputs["text"], "title": [None] * len(paragraphs)}):
        for ours, theirs in zip(arrays.predict_proba(X), model.predict_proba(X)):
            assert np.array_equal(ours, theirs)
    assert [list(d) for d in arrays.decide(*arrays.predict_proba(inputs))[1]] == \
        [list(d) for d in model.predict(inputs)[1]]
    assert arrays.topics == list(model.topics) and np.array_equal(arrays.thresholds_, model.thresholds_)


def test_model_save_writes_the_array_form_beside_the_skops_file(fitted, tmp_path):
    _, _, model = fitted
    assert sorted(f.name for f in model.save(tmp_path)) == ["ctframe-arrays.npz", "ctframe.skops"]
    assert ARRAYS_FILE.name == "ctframe-arrays.npz"


def test_a_tampered_array_file_is_one_clear_error(fitted, tmp_path):
    _, _, model = fitted
    path = tmp_path / "model.npz"
    save_arrays(model, path)
    np.savez(tmp_path / "pickled.npz", meta=np.array([{"format": 1}], dtype=object))  # needs pickle to read
    with np.load(path) as data:
        arrays = {key: data[key] for key in data.files}
    meta = json.loads(str(arrays["meta"]))
    meta["blocks"][0]["n_features"] = 3  # not a power of two
    np.savez(tmp_path / "bad-meta.npz", **{**arrays, "meta": np.array(json.dumps(meta))})
    np.savez(tmp_path / "no-coef.npz", **{k: v for k, v in arrays.items() if k != "coef"})
    path.write_bytes(path.read_bytes()[:1000])
    for bad in (path, tmp_path / "pickled.npz", tmp_path / "missing.npz", tmp_path / "bad-meta.npz",
                tmp_path / "no-coef.npz"):
        with pytest.raises(CtframeError, match="not a readable ctframe array model"):
            ArrayModel(bad)


@pytest.mark.slow
def test_scoring_imports_neither_scikit_learn_nor_mlflow_and_warns_nothing(trained):
    root, *_ = trained
    probe = ("import sys, runpy; sys.argv = ['ctframe', 'score', '--paragraphs', '--model', sys.argv[1], '-'];"
             "code = 0\ntry: runpy.run_module('ctframe.train.cli', run_name='__main__')\n"
             "except SystemExit as exit: code = exit.code\n"
             "print(json.dumps(sorted(m for m in ('sklearn', 'mlflow', 'pandas', 'skops') if m in sys.modules)), "
             "file=sys.stderr)")
    out = subprocess.run([sys.executable, "-c", "import json\n" + probe, str(root / "champion")],
                         input=json.dumps({"id": "a", "text": "أحبطت الأجهزة الأمنية مخططا إرهابيا"}),
                         capture_output=True, text=True, check=True)
    assert json.loads(out.stderr) == []  # and nothing else on stderr: no warnings
    assert json.loads(out.stdout)["topic"]
