"""Likely label errors: the labeled paragraphs whose label out-of-fold predictions most strongly dispute.

Confident learning (cleanlab): per-class confidence thresholds learned from the out-of-fold probabilities
flag a label when the model confidently prefers another; flagged paragraphs are ranked by how little
confidence the model has in the given label. They go to annotators as a re-read batch; the model never
changes a label itself.
"""
from __future__ import annotations

from itertools import chain, zip_longest
from pathlib import Path

import numpy as np
from cleanlab.filter import find_label_issues

from ctframe.features.segment import Paragraph
from ctframe.train.config import load_config
from ctframe.train.dataset import Dataset, dataset_for
from ctframe.train.evaluate import cross_validate
from ctframe.train.families import build_model
from ctframe.train.labeling.queue import write_batch
from ctframe.train.schema import Schema, load_schema


def find_suspects(config: dict, schema: Schema, data: Dataset, n: int) -> list[tuple[Paragraph, str]]:
    """Up to ``n`` (paragraph, why) pairs, most disputed first, topics and frames interleaved by rank."""
    oof = cross_validate(build_model(config, schema), data, config["evaluation"]["folds"])
    topics = list(schema.topics)
    given = np.array([topics.index(t) for t in data.topics])
    topic_issues = find_label_issues(given, oof.topic_p, return_indices_ranked_by="self_confidence")
    disputed = []
    for i in topic_issues:
        model_topic = topics[int(oof.topic_p[i].argmax())]
        disputed.append((i, f"suspect topic: labeled {data.topics[i]}, model says {model_topic} "
                            f"(p={oof.topic_p[i].max():.2f}, p(label)={oof.topic_p[i, given[i]]:.2f})"))
    framed = np.flatnonzero(data.topics == schema.frames_topic)
    frame_issues = []
    if len(framed) and schema.frames:
        labels = [[schema.frames.index(f) for f in data.frames[i]] for i in framed]
        ranked = find_label_issues(labels, oof.frame_p[framed], multi_label=True,
                                   return_indices_ranked_by="self_confidence")
        for k in ranked:
            i = framed[k]
            p = ", ".join(f"{f}={oof.frame_p[i, j]:.2f}" for j, f in enumerate(schema.frames))
            frame_issues.append((i, f"suspect frames: labeled [{', '.join(data.frames[i])}], model p: {p}"))
    chosen: dict[int, str] = {}
    for pair in chain.from_iterable(zip_longest(disputed, frame_issues)):
        if pair is not None and pair[0] not in chosen:
            chosen[pair[0]] = pair[1]
    return [(data.paragraphs[i], why) for i, why in list(chosen.items())[:n]]


def write_suspects(output: str, n: int, *, config_path=None, overrides: dict | None = None) -> int:
    """Write the ``n`` most disputed labeled paragraphs as a re-read batch; → the number written."""
    config = load_config(config_path, overrides)
    schema = load_schema(config["labels"]["schema"])
    picked = find_suspects(config, schema, dataset_for(config, schema), n)
    write_batch(Path(output), picked)
    return len(picked)
