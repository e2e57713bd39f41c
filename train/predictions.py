"""The prediction contract between a model and every front end (CLI, REST, Spark, Label Studio): what a
model reads, how probabilities become labels, and the one record and table a prediction is written as.
Plain Python and numpy, so the lean scoring path (``train/arrays.py``) imports no scikit-learn or pandas.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ctframe import CtframeError
from ctframe.features.corpus import check_text

# What a model reads for each paragraph: its text, and as evidence (when the family uses it) its article's
# title and its neighbouring paragraphs. The label is still the paragraph's own.
INPUT_COLUMNS = ("text", "title", "context")


def checked_columns(columns: dict[str, list]) -> dict[str, list[str]]:
    """A request's paragraphs as every input column: ``text`` present, each a non-blank string; the optional
    ``title`` and ``context`` strings or null (null and missing become empty); other columns are ignored.
    Bad input raises a CtframeError naming the row."""
    if "text" not in columns:
        raise CtframeError("input must have a 'text' column (one paragraph per row)")
    texts = [check_text(text, f"row {row}") for row, text in enumerate(columns["text"])]
    out = {"text": texts}
    for column in INPUT_COLUMNS[1:]:
        values = columns.get(column, [None] * len(texts))
        for row, value in enumerate(values):
            if not (value is None or isinstance(value, str) or (isinstance(value, float) and math.isnan(value))):
                raise CtframeError(f"row {row}: {column!r} must be a string, got {type(value).__name__}")
        out[column] = [value if isinstance(value, str) else "" for value in values]
    return out


def platt_probabilities(scores: np.ndarray, sigmoids: np.ndarray) -> np.ndarray:
    """A calibrated linear head's class probabilities from its decision values: one Platt sigmoid per
    column (``sigmoids``: rows of slope, intercept); one column gives [1 - p, p], several are normalized
    to sum to 1. Shared by ``PlattCalibrated`` and the array form, so both compute the same numbers."""
    p = 1 / (1 + np.exp(-(scores.reshape(len(scores), -1) * sigmoids[:, 0] + sigmoids[:, 1])))
    if p.shape[1] == 1:
        return np.column_stack([1 - p[:, 0], p[:, 0]])
    total = p.sum(axis=1, keepdims=True)
    return np.divide(p, total, out=np.full_like(p, 1 / p.shape[1]), where=total > 0)


def decide(model, topic_p: np.ndarray, frame_p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Probabilities → (topic labels, 0/1 frame matrix), for any model with ``topics``, ``frames_topic``
    and ``thresholds_``: the most probable topic, and the frames over their thresholds, only under
    ``frames_topic``."""
    topics = np.asarray(model.topics, dtype=object)[topic_p.argmax(axis=1)]
    gate = (topics == model.frames_topic)[:, None]
    return topics, ((frame_p >= model.thresholds_) & gate).astype(int)


@dataclass(frozen=True)
class Prediction:
    """One paragraph's prediction: the contract between a model and every front end (CLI, REST, Spark,
    Label Studio). ``frames`` is empty unless ``topic`` is the schema's frames topic."""

    topic: str
    frames: tuple[str, ...]
    topic_scores: dict[str, float]
    frame_scores: dict[str, float]

    def to_json(self, digits: int = 6) -> dict:
        return {"topic": self.topic, "topic_scores": {k: round(v, digits) for k, v in self.topic_scores.items()},
                "frames": list(self.frames), "frame_scores": {k: round(v, digits) for k, v in self.frame_scores.items()}}


def predict_records(model, X) -> list[Prediction]:
    """A fitted model's predictions for ``X`` (texts, or a frame with ``INPUT_COLUMNS``), one record each."""
    topic_p, frame_p = model.predict_proba(X)
    topics, frames = model.decide(topic_p, frame_p)
    return [Prediction(str(topics[i]), tuple(f for f, on in zip(model.frames, frames[i]) if on),
                       dict(zip(model.topics, map(float, topic_p[i]))), dict(zip(model.frames, map(float, frame_p[i]))))
            for i in range(len(topic_p))]


# The tabular form (MLflow's pyfunc output, Spark's struct): ``topic``, ``frames`` and one probability column
# per label. These two functions are the only places that know the column names.
TOPIC_PREFIX, FRAME_PREFIX = "p_topic_", "p_frame_"


def to_row(prediction: Prediction) -> dict:
    """One prediction in the tabular form, as a JSON-ready row (the REST answer's ``predictions`` items)."""
    return {"topic": prediction.topic, "frames": list(prediction.frames),
            **{f"{TOPIC_PREFIX}{k}": v for k, v in prediction.topic_scores.items()},
            **{f"{FRAME_PREFIX}{k}": v for k, v in prediction.frame_scores.items()}}


def to_frame(predictions: list[Prediction]):
    """Predictions → a DataFrame with ``topic``, ``frames`` and ``p_topic_<label>``/``p_frame_<frame>``."""
    import pandas as pd

    rows = [to_row(p) for p in predictions]
    return pd.DataFrame(rows, columns=list(rows[0]) if rows else ["topic", "frames"])


def from_frame(frame) -> list[Prediction]:
    """The inverse of ``to_frame`` (for a DataFrame, or the records of its JSON form)."""
    rows = frame.to_dict("records") if hasattr(frame, "to_dict") else list(frame)
    return [Prediction(row["topic"], tuple(row["frames"]),
                       {k[len(TOPIC_PREFIX):]: float(v) for k, v in row.items() if k.startswith(TOPIC_PREFIX)},
                       {k[len(FRAME_PREFIX):]: float(v) for k, v in row.items() if k.startswith(FRAME_PREFIX)})
            for row in rows]
