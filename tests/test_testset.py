"""The frozen test set: it never enters training, the queue or selection; it is labeled by the majority of its
readings and reported. Also the learning curve and the context featurizer, on tiny data."""
import json

import mlflow
import numpy as np
import pytest
import yaml
from mlflow import MlflowClient

from conftest import SENTENCES, build_corpus, tiny_overrides, write_labels
from ctframe import CtframeError
from ctframe.train import families, tracking
from ctframe.train.config import load_config
from ctframe.train.dataset import load_dataset, load_test_set
from ctframe.train.labeling.curve import learning_curve
from ctframe.train.search.compare import latest_curves
from ctframe.train.labeling.queue import queue
from ctframe.train.schema import load_schema

TEST_DATE = "2015-08-10"


@pytest.fixture
def with_test_set(tmp_path):
    """A tiny corpus whose third date is the test date; every paragraph labeled; the test date's
    paragraphs sampled and read three times (the third reader flips one topic: the majority wins)."""
    truth = build_corpus(tmp_path / "corpus", test_date=TEST_DATE)
    labels = tmp_path / "labels"
    write_labels(labels / "annotations", truth)
    test = [t for t in truth if t["date"] == TEST_DATE]
    (labels / "test").mkdir()
    (labels / "test" / "design.yaml").write_text(yaml.safe_dump({"dates": [TEST_DATE], "seed": 0,
                                                                 "strata": {"uniform": len(test)}}))
    (labels / "test" / "sample.jsonl").write_text("".join(
        json.dumps({"ref": t["ref"], "sha1": t["sha1"], "stratum": "uniform"}) + "\n" for t in test))
    write_labels(labels / "test" / "readings", test, "r1")
    write_labels(labels / "test" / "readings", test, "r2")
    flipped = [dict(t, topic="sports", frames=[]) if i == 0 else t for i, t in enumerate(test)]
    write_labels(labels / "test" / "readings", flipped, "r3")
    return tmp_path, truth, test


def test_test_dates_and_texts_never_enter_training(with_test_set, schema):
    root, truth, test = with_test_set
    data = load_dataset(schema, root / "labels" / "annotations", root / "corpus")
    assert TEST_DATE not in set(data.dates) and len(data.texts) == len(truth) - len(test)
    # a training-date paragraph whose text is in the test sample is kept out too
    other = next(t for t in truth if t["date"] != TEST_DATE)
    sample = root / "labels" / "test" / "sample.jsonl"
    sample.write_text(sample.read_text() + json.dumps({"ref": "snn:x#0", "sha1": other["sha1"], "stratum": "uniform"}) + "\n")
    data = load_dataset(schema, root / "labels" / "annotations", root / "corpus")
    assert other["ref"] not in {p.id for p in data.paragraphs}


def test_test_set_is_the_majority_of_its_readings(with_test_set, schema):
    root, _, test = with_test_set
    data = load_test_set(schema, root / "labels" / "test", root / "corpus")
    truth = {t["ref"]: t for t in test}
    assert len(data.texts) == len(test) and set(data.strata) == {"uniform"}
    assert all(topic == truth[p.id]["topic"] for p, topic in zip(data.paragraphs, data.topics))
    for reader in ("r1", "r2", "r3"):  # the first sampled paragraph loses every reading
        write_labels(root / "labels" / "test" / "readings", test[1:], reader)
    with pytest.raises(CtframeError, match="no reading yet"):
        load_test_set(schema, root / "labels" / "test", root / "corpus")


def test_queue_never_proposes_test_paragraphs(with_test_set):
    root, truth, _ = with_test_set
    (root / "labels" / "annotations" / "tester.jsonl").write_text("")  # nothing labeled: all are candidates
    out = root / "batch.jsonl"
    queue(str(out), 500, labels_dir=root / "labels" / "annotations", corpus=root / "corpus", random_share=1.0)
    dates = {row["date"] for row in map(json.loads, out.read_text().splitlines())}
    assert dates and TEST_DATE not in dates


@pytest.mark.slow
def test_training_reports_the_test_set_but_never_selects_on_it(with_test_set, monkeypatch):
    root, _, test = with_test_set
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{root / 'mlflow.db'}")
    monkeypatch.chdir(root)
    from ctframe.train.fit import train

    overrides = {**tiny_overrides(root), "labels": {"path": str(root / "labels" / "annotations")}}
    summary = train(None, overrides, export_dir=root / "champion", log=lambda m: None)
    assert "test.frames.macro_f1" in summary and "holdout.frames.macro_f1" in summary
    # whatever the test set says, fitting, thresholds and the figures selection reads stay the same
    from ctframe.train.dataset import dataset_for, test_set_for
    from ctframe.train.fit import evaluate

    config, schema = load_config(None, overrides), load_schema()
    data, test_data = dataset_for(config, schema), test_set_for(config, schema)
    flipped = test_data.subset(np.ones(len(test_data.texts), bool))
    flipped.topics = np.array(["sports"] * len(test_data.texts))
    flipped.frames = [()] * len(test_data.texts)
    one = evaluate(config, schema, data, test_data, progress=False)
    other = evaluate(config, schema, data, flipped, progress=False)
    kept = [k for k in one.metrics if k.startswith(("cv.", "holdout."))]
    assert kept and all(one.metrics[k] == other.metrics[k] for k in kept)
    assert one.metrics["test.topic.macro_f1"] != other.metrics["test.topic.macro_f1"]
    assert tracking.selection_key(one.metrics) == tracking.selection_key(other.metrics)
    from ctframe.train.evaluate import evaluate_exported

    report = evaluate_exported(root / "champion", overrides=overrides)
    assert report["paragraphs"] == len(test) and "uniform" in report and "test.frames.macro_f1" in report["all"]


@pytest.mark.slow
def test_learning_curve_on_a_tiny_set(tmp_path, monkeypatch):
    truth = build_corpus(tmp_path / "corpus")
    write_labels(tmp_path / "labels", truth)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    result = learning_curve(None, overrides=tiny_overrides(tmp_path), output=tmp_path / "curve.png",
                            fractions=[0.5, 1.0], log=lambda m: None)
    sizes = [r["labels"] for r in result["rows"]]
    assert len(sizes) == 2 and 0 < sizes[0] < sizes[1]
    assert (tmp_path / "curve.png").read_bytes()[:4] == b"\x89PNG" and "holdout" in result["table"]
    mlflow.set_tracking_uri(f"sqlite:///{tmp_path / 'mlflow.db'}")
    runs = MlflowClient().search_runs([e.experiment_id for e in MlflowClient().search_experiments()],
                                      "tags.role = 'curve'")
    assert len(runs) == 1 and "curve.holdout.frames.macro_f1" in runs[0].data.metrics
    learning_curve(None, overrides={**tiny_overrides(tmp_path), "model": {"family": "keywords"}},
                   output=tmp_path / "keywords.png", fractions=[1.0], log=lambda m: None)
    learning_curve(None, overrides=tiny_overrides(tmp_path), output=tmp_path / "again.png", fractions=[1.0],
                   log=lambda m: None)
    latest = latest_curves(MlflowClient(), runs[0].info.experiment_id)  # the report shows one curve per family
    assert set(latest) == {"linear_svc", "keywords"} and latest["linear_svc"].info.run_id != runs[0].info.run_id


def test_context_blocks_are_evidence_and_survive_export(tmp_path):
    truth = build_corpus(tmp_path / "corpus")
    schema = load_schema()
    data = load_dataset(schema, _write(tmp_path, truth), tmp_path / "corpus")
    config = load_config(None, {"features": {"min_df": 1, "title_weight": 0.5, "context_weight": 0.3}})
    model = families.build_model(config, schema).fit(data.inputs, data.topics, data.frames, groups=data.groups)
    assert [name for name, *_ in model.features_.transformers_] == ["text", "title", "context"]
    text = SENTENCES["politics"][0]
    plain = model.predict_proba([text])[0]
    framed = model.predict_proba({"text": [text], "title": [SENTENCES["prevention"][0]],
                                  "context": [SENTENCES["prevention"][1]]})[0]
    terror = schema.topics.index("terrorism")
    assert framed[0, terror] > plain[0, terror]  # the context raised terrorism, the text is the same
    files = model.save(tmp_path)
    loaded = families.load_model(files[0])
    assert np.allclose(loaded.predict_proba(data.inputs[:20])[1], model.predict_proba(data.inputs[:20])[1])


def _write(root, truth):
    write_labels(root / "labels", truth)
    return root / "labels"


def test_the_test_sample_is_drawn_by_its_design_once(tmp_path, schema):
    from ctframe.train.dataset import corpus_index, load_test_design
    from ctframe.train.labeling.testset import draw_test_sample, sample_test_set

    build_corpus(tmp_path / "corpus", test_date=TEST_DATE)
    test = tmp_path / "test"
    test.mkdir()
    (test / "design.yaml").write_text(yaml.safe_dump({"dates": [TEST_DATE], "seed": 3,
                                                      "strata": {"keyword": 4, "uniform": 6}}))
    drawn = draw_test_sample(test, str(tmp_path / "batch.jsonl"), corpus=tmp_path / "corpus")
    sample = [json.loads(line) for line in (test / "sample.jsonl").read_text().splitlines()]
    index = corpus_index(tmp_path / "corpus")
    assert drawn == len(sample) == 10 and all(index[r["ref"]].date == TEST_DATE for r in sample)
    assert [r["stratum"] for r in sample].count("keyword") == 4 and len({r["ref"] for r in sample}) == 10
    again = sample_test_set(list(index.values()), schema, load_test_design(test))
    assert [(p.id, s) for p, s in again] == [(r["ref"], r["stratum"]) for r in sample]  # reproducible
    with pytest.raises(CtframeError, match="drawn already"):
        draw_test_sample(test, str(tmp_path / "again.jsonl"), corpus=tmp_path / "corpus")


def test_queue_from_an_archive_takes_only_its_paragraphs(tmp_path):
    truth = build_corpus(tmp_path / "corpus")
    (tmp_path / "labels").mkdir()
    out = tmp_path / "batch.jsonl"
    queue(str(out), 500, labels_dir=tmp_path / "labels", corpus=tmp_path / "corpus", random_share=1.0,
          from_archives=[tmp_path / "corpus" / "2015-08-09.zip"])
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert {r["date"] for r in rows} == {"2015-08-09"} and len(rows) == sum(t["date"] == "2015-08-09" for t in truth)
    elsewhere = tmp_path / "elsewhere.zip"
    elsewhere.write_bytes((tmp_path / "corpus" / "2015-08-09.zip").read_bytes())
    with pytest.raises(CtframeError, match="not a file of the corpus"):
        queue(str(out), 5, labels_dir=tmp_path / "labels", corpus=tmp_path / "corpus", from_archives=[elsewhere])
