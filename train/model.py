"""What every model family shares: the ``FrameModel`` contract, the calibrated linear head and the
F1-optimal threshold. The families themselves live in ``train/families/``, one module each.

A ``FrameModel`` is fitted on texts, topics and frame lists, and turns texts into (topic probabilities,
frame probabilities); ``decide`` turns those into labels the same way for every family.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import precision_recall_curve
from sklearn.model_selection import GroupKFold, cross_val_predict

from ctframe import CtframeError
from ctframe.train.predictions import INPUT_COLUMNS, decide, platt_probabilities


def as_frame(X):
    """Model input as a DataFrame with every input column: a list of texts (no context), or a DataFrame
    / mapping of columns where ``title`` and ``context`` may be missing (empty)."""
    import pandas as pd

    if isinstance(X, pd.DataFrame):
        frame = X
    elif isinstance(X, dict):
        frame = pd.DataFrame(X)
    else:
        frame = pd.DataFrame({"text": list(X)})
    missing = [c for c in INPUT_COLUMNS if c not in frame.columns]
    if missing:
        frame = frame.assign(**{c: "" for c in missing})
    return frame[list(INPUT_COLUMNS)].fillna("")


def texts_of(X) -> list[str]:
    """Just the paragraph texts of a model input."""
    return list(X["text"]) if hasattr(X, "columns") or isinstance(X, dict) else list(X)


def best_f1_threshold(y_true: np.ndarray, proba: np.ndarray) -> float:
    """The probability cut that maximizes F1 on (out-of-fold) predictions. Tied scores fall on one side
    of the cut together (``precision_recall_curve`` merges them); the cut is the midpoint between the
    best score and the next lower one, so it is robust to tiny shifts."""
    precision, recall, cuts = precision_recall_curve(y_true, proba)
    f1 = np.divide(2 * precision * recall, precision + recall, out=np.zeros_like(precision),
                   where=(precision + recall) > 0)[:-1]
    cut = cuts[int(np.argmax(f1))]
    below = proba[proba < cut]
    return float((cut + (below.max() if len(below) else 0.0)) / 2)


class PlattCalibrated(ClassifierMixin, BaseEstimator):
    """A linear classifier with Platt-scaled probabilities from one inner grouped cross-validation.

    The out-of-fold decision values fit one sigmoid per class; the classifier is then refitted on every
    row. The out-of-fold probabilities are kept (``oof_proba_``) so thresholds are tuned on them without a
    second cross-validation: ``folds + 1`` fits in all. Equivalent to scikit-learn's
    ``CalibratedClassifierCV(method="sigmoid", ensemble=False)`` on the same folds, which does not
    expose its out-of-fold predictions.
    """

    def __init__(self, estimator, folds=3):
        self.estimator = estimator
        self.folds = folds

    def fit(self, X, y, groups=None):
        y = np.asarray(y)
        self.classes_ = np.unique(y)
        groups = np.arange(len(y)) if groups is None else np.asarray(groups)
        oof = cross_val_predict(clone(self.estimator), X, y, groups=groups, cv=GroupKFold(n_splits=self.folds),
                                method="decision_function")
        oof = oof.reshape(len(y), -1)
        targets = [y == self.classes_[1]] if len(self.classes_) == 2 else [y == c for c in self.classes_]
        self.sigmoids_ = np.array([self._fit_sigmoid(oof[:, k], t) for k, t in enumerate(targets)])
        self.estimator_ = clone(self.estimator).fit(X, y)
        self.oof_proba_ = platt_probabilities(oof, self.sigmoids_)
        return self

    @staticmethod
    def _fit_sigmoid(scores: np.ndarray, target: np.ndarray) -> tuple[float, float]:
        platt = LogisticRegression(C=1e4).fit(scores[:, None], target)
        return float(platt.coef_[0, 0]), float(platt.intercept_[0])

    def predict_proba(self, X) -> np.ndarray:
        return platt_probabilities(self.estimator_.decision_function(X), self.sigmoids_)

    def predict(self, X) -> np.ndarray:
        return self.classes_[self.predict_proba(X).argmax(axis=1)]


class FrameModel(BaseEstimator):
    """The contract every family implements, and what they share: frame gating and decisions.

    Subclasses take ``topics``, ``frames`` and ``frames_topic`` (from the label schema) in ``__init__``,
    set ``thresholds_`` in ``fit(X, topics, frames, groups=None)`` and implement ``predict_proba(X)`` →
    (topic probabilities in ``topics`` order, frame probabilities in ``frames`` order). ``X`` is a list of
    texts or a frame of ``INPUT_COLUMNS`` (``as_frame``).
    """

    def frame_matrix(self, frames) -> np.ndarray:
        """Frame-name lists → a 0/1 matrix with one column per frame of the schema."""
        index = {frame: j for j, frame in enumerate(self.frames)}
        Y = np.zeros((len(frames), len(self.frames)), dtype=int)
        for i, names in enumerate(frames):
            for name in names:
                Y[i, index[name]] = 1
        return Y

    def in_topic_order(self, proba: np.ndarray, classes) -> np.ndarray:
        """A classifier's topic probabilities (columns in its ``classes`` order, which may miss a topic) as
        columns in ``self.topics`` order."""
        out = np.zeros((len(proba), len(self.topics)))
        out[:, [list(self.topics).index(label) for label in classes]] = proba
        return out

    def check_frames(self, Y: np.ndarray, needed: int) -> None:
        for j, frame in enumerate(self.frames):
            if Y[:, j].sum() < needed:
                raise CtframeError(f"frame {frame!r} has {int(Y[:, j].sum())} positive paragraphs under "
                                   f"topic {self.frames_topic!r}; at least {needed} are needed to fit it")

    def tune_thresholds(self, Y: np.ndarray, oof_proba: np.ndarray, threshold) -> np.ndarray:
        """Per-frame cuts: F1-optimal on out-of-fold probabilities (``"tuned"``), or one fixed probability."""
        if threshold == "tuned":
            return np.array([best_f1_threshold(Y[:, j], oof_proba[:, j]) for j in range(Y.shape[1])])
        return np.full(Y.shape[1], float(threshold))

    def decide(self, topic_p: np.ndarray, frame_p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Probabilities → (topic labels, 0/1 frame matrix, empty unless the topic is ``frames_topic``)."""
        return decide(self, topic_p, frame_p)

    def predict(self, texts) -> tuple[np.ndarray, np.ndarray]:
        return self.decide(*self.predict_proba(texts))

    def representations(self) -> list[Path]:
        """Files the model learned from outside the labels (the corpus word vectors), keyed by the corpus
        fingerprint; each run logs them as MLflow artifacts under ``representations/``."""
        return []

    def save(self, folder: Path) -> list[Path]:
        """Write the fitted model into ``folder`` (a skops file); → the files written."""
        import skops.io as sio

        path = Path(folder) / "ctframe.skops"
        sio.dump(self, path)
        return [path]
