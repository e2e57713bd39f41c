"""Peer families that ctframe is compared against: fastText and keyword rules.

Both are ``FrameModel``s like CTFrameModel: fitted and evaluated on the same folds and holdout, logged the
same way. They are not exported (``config.EXPORTABLE_FAMILIES``): they exist to keep the comparison honest.
"""
from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
from sklearn.model_selection import GroupKFold

from features.normalize import ArabicNormalizer
from train.model import FrameModel, best_f1_threshold


class FastTextModel(FrameModel):
    """fastText supervised classifiers on normalized text: softmax over topics, one-vs-all loss over frames.

    Character n-grams come from ``minn``/``maxn`` subwords, word n-grams from ``word_ngrams``. Like
    CTFrameModel, the frame classifier is fitted on paragraphs of topic ``frames_topic`` and its thresholds
    are tuned on out-of-fold probabilities from ``inner_folds`` grouped folds.
    """

    def __init__(self, normalize: dict, topics, frames, frames_topic, dim=50, epoch=20, lr=0.5, minn=2, maxn=5,
                 word_ngrams=2, bucket=500_000, inner_folds=3, threshold="tuned", seed=0):
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
        return [" ".join(t.split()) for t in ArabicNormalizer(**self.normalize).transform(texts)]

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
        if self.threshold == "tuned":
            oof = np.zeros(Y.shape)
            for train_idx, test_idx in GroupKFold(n_splits=self.inner_folds).split(framed, groups=groups[framed]):
                inner = self._train([framed_lines[i] for i in train_idx], [framed_labels[i] for i in train_idx], "ova")
                oof[test_idx] = self._proba(inner, [framed_lines[i] for i in test_idx], self.frames)
            self.thresholds_ = np.array([best_f1_threshold(Y[:, j], oof[:, j]) for j in range(len(self.frames))])
        else:
            self.thresholds_ = np.full(len(self.frames), float(self.threshold))
        return self

    def predict_proba(self, texts) -> tuple[np.ndarray, np.ndarray]:
        lines = self._lines(texts)
        return self._proba(self.topic_model_, lines, self.topics), self._proba(self.frame_model_, lines, self.frames)

    def save(self, folder: Path) -> list[Path]:
        """The two fastText binaries (fastText's own format; used to measure model size)."""
        paths = [Path(folder) / "topic.ftz", Path(folder) / "frames.ftz"]
        self.topic_model_.save_model(str(paths[0]))
        self.frame_model_.save_model(str(paths[1]))
        return paths


class KeywordRules(FrameModel):
    """The lexicon baseline: a paragraph is of ``frames_topic`` when it holds one of that topic's keywords
    (else the most frequent other topic seen in training), and has a frame when it also holds one of the
    frame's keywords. The lexicon is ``keywords:`` in ``labels/schema.yaml``; matching is on normalized
    text, so spelling variants of alef, ya and diacritics match alike."""

    def __init__(self, normalize: dict, keywords: dict, topics, frames, frames_topic):
        self.normalize = normalize
        self.keywords = keywords
        self.topics = topics
        self.frames = frames
        self.frames_topic = frames_topic

    def fit(self, texts, topics, frames, groups=None):
        others = [t for t in topics if t != self.frames_topic]
        self.fallback_topic_ = max(set(others), key=others.count) if others else self.frames_topic
        self.thresholds_ = np.full(len(self.frames), 0.5)
        return self

    def hits(self, normalized: list[str]) -> dict[str, np.ndarray]:
        """For ``frames_topic`` and each frame: which already-normalized texts hold one of its keywords."""
        normalizer = ArabicNormalizer(**self.normalize)
        out = {}
        for label in (self.frames_topic, *self.frames):
            words = normalizer.transform(self.keywords.get(label, ()))
            out[label] = np.array([any(w in text for w in words) for text in normalized], dtype=bool)
        return out

    def predict_proba(self, texts) -> tuple[np.ndarray, np.ndarray]:
        normalized = ArabicNormalizer(**self.normalize).transform(texts)
        hits = self.hits(normalized)
        topic_p = np.zeros((len(normalized), len(self.topics)))
        on_topic = hits[self.frames_topic]
        topic_p[on_topic, self.topics.index(self.frames_topic)] = 1.0
        topic_p[~on_topic, self.topics.index(self.fallback_topic_)] = 1.0
        frame_p = np.column_stack([hits[f] for f in self.frames]).astype(float) \
            if self.frames else np.zeros((len(normalized), 0))
        return topic_p, frame_p
