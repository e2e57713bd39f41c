"""Experiments: search-space expansion and validation, a small search end to end against a temporary MLflow
store (children, a failed config, peers, champion, report, compare), and likely-label-error detection."""
import json
import subprocess
import sys

import pytest
import yaml

from conftest import build_corpus, tiny_overrides, write_labels
from ctframe import CtframeError
from ctframe.train.search.compare import differing_params
from ctframe.train.search.experiment import expand, load_experiment


def write_experiment(path, body: dict):
    path.write_text(yaml.safe_dump(body, allow_unicode=True), encoding="utf-8")
    return path


def test_grid_is_every_combination_and_mappings_switch_families(tmp_path):
    path = write_experiment(tmp_path / "x.yaml", {"search": {"space": {
        "features.ngram_range": [[1, 3], [2, 4]], "model": [{"C": 0.1}, {"C": 1.0}, {"family": "fasttext", "dim": 8}]}}})
    base, configs = load_experiment(path)
    assert len(configs) == 6
    fasttext = [c for c in configs if c["model"]["family"] == "fasttext"]
    assert len(fasttext) == 2 and all(c["model"]["dim"] == 8 and "C" not in c["model"] for c in fasttext)
    assert {c["model"]["C"] for c in configs if c["model"]["family"] == "linear_svc"} == {0.1, 1.0}
    assert {tuple(c["features"]["ngram_range"]) for c in configs} == {(1, 3), (2, 4)}


def test_random_search_draws_distinct_reproducible_points():
    search = {"strategy": "random", "budget": 6, "seed": 3,
              "space": {"model.C": {"log_uniform": [0.01, 10]}, "features.analyzer": ["char", "char_wb"]}}
    first, second = expand(search, "x"), expand(search, "x")
    assert first == second and len(first) == 6
    assert len({json.dumps(o, sort_keys=True) for o in first}) == 6
    assert all(0.01 <= o["model"]["C"] <= 10 for o in first)


@pytest.mark.parametrize("body, message", [
    ({"search": {"space": {"model.Cee": [1, 2]}}}, "unknown config key 'model.Cee'"),
    ({"search": {"space": {"model": [{"family": "fasttext", "C": 1.0}]}}}, "search point 0 .* unknown config key 'model.C'"),
    ({"search": {"grid": {"model.C": [1]}}}, "unknown search key"),
    ({"search": {"strategy": "random", "space": {"model.C": [1, 2]}}}, "needs search.budget"),
    ({"search": {"space": {"model.C": 1.0}}}, "must be a non-empty list"),
    ({"search": {"space": {"evaluation.folds": [3, 5]}}}, "varies 'evaluation'"),
    ({"featurez": {"min_df": 1}}, "unknown config key 'featurez'"),
])
def test_bad_experiment_files_name_the_problem(tmp_path, body, message):
    with pytest.raises(CtframeError, match=message):
        load_experiment(write_experiment(tmp_path / "bad.yaml", body))


def test_differing_params_keeps_only_what_varies():
    runs = [{"model.C": "0.5", "features.min_df": "2", "model.family": "linear_svc"},
            {"model.C": "1.0", "features.min_df": "2", "model.family": "linear_svc"},
            {"model.dim": "50", "model.family": "fasttext"}, {"model.dim": "100", "model.family": "fasttext"}]
    assert differing_params(runs) == ["model.C", "model.dim"]
    assert differing_params(runs[:3]) == ["model.C"]
    assert differing_params([runs[0], dict(runs[0]), runs[2]]) == []
    assert differing_params([runs[0], {**runs[1], "features.min_df": "1"}]) == ["features.min_df", "model.C"]


@pytest.fixture(scope="module")
def searched(tmp_path_factory):
    """A 5-config experiment on the tiny corpus: two linear SVCs, a config that fails, fastText, keywords."""
    root = tmp_path_factory.mktemp("experiment")
    write_labels(root / "labels", build_corpus(root / "corpus"))
    body = {**tiny_overrides(root), "search": {"space": {"model": [
        {"C": 0.3}, {"C": 3.0}, {"inner_folds": 40},
        {"family": "fasttext", "dim": 16, "epoch": 10, "lr": 0.05, "bucket": 20000, "inner_folds": 2},
        {"family": "keywords"}]}}}
    path = write_experiment(root / "tiny.yaml", body)
    env = {"MLFLOW_TRACKING_URI": f"sqlite:///{root / 'mlflow.db'}", "PYTHONWARNINGS": "ignore"}
    cli = [sys.executable, "-m", "ctframe.train.cli"]
    run = subprocess.run(cli + ["experiment", "run", str(path), "--jobs", "2", "--export-dir", str(root / "champion")],
                         cwd=root, env={**__import__("os").environ, **env}, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr[-3000:]
    return root, json.loads(run.stdout), cli, env


def test_experiment_logs_children_failures_champion_and_report(searched):
    import mlflow
    from mlflow import MlflowClient

    root, summary, _, env = searched
    assert summary["configs"] == 5 and summary["failed"] == 1 and summary["champion"] is True
    assert (root / "champion" / "MLmodel").exists()
    mlflow.set_tracking_uri(env["MLFLOW_TRACKING_URI"])
    client = MlflowClient()
    parent = client.get_run(summary["parent_run_id"])
    children = client.search_runs([parent.info.experiment_id], f"tags.mlflow.parentRunId = '{parent.info.run_id}'")
    assert len(children) == 5
    failed = [c for c in children if c.info.status == "FAILED"]
    assert len(failed) == 1 and "at least 80 are needed" in failed[0].data.tags["error"]
    assert {c.data.tags["family"] for c in children} == {"linear_svc", "fasttext", "keywords"}
    assert client.get_model_version_by_alias("ctframe", "champion").run_id == summary["best_run_id"]
    artifacts = {a.path for a in client.list_artifacts(parent.info.run_id)}
    assert {"report.html", "outlets.json", "outlets.png", "report"} <= artifacts
    outlets = json.loads(open(mlflow.artifacts.download_artifacts(run_id=parent.info.run_id,
                                                                  artifact_path="outlets.json")).read())
    assert sorted(r["outlet"] for r in outlets) == ["outlet0", "outlet1", "outlet2"]
    report = open(mlflow.artifacts.download_artifacts(run_id=parent.info.run_id, artifact_path="report.html")).read()
    assert report.count("<img src='data:image/png;base64,") == 5 and "keywords" in report


def test_compare_json_lists_every_family_sorted_with_only_differing_params(searched):
    root, summary, cli, env = searched
    import os

    out = subprocess.run(cli + ["compare", "tiny", "--json", "--report", str(root / "report")], cwd=root,
                         env={**os.environ, **env}, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-3000:]
    rows = json.loads(out.stdout)
    assert {r["family"] for r in rows} == {"linear_svc", "fasttext", "keywords"}
    finished = [r for r in rows if r["status"] == "FINISHED"]
    scores = [r["holdout.frames.macro_f1"] for r in finished]
    assert scores == sorted(scores, reverse=True) and rows[-1]["status"] == "FAILED"
    assert "model.C" in rows[0]["params"] and "features.min_df" not in rows[0]["params"]
    for r in finished:
        assert r["fit_seconds"] > 0 and r["paragraphs_per_second"] > 0 and r["model_bytes"] > 0
        assert set(r["holdout_frame_f1"]) == {"prevention", "deradicalization", "international_cooperation"}
    assert (root / "report" / "report.html").stat().st_size > 10_000
    table = subprocess.run(cli + ["compare"], cwd=root, env={**os.environ, **env}, capture_output=True, text=True)
    assert table.returncode == 0 and "fasttext" in table.stdout and "FAILED" in table.stdout


def test_compare_unknown_experiment_is_a_clear_error(searched):
    root, _, cli, env = searched
    import os

    out = subprocess.run(cli + ["compare", "nope"], cwd=root, env={**os.environ, **env}, capture_output=True,
                         text=True)
    assert out.returncode == 2 and "no experiment run named 'nope' (known: tiny)" in out.stderr


def test_suspects_finds_a_flipped_label(tmp_path):
    from ctframe.train.config import load_config
    from ctframe.train.dataset import load_dataset
    from ctframe.train.schema import load_schema
    from ctframe.train.labeling.suspects import find_suspects

    truth = build_corpus(tmp_path / "corpus", n_articles=90)
    flipped = next(i for i, t in enumerate(truth) if t["topic"] == "sports")
    truth[flipped] = {**truth[flipped], "topic": "economy"}
    write_labels(tmp_path / "labels", truth)
    config = load_config(None, tiny_overrides(tmp_path))
    schema = load_schema()
    data = load_dataset(schema, tmp_path / "labels", tmp_path / "corpus")
    suspects = find_suspects(config, schema, data, n=5)
    assert truth[flipped]["ref"] in [p.id for p, _ in suspects]
    why = dict((p.id, w) for p, w in suspects)[truth[flipped]["ref"]]
    assert "labeled economy, model says sports" in why


def test_promote_a_child_run_registers_it_and_moves_the_champion(searched):
    import os

    import mlflow
    from mlflow import MlflowClient

    root, summary, cli, env = searched
    rows = json.loads(subprocess.run(cli + ["compare", "tiny", "--json"], cwd=root, env={**os.environ, **env},
                                     capture_output=True, text=True, check=True).stdout)
    other = next(r for r in rows if r["family"] == "linear_svc" and r["status"] == "FINISHED"
                 and r["run_id"] != summary["best_run_id"])
    keywords = next(r for r in rows if r["family"] == "keywords")
    refused = subprocess.run(cli + ["promote", keywords["run_id"], "--dest", str(root / "promoted")], cwd=root, env={**os.environ, **env},
                             capture_output=True, text=True)
    assert refused.returncode == 2 and "is a peer for comparison and is not exported" in refused.stderr
    moved = subprocess.run(cli + ["promote", other["run_id"], "--dest", str(root / "promoted")], cwd=root, env={**os.environ, **env},
                           capture_output=True, text=True)
    assert moved.returncode == 0, moved.stderr[-2000:]
    mlflow.set_tracking_uri(env["MLFLOW_TRACKING_URI"])
    assert MlflowClient().get_model_version_by_alias("ctframe", "champion").run_id == other["run_id"]
    assert json.loads((root / "promoted" / "champion.json").read_text())["run_id"] == other["run_id"]


def test_compare_table_ranks_by_the_selection_rule_with_failures_last():
    from ctframe.train.search.compare import format_table
    from ctframe.train.tracking import selection_key

    def row(name, holdout, cv, status="FINISHED", error=None):
        return {"run_id": name, "family": "linear_svc", "status": status, "error": error, "params": {"model.C": name},
                "cv.topic.macro_f1": cv, "cv.frames.macro_f1": 0.7, "holdout.topic.macro_f1": 0.8,
                "holdout.frames.macro_f1": holdout, "test.topic.macro_f1": 0.85, "test.frames.macro_f1": 0.6,
                "fit_seconds": 3.0, "paragraphs_per_second": 1234.0, "model_bytes": 2e6,
                "holdout_frame_f1": {"prevention": 0.5, "deradicalization": 0.6, "international_cooperation": 0.7}}

    rows = [row("a", 0.61, 0.80), row("failed", None, None, "FAILED", "ValueError: boom"), row("b", 0.65, 0.70),
            row("c", 0.61, 0.90)]
    rows.sort(key=selection_key, reverse=True)
    assert [r["run_id"] for r in rows] == ["b", "c", "a", "failed"]  # CV topic breaks the tie; failures last
    lines = format_table(rows).splitlines()
    assert lines[0].split()[:3] == ["#", "family", "params"] and "test frames" in lines[0]
    assert "C=b" in lines[1] and "0.650" in lines[1] and "1,234" in lines[1] and "2.0" in lines[1]
    assert "FAILED: ValueError: boom" in lines[4]
