"""`ctframe train`: the whole training path, top to bottom.

config → labeled dataset → grouped CV on the development dates → temporal holdout (and the frozen test
set, reported only) → MLflow run (params, metrics, plots, predictions, data fingerprint, git commit) → final
fit on every label → registered model → champion rule → ``models/champion``. ``ctframe experiment run``
reuses ``evaluate``, ``log_evaluation`` and ``finalize`` for each config of a search.
"""
from __future__ import annotations

import json
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import mlflow
import numpy as np
import yaml
from mlflow import MlflowClient
from sklearn.base import clone

from ctframe import CtframeError
from ctframe.train import families, tracking
from ctframe.train.config import load_config, model_params
from ctframe.train.dataset import Dataset, current_fingerprint, dataset_for, test_set_for
from ctframe.train.evaluate import (Predictions, cross_validate, holdout_mask, metrics, per_date_precision,
                                    plot_confusion, predict)
from ctframe.train.evidence import render_page, scored_articles
from ctframe.train.predictions import predict_records, to_frame
from ctframe.train.schema import Schema, load_schema


@dataclass
class Evaluation:
    """One config's out-of-fold, holdout and test predictions and its metrics (F1s, fit time, speed, size)."""

    config: dict
    metrics: dict[str, float]
    cv: Predictions
    holdout: Predictions | None
    test: Predictions | None = None
    holdout_view: str | None = None  # an HTML page of holdout paragraphs with their evidence
    representations: list[Path] = field(default_factory=list)  # corpus-learned inputs (``FrameModel.representations``)


def model_bytes(model) -> int:
    """Size of the fitted model as its family stores it."""
    with tempfile.TemporaryDirectory() as tmp:
        return sum(f.stat().st_size for f in model.save(Path(tmp)))


def evaluate(config: dict, schema: Schema, data: Dataset, test: Dataset | None = None,
             progress: bool = True) -> Evaluation:
    """Grouped CV on the development dates, then a fit on all of them scored on the holdout dates and on
    the frozen ``test`` set (reported, never used to choose). Also measured: that fit's duration, its
    scoring speed over every labeled text, its stored size."""
    model = families.build_model(config, schema)
    topics, frames = list(schema.topics), list(schema.frames)
    held = holdout_mask(data, config["evaluation"]["holdout_dates"])
    development, holdout = data.subset(~held), data.subset(held)
    cv = cross_validate(model, development, config["evaluation"]["folds"], progress)
    results = metrics(cv, topics, frames, "cv")
    started = time.perf_counter()
    fitted = clone(model).fit(development.inputs, development.topics, development.frames, groups=development.groups)
    results["fit_seconds"] = time.perf_counter() - started
    holdout_pred = predict(fitted, holdout) if len(holdout.texts) else None
    if holdout_pred is not None:
        results.update(metrics(holdout_pred, topics, frames, "holdout"))
        results.update(per_date_precision(holdout_pred, holdout.dates, frames, "holdout"))
    test_pred = predict(fitted, test) if test is not None else None
    if test_pred is not None:
        results.update(metrics(test_pred, topics, frames, "test"))
    started = time.perf_counter()
    fitted.predict_proba(data.inputs)
    results["paragraphs_per_second"] = len(data.texts) / (time.perf_counter() - started)
    results["model_bytes"] = model_bytes(fitted)
    view = holdout_view(fitted, holdout) if len(holdout.texts) else None
    return Evaluation(config, results, cv, holdout_pred, test_pred, view, fitted.representations())


def holdout_view(fitted, holdout: Dataset, articles: int = 8, seed: int = 0) -> str:
    """The article view of a seeded sample of holdout articles (their labeled paragraphs, in order), so
    comparing runs shows real paragraphs and the model's evidence, not only numbers."""
    ids = sorted({p.article_id for p in holdout.paragraphs})
    chosen = set(np.random.default_rng(seed).permutation(ids)[:articles])
    rows = sorted((p.article_id, p.index, p.title, p.text, context)
                  for p, context in zip(holdout.paragraphs, holdout.contexts or [""] * len(holdout.texts))
                  if p.article_id in chosen)
    return render_page(scored_articles(fitted, [(a, title, text, ctx) for a, _, title, text, ctx in rows]),
                       list(fitted.frames))


def log_evaluation(evaluation: Evaluation, data: Dataset, folder: Path) -> None:
    """Log an evaluation into the active MLflow run: params, metrics, tags, config and predictions."""
    config = evaluation.config
    mlflow.log_params({**model_params(config), "evaluation.folds": config["evaluation"]["folds"]})
    mlflow.set_tags({"data_fingerprint": data.fingerprint, "git_commit": tracking.git_commit(),
                     "family": config["model"]["family"], "labeled_paragraphs": len(data.texts)})
    mlflow.log_metrics(evaluation.metrics)
    (folder / "config.yaml").write_text(yaml.safe_dump(config, allow_unicode=True, sort_keys=False))
    mlflow.log_artifact(str(folder / "config.yaml"))
    arrays = {f"cv_{name}": value for name, value in vars(evaluation.cv).items()}
    for split in ("holdout", "test"):
        if getattr(evaluation, split) is not None:
            arrays.update({f"{split}_{name}": value for name, value in vars(getattr(evaluation, split)).items()})
    if evaluation.holdout_view is not None:
        (folder / "holdout_view.html").write_text(evaluation.holdout_view, encoding="utf-8")
        mlflow.log_artifact(str(folder / "holdout_view.html"))
    np.savez_compressed(folder / "predictions.npz", **{k: v.astype(str) if v.dtype == object else v
                                                      for k, v in arrays.items()})
    mlflow.log_artifact(str(folder / "predictions.npz"))
    for path in evaluation.representations:
        mlflow.log_artifact(str(path), artifact_path="representations")


def log_confusions(evaluation: Evaluation, topics: list[str], folder: Path) -> None:
    mlflow.log_artifact(str(plot_confusion(evaluation.cv, topics, "Topic, grouped CV (out of fold)",
                                           folder / "confusion_cv.png")))
    if evaluation.holdout is not None:
        mlflow.log_artifact(str(plot_confusion(evaluation.holdout, topics, "Topic, temporal holdout",
                                               folder / "confusion_holdout.png")))


def fit_and_register(config: dict, schema: Schema, data: Dataset, folder: Path, log=print) -> str:
    """Fit the config on every label; log the model in the active run and register it. → the version."""
    family = families.get(config["model"]["family"])
    if not family.exportable:
        raise CtframeError(f"family {family.name!r} is a peer for comparison and is not exported "
                           f"(exportable: {', '.join(families.exportable())})")
    log(f"final fit on all {len(data.texts)} labeled paragraphs")
    final = family.build(config, schema).fit(data.inputs, data.topics, data.frames, groups=data.groups)
    model_files = final.save(folder)
    (folder / "thresholds.json").write_text(json.dumps(dict(zip(schema.frames, final.thresholds_.tolist())), indent=2))
    mlflow.log_artifact(str(folder / "thresholds.json"))
    example = to_frame(predict_records(final, list(tracking.INPUT_EXAMPLE.text)))
    return tracking.log_model(model_files, config["mlflow"]["registered_model"], example)


def finalize(config: dict, schema: Schema, data: Dataset, run_metrics: dict, folder: Path,
             export_dir: Path = tracking.CHAMPION_DIR, log=print) -> dict:
    """Fit and register the config in the active run, then apply the champion rule (exporting a new champion)."""
    name = config["mlflow"]["registered_model"]
    version = fit_and_register(config, schema, data, folder, log)
    promoted, why = tracking.promote_if_better(name, version, run_metrics, data.fingerprint, Path(export_dir),
                                               current_fingerprint=lambda: current_fingerprint(config))
    return {"version": version, "champion": promoted, "reason": why, "exported": str(export_dir)}


def register_run(run_id: str, log=print) -> str:
    """Register a logged run that has no model yet (an experiment's child run), for a manual promotion:
    its logged config is fitted on every label, provided the labels and corpus are those it was evaluated on."""
    run = MlflowClient().get_run(run_id)
    config = load_config(yaml.safe_load(Path(mlflow.artifacts.download_artifacts(
        run_id=run_id, artifact_path="config.yaml")).read_text(encoding="utf-8")))
    schema = load_schema(config["labels"]["schema"])
    data = dataset_for(config, schema)
    if data.fingerprint != run.data.tags.get("data_fingerprint"):
        raise CtframeError(f"run {run_id} was evaluated on other labels or corpus; its metrics would not "
                           "describe the model fitted now (train its config again instead)")
    with mlflow.start_run(run_id=run_id), tempfile.TemporaryDirectory() as tmp:
        return fit_and_register(config, schema, data, Path(tmp), log)


def promote_run(run_id: str, *, model_name: str = "ctframe", experiment: str = "ctframe",
                dest: Path = tracking.CHAMPION_DIR, log=print) -> Path:
    """Make the model registered from ``run_id`` the champion (registering it first when the run has none,
    as an experiment's child run) and export it to ``dest``."""
    tracking.start(experiment)
    version = tracking.registered_version(model_name, run_id) or register_run(run_id, log)
    return tracking.promote(model_name, version, Path(dest))


def train(config_path=None, overrides: dict | None = None, register: bool = True,
          export_dir: Path = tracking.CHAMPION_DIR, log=print) -> dict:
    """Fit, evaluate, log and (when ``register``) register and maybe promote one configuration."""
    config = load_config(config_path, overrides)
    schema = load_schema(config["labels"]["schema"])
    data = dataset_for(config, schema)
    test = test_set_for(config, schema)
    log(f"{len(data.texts)} labeled paragraphs from {len(set(data.groups))} article groups"
        + (f"; frozen test set: {len(test.texts)} paragraphs (reported, never used to choose)" if test else ""))
    evaluation = evaluate(config, schema, data, test)
    tracking.start(config["mlflow"]["experiment"])
    with mlflow.start_run() as run, tempfile.TemporaryDirectory() as tmp:
        mlflow.set_tag("role", "train")
        log_evaluation(evaluation, data, Path(tmp))
        log_confusions(evaluation, list(schema.topics), Path(tmp))
        summary = {"run_id": run.info.run_id,
                   **{k: v for k, v in sorted(evaluation.metrics.items()) if "macro" in k}}
        if register:
            summary.update(finalize(config, schema, data, evaluation.metrics, Path(tmp), export_dir, log))
    return summary
