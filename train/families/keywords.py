"""The keyword-rules peer: the label schema's lexicon as a classifier (not exported; a baseline)."""
from __future__ import annotations

import numpy as np

from ctframe.features.normalize import ArabicNormalizer
from ctframe.train.families import Family, register
from ctframe.train.model import FrameModel, texts_of


class KeywordRules(FrameModel):
    """The lexicon baseline: a paragraph is of ``frames_topic`` when it holds one of that topic's keywords
    (else the most frequent other topic seen in training), and has a frame when it also holds one of the
    frame's keywords. ``keywords`` maps a label to its words: the ``keywords:`` lexicon of the label schema.
    Matching is on normalized text, so spelling variants of alef, ya and diacritics match alike."""

    def __init__(self, topics=(), frames=(), frames_topic="", normalize=None, keywords=None):
        self.topics = topics
        self.frames = frames
        self.frames_topic = frames_topic
        self.normalize = normalize
        self.keywords = keywords

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
            words = normalizer.transform((self.keywords or {}).get(label, ()))
            out[label] = np.array([any(w in text for w in words) for text in normalized], dtype=bool)
        return out

    def predict_proba(self, texts) -> tuple[np.ndarray, np.ndarray]:
        normalized = ArabicNormalizer(**self.normalize).transform(texts_of(texts))
        hits = self.hits(normalized)
        topic_p = np.zeros((len(normalized), len(self.topics)))
        on_topic = hits[self.frames_topic]
        topic_p[on_topic, self.topics.index(self.frames_topic)] = 1.0
        topic_p[~on_topic, self.topics.index(self.fallback_topic_)] = 1.0
        frame_p = np.column_stack([hits[f] for f in self.frames]).astype(float) \
            if self.frames else np.zeros((len(normalized), 0))
        return topic_p, frame_p


register(Family("keywords", KeywordRules, exportable=False,
                description="the lexicon in labels/schema.yaml (keywords:), on normalized text (a peer)"))
