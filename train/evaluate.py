"""Grouped cross-validation, temporal holdout, per-label metrics and confusion-matrix plots."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from sklearn.base import clone  # noqa: E402
from sklearn.metrics import ConfusionMatrixDisplay, precision_recall_fscore_support  # noqa: E402
from sklearn.model_selection import GroupKFold  # noqa: E402
from tqdm import tqdm  # noqa: E402

from ctframe.train.dataset import Dataset  # noqa: E402
from ctframe.train.model import FrameModel  # noqa: E402


@dataclass
class Predictions:
    """Predictions for a set of paragraphs, aligned with their true labels."""

    true_topics: np.ndarray
    true_frames: np.ndarray
    topics: np.ndarray
    frames: np.ndarray
    topic_p: np.ndarray
    frame_p: np.ndarray


def predict(fitted: FrameModel, test: Dataset) -> Predictions:
    topic_p, frame_p = fitted.predict_proba(test.inputs)
    topics, frames = fitted.decide(topic_p, frame_p)
    return Predictions(test.topics, fitted.frame_matrix(test.frames), topics, frames, topic_p, frame_p)


def predict_split(model: FrameModel, train: Dataset, test: Dataset) -> Predictions:
    return predict(clone(model).fit(train.inputs, train.topics, train.frames, groups=train.groups), test)


def cross_validate(model: FrameModel, data: Dataset, folds: int, progress: bool = True) -> Predictions:
    """Out-of-fold predictions; no article (nor a duplicate of its paragraphs) is on both sides."""
    parts = []
    order = []
    splits = list(GroupKFold(n_splits=folds).split(data.texts, groups=data.groups))
    for train_idx, test_idx in tqdm(splits, desc="cross-validation", unit="fold", disable=not progress):
        train_mask = np.zeros(len(data.texts), bool)
        train_mask[train_idx] = True
        parts.append(predict_split(model, data.subset(train_mask), data.subset(~train_mask)))
        order.append(np.flatnonzero(~train_mask))
    inverse = np.argsort(np.concatenate(order))
    return Predictions(*(np.concatenate([getattr(p, f) for p in parts])[inverse]
                         for f in Predictions.__dataclass_fields__))


def holdout_mask(data: Dataset, holdout_dates: list[str]) -> np.ndarray:
    return np.isin(data.dates, list(holdout_dates))


def metrics(pred: Predictions, topics: list[str], frames: list[str], prefix: str) -> dict[str, float]:
    """Per-label precision/recall/F1 plus macro and micro averages, as flat MLflow metric names."""
    out: dict[str, float] = {}
    p, r, f, s = precision_recall_fscore_support(pred.true_topics, pred.topics, labels=topics, zero_division=0)
    for k, label in enumerate(topics):
        out.update({f"{prefix}.topic.{label}.precision": p[k], f"{prefix}.topic.{label}.recall": r[k],
                    f"{prefix}.topic.{label}.f1": f[k], f"{prefix}.topic.{label}.support": s[k]})
    present = s > 0
    out[f"{prefix}.topic.macro_f1"] = float(f[present].mean())
    out[f"{prefix}.topic.micro_f1"] = float((pred.true_topics == pred.topics).mean())
    if frames:
        p, r, f, s = precision_recall_fscore_support(pred.true_frames, pred.frames, zero_division=0)
        for j, frame in enumerate(frames):
            out.update({f"{prefix}.frames.{frame}.precision": p[j], f"{prefix}.frames.{frame}.recall": r[j],
                        f"{prefix}.frames.{frame}.f1": f[j], f"{prefix}.frames.{frame}.support": s[j]})
        out[f"{prefix}.frames.macro_f1"] = float(f.mean())
        _, _, micro, _ = precision_recall_fscore_support(pred.true_frames, pred.frames, average="micro",
                                                         zero_division=0)
        out[f"{prefix}.frames.micro_f1"] = float(micro)
    return {k: float(v) for k, v in out.items()}


def per_date_precision(pred: Predictions, dates: np.ndarray, frames: list[str], prefix: str) -> dict[str, float]:
    """Frame precision and predicted share on each date: does a day with a different prevalence flood the
    output with false positives? (``<prefix>.date.<date>.frames.<frame>.precision`` / ``.predicted_share``)"""
    out = {}
    for date in sorted(set(dates)):
        on = dates == date
        for j, frame in enumerate(frames):
            predicted = pred.frames[on, j].astype(bool)
            hits = pred.true_frames[on, j].astype(bool) & predicted
            key = f"{prefix}.date.{date}.frames.{frame}"
            out[f"{key}.precision"] = float(hits.sum() / predicted.sum()) if predicted.any() else 1.0
            out[f"{key}.predicted_share"] = float(predicted.mean())
            out[f"{key}.true_share"] = float(pred.true_frames[on, j].mean())
    return out


def plot_confusion(pred: Predictions, topics: list[str], title: str, path: Path) -> Path:
    """Topic confusion matrix as a PNG (rows: true labels; cells: counts)."""
    fig, ax = plt.subplots(figsize=(7, 6))
    ConfusionMatrixDisplay.from_predictions(pred.true_topics, pred.topics, labels=topics, ax=ax,
                                            xticks_rotation=45, colorbar=False)
    ax.set_title(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def evaluate_exported(model_dir, *, config_path=None, overrides: dict | None = None) -> dict:
    """Score an exported model on the frozen test set: metrics overall and per sampling stratum, and a
    table. Only the test set is unseen by an exported model (it was fitted on every training label)."""
    from ctframe import CtframeError
    from ctframe.train.config import load_config
    from ctframe.train.dataset import test_set_for
    from ctframe.train.families import load_exported
    from ctframe.train.schema import load_schema

    config = load_config(config_path, overrides)
    schema = load_schema(config["labels"]["schema"])
    test = test_set_for(config, schema)
    if test is None:
        raise CtframeError("no frozen test set beside the labels (labels/test: design.yaml, sample.jsonl, readings/)")
    model = load_exported(model_dir)
    if (list(model.topics), list(model.frames)) != (list(schema.topics), list(schema.frames)):
        raise CtframeError(f"{model_dir} was trained on other labels ({model.topics}, {model.frames}) than the "
                           f"schema names ({schema.topics}, {schema.frames})")
    pred = predict(model, test)
    result = {"model": str(model_dir), "paragraphs": len(test.texts),
              "all": metrics(pred, list(model.topics), list(model.frames), "test")}
    for stratum in sorted(set(test.strata)):
        mask = test.strata == stratum
        part = Predictions(*(getattr(pred, f)[mask] for f in Predictions.__dataclass_fields__))
        result[stratum] = metrics(part, list(model.topics), list(model.frames), "test")
        result[stratum]["paragraphs"] = int(mask.sum())
    rows = [("all", result["paragraphs"], result["all"])] + [(s, result[s]["paragraphs"], result[s])
                                                              for s in sorted(set(test.strata))]
    header = f"{'test set':<10}{'n':>6}{'topic':>8}{'frames':>8}" + "".join(f"{f[:14]:>16}" for f in model.frames)
    lines = [header] + [f"{name:<10}{n:>6}{m['test.topic.macro_f1']:>8.3f}{m['test.frames.macro_f1']:>8.3f}"
                        + "".join(f"{m[f'test.frames.{f}.f1']:>16.3f}" for f in model.frames) for name, n, m in rows]
    result["table"] = "\n".join(lines) + "\n(macro-F1 for topic and frames; F1 per frame)"
    return result
