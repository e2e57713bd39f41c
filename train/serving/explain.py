"""Evidence for a prediction, whatever the model family: occlusion of word windows and sentences.

For each paragraph, every window of ``window`` words (every ``stride`` words) and every sentence is
removed in turn, and all those variants are scored in one batch. A span's effect on a label is how much
the label's probability drops without it; the spans that raise the predicted topic and each predicted
frame most are the evidence, as character offsets into the paragraph.
"""
from __future__ import annotations

import re

import numpy as np

from ctframe.train.model import as_frame

_WORD = re.compile(r"\S+")
_SENTENCE = re.compile(r"[^.!?؟…؛]+[.!?؟…؛]*")


def spans(text: str, window: int = 4, stride: int = 2) -> list[tuple[int, int]]:
    """Candidate evidence spans (start, end): word windows and sentences, each once."""
    words = [m.span() for m in _WORD.finditer(text)]
    found = {(words[i][0], words[min(i + window, len(words)) - 1][1])
             for i in range(0, max(len(words) - window, 0) + 1, stride)} if words else set()
    for m in _SENTENCE.finditer(text):
        inner = [w for w in words if m.start() <= w[0] < m.end()]
        if inner:
            found.add((inner[0][0], inner[-1][1]))
    return sorted(found)


def explain(model, X, top: int = 3, window: int = 4, stride: int = 2) -> list[dict]:
    """For each paragraph of ``X``: its predicted topic's and frames' strongest evidence,
    ``{"topic": [...], "frames": {frame: [...]}}`` with ``{"start", "end", "text", "effect"}`` spans."""
    frame = as_frame(X).reset_index(drop=True)
    topic_p, frame_p = model.predict_proba(frame)
    topics, frames = model.decide(topic_p, frame_p)
    rows, owner, cuts = [], [], []
    for i, record in frame.iterrows():
        for start, end in spans(record["text"], window, stride):
            rest = " ".join((record["text"][:start] + " " + record["text"][end:]).split())
            rows.append({"text": rest or ".", "title": record["title"], "context": record["context"]})
            owner.append(i)
            cuts.append((start, end))
    out = [{"topic": [], "frames": {}} for _ in range(len(frame))]
    if not rows:
        return out
    occluded_topic, occluded_frames = model.predict_proba(as_frame({k: [r[k] for r in rows] for k in rows[0]}))
    owner = np.array(owner)
    for i, record in frame.iterrows():
        mine = np.flatnonzero(owner == i)
        if not len(mine):
            continue
        t = list(model.topics).index(topics[i])
        out[i]["topic"] = _strongest(record["text"], [cuts[k] for k in mine],
                                     topic_p[i, t] - occluded_topic[mine, t], top)
        for j, name in enumerate(model.frames):
            if frames[i, j]:
                out[i]["frames"][name] = _strongest(record["text"], [cuts[k] for k in mine],
                                                    frame_p[i, j] - occluded_frames[mine, j], top)
    return out


def _strongest(text: str, cuts: list[tuple[int, int]], effects: np.ndarray, top: int) -> list[dict]:
    """The ``top`` spans with the largest positive effect, not overlapping a stronger one."""
    chosen: list[dict] = []
    for k in np.argsort(-effects):
        if effects[k] <= 0 or len(chosen) == top:
            break
        start, end = cuts[k]
        if all(end <= c["start"] or start >= c["end"] for c in chosen):
            chosen.append({"start": int(start), "end": int(end), "text": text[start:end],
                           "effect": round(float(effects[k]), 4)})
    return chosen
