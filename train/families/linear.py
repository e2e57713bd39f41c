"""ctframe's own families: character n-gram TF-IDF → calibrated linear heads (exported and served).

One feature pipeline feeds a calibrated multi-class topic head and one calibrated head per frame
(one-vs-rest). The frame heads are fitted on the paragraphs of topic ``frames_topic`` only, since frames
are only reported for paragraphs predicted to be of that topic. Frame thresholds are tuned on the heads'
out-of-fold probabilities (``threshold="tuned"``) or fixed.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from sklearn.svm import LinearSVC

from ctframe.features.vectorize import build_features
from ctframe.train.arrays import ARRAYS_FILE, save_arrays
from ctframe.train.families import Family, register
from ctframe.train.model import FrameModel, PlattCalibrated, as_frame


class CharNgramLinear(FrameModel):
    """Shared features → calibrated linear topic head + one calibrated linear head per frame.
    Subclasses choose the linear classifier (``linear()``) and declare its parameters."""

    def __init__(self, topics, frames, frames_topic, normalize, features, threshold, seed):
        self.topics = topics
        self.frames = frames
        self.frames_topic = frames_topic
        self.normalize = normalize
        self.features = features
        self.threshold = threshold
        self.seed = seed

    def linear(self):
        raise NotImplementedError

    def fit(self, texts, topics, frames, groups=None):
        """``texts``: texts or a frame of texts with their context (``as_frame``); ``topics``: one label per text; ``frames``: a list of frame names per text; ``groups``: ids
        (e.g. articles) kept on one side of the inner cross-validation splits."""
        inputs, topics = as_frame(texts), np.asarray(topics)
        groups = np.arange(len(inputs)) if groups is None else np.asarray(groups)
        framed = topics == self.frames_topic
        Y = self.frame_matrix(frames)[framed]
        self.check_frames(Y, 2 * self.inner_folds)
        head = PlattCalibrated(self.linear(), self.inner_folds)
        self.features_ = build_features(self.normalize, self.features)
        X = self.features_.fit_transform(inputs)
        self.topic_model_ = clone(head).fit(X, topics, groups=groups)
        self.frame_models_ = [clone(head).fit(X[framed], Y[:, j], groups=groups[framed])
                              for j in range(len(self.frames))]
        oof = np.column_stack([m.oof_proba_[:, 1] for m in self.frame_models_]) if self.frames else Y
        self.thresholds_ = self.tune_thresholds(Y, oof, self.threshold)
        every = self.frame_matrix(frames)
        self.label_shares_ = {"topics": {t: float(np.mean(topics == t)) for t in self.topics},  # for `ctframe drift`
                              "frames": {f: float(every[:, j].mean()) for j, f in enumerate(self.frames)}}
        return self

    def predict_proba(self, texts) -> tuple[np.ndarray, np.ndarray]:
        """(topic probabilities in ``self.topics`` order, frame probabilities in ``self.frames`` order)."""
        X = self.features_.transform(as_frame(texts))
        topic_p = self.in_topic_order(self.topic_model_.predict_proba(X), self.topic_model_.classes_)
        frame_p = np.column_stack([m.predict_proba(X)[:, 1] for m in self.frame_models_]) if self.frame_models_ \
            else np.zeros((X.shape[0], 0))
        return topic_p, frame_p

    def save(self, folder: Path) -> list[Path]:
        """The skops file, and beside it the array form that scores without scikit-learn (``train/arrays.py``)
        when the features have one."""
        files = super().save(folder)
        arrays = Path(folder) / ARRAYS_FILE.name
        return [*files, arrays] if save_arrays(self, arrays) else files


class LinearSVCFrames(CharNgramLinear):
    """Char n-gram TF-IDF → Platt-calibrated ``LinearSVC`` heads (the default family)."""

    def __init__(self, topics=(), frames=(), frames_topic="", normalize=None, features=None, threshold="tuned",
                 seed=0, C=0.5, class_weight="balanced", tol=0.01, inner_folds=3):
        super().__init__(topics, frames, frames_topic, normalize, features, threshold, seed)
        self.C = C
        self.class_weight = class_weight
        self.tol = tol
        self.inner_folds = inner_folds

    def linear(self):
        return LinearSVC(C=self.C, class_weight=self.class_weight, tol=self.tol, random_state=self.seed)


class LogRegFrames(CharNgramLinear):
    """Char n-gram TF-IDF → Platt-calibrated logistic-regression heads."""

    def __init__(self, topics=(), frames=(), frames_topic="", normalize=None, features=None, threshold="tuned",
                 seed=0, C=20.0, class_weight="balanced", inner_folds=3):
        super().__init__(topics, frames, frames_topic, normalize, features, threshold, seed)
        self.C = C
        self.class_weight = class_weight
        self.inner_folds = inner_folds

    def linear(self):
        return LogisticRegression(C=self.C, class_weight=self.class_weight, max_iter=2000, random_state=self.seed)


_HEAD_TYPES = {"ctframe.train.model.PlattCalibrated"}
register(Family("linear_svc", LinearSVCFrames, exportable=True,
                trusted_types=frozenset({*_HEAD_TYPES, "ctframe.train.families.linear.LinearSVCFrames",
                                         "sklearn.svm._classes.LinearSVC"}),
                description="char n-gram TF-IDF → LinearSVC heads, Platt-calibrated (the default)"))
register(Family("logreg", LogRegFrames, exportable=True,
                trusted_types=frozenset({*_HEAD_TYPES, "ctframe.train.families.linear.LogRegFrames",
                                         "sklearn.linear_model._logistic.LogisticRegression"}),
                description="the same features → logistic-regression heads"))
