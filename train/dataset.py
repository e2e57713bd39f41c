"""Labeled dataset assembly: corpus paragraphs + adjudicated stand-off labels → arrays for fitting."""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from features.corpus import corpus_files, load_snn_paragraphs
from features.errors import CtframeError
from features.segment import Paragraph, text_sha1
from train.labels import ANNOTATIONS_DIR, check_against_corpus, final_labels, load_records
from train.schema import Schema


@dataclass
class Dataset:
    paragraphs: list[Paragraph]
    topics: np.ndarray
    frames: list[tuple[str, ...]]
    groups: np.ndarray  # articles, joined when they share an identical paragraph
    fingerprint: str

    @property
    def texts(self) -> list[str]:
        return [p.text for p in self.paragraphs]

    @property
    def dates(self) -> np.ndarray:
        return np.array([p.date for p in self.paragraphs])

    def subset(self, mask: np.ndarray) -> "Dataset":
        idx = np.flatnonzero(mask)
        return Dataset([self.paragraphs[i] for i in idx], self.topics[idx], [self.frames[i] for i in idx],
                       self.groups[idx], self.fingerprint)


def duplicate_aware_groups(paragraphs: list[Paragraph]) -> np.ndarray:
    """Group ids: paragraphs of one article share one, and so do articles holding the same paragraph text."""
    parent: dict[str, str] = {}

    def find(x: str) -> str:
        while parent.setdefault(x, x) != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    first_article_of_text: dict[str, str] = {}
    for p in paragraphs:
        other = first_article_of_text.setdefault(text_sha1(p.text), p.article_id)
        parent[find(p.article_id)] = find(other)
    roots = [find(p.article_id) for p in paragraphs]
    ids = {root: i for i, root in enumerate(dict.fromkeys(roots))}
    return np.array([ids[r] for r in roots])


def fingerprint(label_dir: Path, corpus_path=None) -> str:
    """sha256 over the label files and the corpus zips: identifies the data a run saw."""
    digest = hashlib.sha256()
    for path in sorted(Path(label_dir).glob("*.jsonl")) + corpus_files(corpus_path):
        digest.update(path.name.encode())
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def load_dataset(schema: Schema, label_dir: Path | None = None, corpus_path=None,
                 skip_stale: bool = False) -> Dataset:
    """The labeled paragraphs with their adjudicated labels, resolved against the corpus."""
    label_dir = Path(label_dir or ANNOTATIONS_DIR)
    records = load_records(schema, label_dir)
    if not records:
        raise CtframeError(f"no labels found in {label_dir}")
    by_id = {p.id: p for p in load_snn_paragraphs(corpus_path)}
    labels = final_labels(check_against_corpus(records, by_id, skip_stale))
    paragraphs = [by_id[ref] for ref in sorted(labels)]
    return Dataset(paragraphs, np.array([labels[p.id][0] for p in paragraphs]),
                   [labels[p.id][1] for p in paragraphs], duplicate_aware_groups(paragraphs),
                   fingerprint(label_dir, corpus_path))


def dataset_for(config: dict, schema: Schema) -> Dataset:
    """The labeled dataset a config's ``labels`` and ``corpus`` sections name."""
    return load_dataset(schema, config["labels"]["path"], config["corpus"]["path"], config["labels"]["skip_stale"])
