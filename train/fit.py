"""`ctframe train`: the whole training path, top to bottom.

config → labeled dataset → grouped CV on the development dates → temporal holdout → final fit on every
label → MLflow run (params, metrics, plots, data fingerprint, git commit) → registered model → champion
rule → ``models/champion``.
"""
from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path

import mlflow
from mlflow import MlflowClient
from sklearn.base import clone

from train import tracking
from train.config import flatten, load_config
from train.dataset import load_dataset
from train.evaluate import cross_validate, holdout_mask, metrics, plot_confusion, predict_split
from train.model import CTFrameModel
from train.pyfunc import predict_frame, save_model
from train.schema import load_schema


def train(config_path=None, overrides: dict | None = None, register: bool = True,
          export_dir: Path = tracking.CHAMPION_DIR, log=print) -> dict:
    """Fit, evaluate, log and (when ``register``) register and maybe promote one configuration."""
    config = load_config(config_path, overrides)
    schema = load_schema()
    data = load_dataset(schema, config["labels"]["path"], config["corpus"]["path"], config["labels"]["skip_stale"])
    log(f"{len(data.texts)} labeled paragraphs from {len(set(data.groups))} article groups")
    model = CTFrameModel.from_config(config, schema)
    topics, frames = list(schema.topics), list(schema.frames)

    held = holdout_mask(data, config["evaluation"]["holdout_dates"])
    development, holdout = data.subset(~held), data.subset(held)
    results = {}
    cv = cross_validate(model, development, config["evaluation"]["folds"])
    results.update(metrics(cv, topics, frames, "cv"))
    holdout_pred = predict_split(model, development, holdout) if len(holdout.texts) else None
    if holdout_pred is not None:
        log(f"holdout: {len(holdout.texts)} paragraphs dated {', '.join(config['evaluation']['holdout_dates'])}")
        results.update(metrics(holdout_pred, topics, frames, "holdout"))

    started = time.perf_counter()
    final = clone(model).fit(data.texts, data.topics, data.frames, groups=data.groups)
    results["fit_seconds"] = time.perf_counter() - started

    tracking.start(config["mlflow"]["experiment"])
    with mlflow.start_run() as run, tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        mlflow.log_params(flatten(config))
        mlflow.set_tags({"data_fingerprint": data.fingerprint, "git_commit": tracking.git_commit(),
                         "family": config["model"]["family"], "labeled_paragraphs": len(data.texts)})
        model_file = save_model(final, tmp / "ctframe.skops")
        results["model_bytes"] = model_file.stat().st_size
        mlflow.log_metrics(results)
        mlflow.log_artifact(str(plot_confusion(cv, topics, "Topic, grouped CV (out of fold)", tmp / "confusion_cv.png")))
        if holdout_pred is not None:
            mlflow.log_artifact(str(plot_confusion(holdout_pred, topics, "Topic, temporal holdout",
                                                   tmp / "confusion_holdout.png")))
        (tmp / "thresholds.json").write_text(json.dumps(dict(zip(frames, final.thresholds_.tolist())), indent=2))
        mlflow.log_artifact(str(tmp / "thresholds.json"))
        summary = {"run_id": run.info.run_id, **{k: results[k] for k in sorted(results) if "macro" in k}}
        if register:
            name = config["mlflow"]["registered_model"]
            version = tracking.log_model(model_file, name, predict_frame(final, list(tracking.INPUT_EXAMPLE.text)))
            promote, why = tracking.should_promote(MlflowClient(), name, results, data.fingerprint)
            summary.update(version=version, champion=promote, reason=why)
            if promote:
                summary["exported"] = str(tracking.promote(name, version, Path(export_dir)))
            elif not Path(export_dir).exists():
                summary["exported"] = str(tracking.export_champion(name, Path(export_dir)))
    return summary
