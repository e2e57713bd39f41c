"""CTFrameModel: one feature pipeline feeding a topic classifier and one calibrated classifier per frame."""
from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, clone
from sklearn.calibration import CalibratedClassifierCV
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GroupKFold, cross_val_predict
from sklearn.svm import LinearSVC

from features.errors import CtframeError
from features.vectorize import build_features


def make_estimator(model: dict, seed: int = 0):
    """A probabilistic linear classifier from the ``model`` config section."""
    if model["family"] == "logreg":
        return LogisticRegression(C=model["C"], class_weight=model["class_weight"], max_iter=2000,
                                  random_state=seed)
    return CalibratedClassifierCV(LinearSVC(C=model["C"], class_weight=model["class_weight"], random_state=seed),
                                  method=model["calibration"], cv=model["calibration_folds"])


def best_f1_threshold(y_true: np.ndarray, proba: np.ndarray) -> float:
    """The probability cut that maximizes F1 on (out-of-fold) predictions."""
    order = np.argsort(-proba)
    hits = np.cumsum(y_true[order])
    predicted = np.arange(1, len(proba) + 1)
    f1 = 2 * hits / (predicted + y_true.sum())
    best = int(np.argmax(f1))
    following = proba[order[best + 1]] if best + 1 < len(proba) else 0.0
    return float((proba[order[best]] + following) / 2)


class CTFrameModel(BaseEstimator):
    """Predicts a paragraph's topic and its counter-terrorism frames.

    ``features`` turns texts into vectors (shared by both heads); ``topic_estimator`` is a multi-class
    probabilistic classifier; ``frame_estimator`` is cloned once per frame (one-vs-rest). Frame decision
    thresholds are tuned on out-of-fold probabilities (``threshold="tuned"``) or fixed. Frames are only
    reported for paragraphs whose predicted topic is ``frames_topic``.
    """

    def __init__(self, features, topic_estimator, frame_estimator, topics, frames, frames_topic,
                 threshold="tuned", threshold_folds=3):
        self.features = features
        self.topic_estimator = topic_estimator
        self.frame_estimator = frame_estimator
        self.topics = topics
        self.frames = frames
        self.frames_topic = frames_topic
        self.threshold = threshold
        self.threshold_folds = threshold_folds

    @classmethod
    def from_config(cls, config: dict, schema) -> "CTFrameModel":
        estimator = make_estimator(config["model"], config["seed"])
        return cls(build_features(config["normalize"], config["features"]), estimator, clone(estimator),
                   list(schema.topics), list(schema.frames), schema.frames_topic, config["frames"]["threshold"])

    def fit(self, texts, topics, frames, groups=None):
        """``topics``: one label per text; ``frames``: a list of frame names per text; ``groups``: ids
        (e.g. articles) kept together when thresholds are tuned out of fold."""
        texts, topics = list(texts), np.asarray(topics)
        Y = self.frame_matrix(frames)
        for j, frame in enumerate(self.frames):
            if Y[:, j].sum() < 2 * self.threshold_folds:
                raise CtframeError(f"frame {frame!r} has {int(Y[:, j].sum())} positive paragraphs; "
                                   f"at least {2 * self.threshold_folds} are needed to fit it")
        self.features_ = clone(self.features)
        X = self.features_.fit_transform(texts)
        self.topic_model_ = clone(self.topic_estimator).fit(X, topics)
        self.frame_models_ = [clone(self.frame_estimator).fit(X, Y[:, j]) for j in range(len(self.frames))]
        if self.threshold == "tuned":
            groups = np.arange(len(texts)) if groups is None else np.asarray(groups)
            splitter = GroupKFold(n_splits=self.threshold_folds)
            self.thresholds_ = np.array([
                best_f1_threshold(Y[:, j], cross_val_predict(clone(self.frame_estimator), X, Y[:, j], groups=groups,
                                                             cv=splitter, method="predict_proba")[:, 1])
                for j in range(len(self.frames))])
        else:
            self.thresholds_ = np.full(len(self.frames), float(self.threshold))
        return self

    def frame_matrix(self, frames) -> np.ndarray:
        """Frame-name lists → a 0/1 matrix with one column per frame of the schema."""
        index = {frame: j for j, frame in enumerate(self.frames)}
        Y = np.zeros((len(frames), len(self.frames)), dtype=int)
        for i, names in enumerate(frames):
            for name in names:
                Y[i, index[name]] = 1
        return Y

    def predict_proba(self, texts) -> tuple[np.ndarray, np.ndarray]:
        """(topic probabilities in ``self.topics`` order, frame probabilities in ``self.frames`` order)."""
        X = self.features_.transform(list(texts))
        topic_p = np.zeros((X.shape[0], len(self.topics)))
        learned = self.topic_model_.predict_proba(X)
        for k, label in enumerate(self.topic_model_.classes_):
            topic_p[:, self.topics.index(label)] = learned[:, k]
        frame_p = np.column_stack([m.predict_proba(X)[:, 1] for m in self.frame_models_]) if self.frame_models_ \
            else np.zeros((X.shape[0], 0))
        return topic_p, frame_p

    def decide(self, topic_p: np.ndarray, frame_p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Probabilities → (topic labels, 0/1 frame matrix, empty unless the topic is ``frames_topic``)."""
        topics = np.asarray(self.topics, dtype=object)[topic_p.argmax(axis=1)]
        gate = (topics == self.frames_topic)[:, None]
        return topics, ((frame_p >= self.thresholds_) & gate).astype(int)

    def predict(self, texts) -> tuple[np.ndarray, np.ndarray]:
        return self.decide(*self.predict_proba(texts))
