"""The fastText peer: a ``FrameModel`` like ctframe's own families, fitted and evaluated on the same folds
and holdout and logged the same way, but not exported: it exists to keep the comparison honest."""
from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
from sklearn.model_selection import GroupKFold

from ctframe.features.arabic import collapse_whitespace
from ctframe.features.normalize import ArabicNormalizer
from ctframe.train.families import Family, register
from ctframe.train.model import FrameModel, texts_of


class FastTextModel(FrameModel):
    """fastText supervised classifiers on normalized text: softmax over topics, one-vs-all loss over frames.

    Character n-grams come from ``minn``/``maxn`` subwords, word n-grams from ``word_ngrams``. Like
    the linear families, the frame classifier is fitted on paragraphs of topic ``frames_topic`` and its thresholds
    are tuned on out-of-fold probabilities from ``inner_folds`` grouped folds.
    """

    def __init__(self, topics=(), frames=(), frames_topic="", normalize=None, threshold="tuned", seed=0, dim=50,
                 epoch=20, lr=0.5, minn=2, maxn=5, word_ngrams=2, bucket=500_000, inner_folds=3):
        self.normalize = normalize
        self.topics = topics
        self.frames = frames
        self.frames_topic = frames_topic
        self.dim = dim
        self.epoch = epoch
        self.lr = lr
        self.minn = minn
        self.maxn = maxn
        self.word_ngrams = word_ngrams
        self.bucket = bucket
        self.inner_folds = inner_folds
        self.threshold = threshold
        self.seed = seed

    def _lines(self, texts) -> list[str]:
        return [collapse_whitespace(t) for t in ArabicNormalizer(**self.normalize).transform(texts_of(texts))]

    def _train(self, lines: list[str], labels: list[list[str]], loss: str):
        import fasttext

        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "train.txt"
            path.write_text("".join(" ".join(f"__label__{l}" for l in (names or ["none"])) + f" {line}\n"
                                    for line, names in zip(lines, labels)), encoding="utf-8")
            return fasttext.train_supervised(str(path), dim=self.dim, epoch=self.epoch, lr=self.lr, minn=self.minn,
                                             maxn=self.maxn, wordNgrams=self.word_ngrams, bucket=self.bucket,
                                             loss=loss, thread=1, seed=self.seed, verbose=0)

    @staticmethod
    def _proba(model, lines: list[str], labels) -> np.ndarray:
        """Probabilities of ``labels`` for each line. fastText's own batch ``predict`` returns garbage
        probabilities with numpy 2 (it builds arrays without the GIL), so the per-line core call is used."""
        column = {f"__label__{label}": j for j, label in enumerate(labels)}
        out = np.zeros((len(lines), len(labels)))
        for i, line in enumerate(lines):
            for p, name in model.f.predict(line, -1, 0.0, "strict"):
                if name in column:
                    out[i, column[name]] = p
        return out

    def fit(self, texts, topics, frames, groups=None):
        lines, topics = self._lines(texts), np.asarray(topics)
        groups = np.arange(len(lines)) if groups is None else np.asarray(groups)
        framed = np.flatnonzero(topics == self.frames_topic)
        Y = self.frame_matrix(frames)[framed]
        self.check_frames(Y, 2 * self.inner_folds)
        framed_lines = [lines[i] for i in framed]
        framed_labels = [list(frames[i]) for i in framed]
        self.topic_model_ = self._train(lines, [[t] for t in topics], "softmax")
        self.frame_model_ = self._train(framed_lines, framed_labels, "ova")
        oof = np.zeros(Y.shape)
        if self.threshold == "tuned":
            for train_idx, test_idx in GroupKFold(n_splits=self.inner_folds).split(framed, groups=groups[framed]):
                inner = self._train([framed_lines[i] for i in train_idx], [framed_labels[i] for i in train_idx], "ova")
                oof[test_idx] = self._proba(inner, [framed_lines[i] for i in test_idx], self.frames)
        self.thresholds_ = self.tune_thresholds(Y, oof, self.threshold)
        return self

    def predict_proba(self, texts) -> tuple[np.ndarray, np.ndarray]:
        lines = self._lines(texts)
        return self._proba(self.topic_model_, lines, self.topics), self._proba(self.frame_model_, lines, self.frames)

    def save(self, folder: Path) -> list[Path]:
        """The two fastText binaries (fastText's own format)."""
        paths = [Path(folder) / "topic.ftz", Path(folder) / "frames.ftz"]
        self.topic_model_.save_model(str(paths[0]))
        self.frame_model_.save_model(str(paths[1]))
        return paths


register(Family("fasttext", FastTextModel, exportable=False,
                description="fastText supervised: softmax over topics, one-vs-all loss over frames (a peer)"))
