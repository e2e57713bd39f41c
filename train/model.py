"""CTFrameModel: one feature pipeline feeding a topic classifier and one calibrated classifier per frame.

Every model family (this one and the peers in ``train/peers.py``) is a ``FrameModel``: it is fitted on
texts, topics and frame lists, and turns texts into (topic probabilities, frame probabilities).
"""
from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GroupKFold, cross_val_predict
from sklearn.svm import LinearSVC

from features.errors import CtframeError
from features.vectorize import build_features


def best_f1_threshold(y_true: np.ndarray, proba: np.ndarray) -> float:
    """The probability cut that maximizes F1 on (out-of-fold) predictions."""
    order = np.argsort(-proba)
    hits = np.cumsum(y_true[order])
    predicted = np.arange(1, len(proba) + 1)
    f1 = 2 * hits / (predicted + y_true.sum())
    best = int(np.argmax(f1))
    following = proba[order[best + 1]] if best + 1 < len(proba) else 0.0
    return float((proba[order[best]] + following) / 2)


class PlattCalibrated(ClassifierMixin, BaseEstimator):
    """A linear classifier with Platt-scaled probabilities from one inner grouped cross-validation.

    The out-of-fold decision values fit one sigmoid per class; the classifier is then refitted on every
    row. The out-of-fold probabilities are kept (``oof_proba_``) so thresholds are tuned on them without a
    second cross-validation: ``folds + 1`` fits in all.
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
        self.oof_proba_ = self._proba(oof)
        return self

    @staticmethod
    def _fit_sigmoid(scores: np.ndarray, target: np.ndarray) -> tuple[float, float]:
        platt = LogisticRegression(C=1e4).fit(scores[:, None], target)
        return float(platt.coef_[0, 0]), float(platt.intercept_[0])

    def _proba(self, scores: np.ndarray) -> np.ndarray:
        p = 1 / (1 + np.exp(-(scores.reshape(len(scores), -1) * self.sigmoids_[:, 0] + self.sigmoids_[:, 1])))
        if p.shape[1] == 1:
            return np.column_stack([1 - p[:, 0], p[:, 0]])
        total = p.sum(axis=1, keepdims=True)
        return np.divide(p, total, out=np.full_like(p, 1 / p.shape[1]), where=total > 0)

    def predict_proba(self, X) -> np.ndarray:
        return self._proba(self.estimator_.decision_function(X))

    def predict(self, X) -> np.ndarray:
        return self.classes_[self.predict_proba(X).argmax(axis=1)]


def make_estimator(model: dict, seed: int = 0) -> PlattCalibrated:
    """A calibrated linear classifier from the ``model`` config section."""
    if model["family"] == "logreg":
        linear = LogisticRegression(C=model["C"], class_weight=model["class_weight"], max_iter=2000,
                                    random_state=seed)
    else:
        linear = LinearSVC(C=model["C"], class_weight=model["class_weight"], tol=model["tol"], random_state=seed)
    return PlattCalibrated(linear, model["inner_folds"])


class FrameModel(BaseEstimator):
    """What every family shares: the label schema, frame gating and decisions from probabilities.

    Subclasses set ``thresholds_`` in ``fit`` and implement ``predict_proba(texts)`` → (topic
    probabilities in ``topics`` order, frame probabilities in ``frames`` order).
    """

    def frame_matrix(self, frames) -> np.ndarray:
        """Frame-name lists → a 0/1 matrix with one column per frame of the schema."""
        index = {frame: j for j, frame in enumerate(self.frames)}
        Y = np.zeros((len(frames), len(self.frames)), dtype=int)
        for i, names in enumerate(frames):
            for name in names:
                Y[i, index[name]] = 1
        return Y

    def check_frames(self, Y: np.ndarray, needed: int) -> None:
        for j, frame in enumerate(self.frames):
            if Y[:, j].sum() < needed:
                raise CtframeError(f"frame {frame!r} has {int(Y[:, j].sum())} positive paragraphs under "
                                   f"topic {self.frames_topic!r}; at least {needed} are needed to fit it")

    def decide(self, topic_p: np.ndarray, frame_p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Probabilities → (topic labels, 0/1 frame matrix, empty unless the topic is ``frames_topic``)."""
        topics = np.asarray(self.topics, dtype=object)[topic_p.argmax(axis=1)]
        gate = (topics == self.frames_topic)[:, None]
        return topics, ((frame_p >= self.thresholds_) & gate).astype(int)

    def predict(self, texts) -> tuple[np.ndarray, np.ndarray]:
        return self.decide(*self.predict_proba(texts))


class CTFrameModel(FrameModel):
    """Predicts a paragraph's topic and its counter-terrorism frames.

    ``features`` turns texts into vectors (shared by both heads); ``topic_estimator`` is a calibrated
    multi-class classifier; ``frame_estimator`` is cloned once per frame (one-vs-rest) and fitted on the
    paragraphs of topic ``frames_topic`` only, since frames are only reported for paragraphs predicted to
    be of that topic. Frame thresholds are tuned on the heads' out-of-fold probabilities
    (``threshold="tuned"``) or fixed.
    """

    def __init__(self, features, topic_estimator, frame_estimator, topics, frames, frames_topic,
                 threshold="tuned"):
        self.features = features
        self.topic_estimator = topic_estimator
        self.frame_estimator = frame_estimator
        self.topics = topics
        self.frames = frames
        self.frames_topic = frames_topic
        self.threshold = threshold

    @classmethod
    def from_config(cls, config: dict, schema) -> "CTFrameModel":
        estimator = make_estimator(config["model"], config["seed"])
        return cls(build_features(config["normalize"], config["features"]), estimator, clone(estimator),
                   list(schema.topics), list(schema.frames), schema.frames_topic, config["frames"]["threshold"])

    def fit(self, texts, topics, frames, groups=None):
        """``topics``: one label per text; ``frames``: a list of frame names per text; ``groups``: ids
        (e.g. articles) kept on one side of the inner cross-validation splits."""
        texts, topics = list(texts), np.asarray(topics)
        groups = np.arange(len(texts)) if groups is None else np.asarray(groups)
        framed = topics == self.frames_topic
        Y = self.frame_matrix(frames)[framed]
        self.check_frames(Y, 2 * self.frame_estimator.folds)
        self.features_ = clone(self.features)
        X = self.features_.fit_transform(texts)
        self.topic_model_ = clone(self.topic_estimator).fit(X, topics, groups=groups)
        self.frame_models_ = [clone(self.frame_estimator).fit(X[framed], Y[:, j], groups=groups[framed])
                              for j in range(len(self.frames))]
        if self.threshold == "tuned":
            self.thresholds_ = np.array([best_f1_threshold(Y[:, j], m.oof_proba_[:, 1])
                                         for j, m in enumerate(self.frame_models_)])
        else:
            self.thresholds_ = np.full(len(self.frames), float(self.threshold))
        return self

    def predict_proba(self, texts) -> tuple[np.ndarray, np.ndarray]:
        """(topic probabilities in ``self.topics`` order, frame probabilities in ``self.frames`` order)."""
        X = self.features_.transform(list(texts))
        topic_p = np.zeros((X.shape[0], len(self.topics)))
        topic_p[:, [self.topics.index(label) for label in self.topic_model_.classes_]] = \
            self.topic_model_.predict_proba(X)
        frame_p = np.column_stack([m.predict_proba(X)[:, 1] for m in self.frame_models_]) if self.frame_models_ \
            else np.zeros((X.shape[0], 0))
        return topic_p, frame_p


def build_model(config: dict, schema) -> FrameModel:
    """The unfitted model of the config's family (``model.family``)."""
    from train.peers import FastTextModel, KeywordRules

    family, params = config["model"]["family"], {k: v for k, v in config["model"].items() if k != "family"}
    labels = (list(schema.topics), list(schema.frames), schema.frames_topic)
    if family == "fasttext":
        return FastTextModel(config["normalize"], *labels, threshold=config["frames"]["threshold"],
                             seed=config["seed"], **params)
    if family == "keywords":
        return KeywordRules(config["normalize"], dict(schema.keywords), *labels)
    return CTFrameModel.from_config(config, schema)
