"""Commands over the label store (``labels/annotations``): import readings, export, statistics.

Readings come as label records, as answers keyed by the line numbers of a queue batch, or as Label Studio
exports; every import validates everything first, then merges (``ctframe.train.labels.import_records``).
"""
from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

from ctframe import write_atomically
from ctframe.train.dataset import corpus_index
from ctframe.train.labels import (ANNOTATIONS_DIR, check_against_corpus, final_labels, group_by_ref, import_records,
                                  load_records, read_records, records_from_answers, stats)
from ctframe.train.schema import load_schema


def import_files(files: list[str], *, labels_dir: Path = ANNOTATIONS_DIR, corpus=None, annotator: str | None = None,
                 batch: str | None = None, label_studio: bool = False, schema_path=None) -> Counter:
    """Validate and merge reading files into ``labels_dir``; → counts by outcome. With ``batch``, the files
    are answers keyed by that batch's line numbers; with ``label_studio``, Label Studio JSON exports."""
    schema = load_schema(schema_path)
    if label_studio:
        from ctframe.train.labeling.labelstudio import records_from_export

        new = [r for path in files for r in records_from_export(Path(path), schema, annotator)]
    elif batch:
        new = [r for path in files for r in records_from_answers(Path(path), Path(batch), schema, annotator)]
    else:
        new = [r for path in files for r in read_records(Path(path), schema, annotator)]
    return import_records(new, corpus_index(corpus), schema, Path(labels_dir))


def label_stats(*, labels_dir: Path = ANNOTATIONS_DIR, corpus=None, schema_path=None) -> dict:
    schema = load_schema(schema_path)
    return stats(load_records(schema, Path(labels_dir)), corpus_index(corpus), schema)


def export_labels(output: str, *, labels_dir: Path = ANNOTATIONS_DIR, corpus=None, with_text: bool = False,
                  skip_stale: bool = False, schema_path=None) -> int:
    """Write the adjudicated labels as JSONL (``id``, ``topic``, ``frames``, ``annotator``, optionally
    ``text``); → the number of paragraphs written."""
    schema = load_schema(schema_path)
    paragraphs = corpus_index(corpus)
    records = check_against_corpus(load_records(schema, Path(labels_dir)), paragraphs, skip_stale)
    groups = group_by_ref(records)
    lines = []
    for ref, (topic, frames) in sorted(final_labels(records).items()):
        row = {"id": ref, "topic": topic, "frames": list(frames),
               "annotator": "+".join(sorted({r.annotator for r in groups[ref]}))}
        if with_text:
            row["text"] = paragraphs[ref].text
        lines.append(json.dumps(row, ensure_ascii=False))
    write_atomically(output, lines)
    return len(lines)
