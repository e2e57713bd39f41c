"""Drawing the frozen test set by its design (``labels/test/design.yaml``), reproducibly.

The candidates are the distinct paragraph texts of the test dates that appear on no other date; the
``keyword`` stratum draws uniformly from those holding a terrorism keyword (as ``labels queue`` finds them),
the ``uniform`` stratum from all of them (1.25× its size drawn, the first ones the keyword stratum did not
take kept). Drawn once, read three
times; the sample is stored as stand-off refs (``sample.jsonl``).
"""
from __future__ import annotations

import json
import random
from pathlib import Path

from ctframe import write_atomically
from ctframe.features.segment import Paragraph
from ctframe.train.dataset import TestDesign, corpus_index, load_test_design
from ctframe.train.labeling.queue import keyword_pools, write_batch
from ctframe.train.schema import Schema, load_schema


def sample_test_set(paragraphs: list[Paragraph], schema: Schema, design: TestDesign) -> list[tuple[Paragraph, str]]:
    """The test sample as (paragraph, stratum), in a seeded shuffled order."""
    elsewhere = {p.sha1 for p in paragraphs if p.date not in design.dates}
    candidates: dict[str, Paragraph] = {}
    for p in paragraphs:
        if p.date in design.dates and p.sha1 not in elsewhere:
            candidates.setdefault(p.sha1, p)
    pool = list(candidates.values())
    keyword = {p.id for p in keyword_pools(pool, schema).get(schema.frames_topic, [])}
    rng = random.Random(design.seed)
    taken = rng.sample(sorted((p for p in pool if p.id in keyword), key=lambda p: p.id), design.strata["keyword"])
    chosen = {p.id for p in taken}
    size = design.strata["uniform"]
    drawn = rng.sample(sorted(pool, key=lambda p: p.id), min(len(pool), size + size // 4))  # room for overlaps
    uniform = [p for p in drawn if p.id not in chosen][:size]
    rows = [(p, "keyword") for p in taken] + [(p, "uniform") for p in uniform]
    rng.shuffle(rows)
    return rows


def draw_test_sample(test_dir: Path, batch: str, *, corpus=None, schema_path=None) -> int:
    """Draw the sample of ``test_dir``'s design: write ``sample.jsonl`` there and the reading batch to
    ``batch``. Refuses to redraw a sample that exists (the test set is frozen). → paragraphs drawn."""
    from ctframe import CtframeError

    design = load_test_design(test_dir)
    if design is None:
        raise CtframeError(f"{test_dir}: no design.yaml")
    if design.sample:
        raise CtframeError(f"{test_dir}: the test sample is drawn already (sample.jsonl); it stays frozen")
    rows = sample_test_set(list(corpus_index(corpus).values()), load_schema(schema_path), design)
    write_atomically(Path(test_dir) / "sample.jsonl",
                     [json.dumps({"ref": p.id, "sha1": p.sha1, "stratum": s}, ensure_ascii=False) for p, s in rows])
    write_batch(Path(batch), [(p, f"test:{s}") for p, s in rows])
    return len(rows)
