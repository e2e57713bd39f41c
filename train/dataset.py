"""Labeled dataset assembly: corpus paragraphs + adjudicated stand-off labels → arrays for fitting.

Two datasets come out of ``labels/``: the training set (``labels/annotations``: cross-validation,
holdout, final fit) and the frozen test set (``labels/test``: reported, never used to fit or select).
Every paragraph dated on a test date, and every paragraph whose text is in the test set, is kept out of
the training set, whatever the annotations hold.
"""
from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import yaml

from ctframe import LABELS_DIR, CtframeError
from ctframe.features.corpus import corpus_files, load_snn_paragraphs, read_jsonl
from ctframe.features.segment import Paragraph, context_text, text_sha1
from ctframe.train.labels import ANNOTATIONS_DIR, check_against_corpus, final_labels, load_records
from ctframe.train.schema import Schema

TEST_DIR = LABELS_DIR / "test"


@dataclass
class Dataset:
    paragraphs: list[Paragraph]
    topics: np.ndarray
    frames: list[tuple[str, ...]]
    groups: np.ndarray  # articles, joined when they share an identical paragraph
    fingerprint: str
    contexts: list[str] = field(default_factory=list)  # each paragraph's neighbours in its article
    strata: np.ndarray = field(default_factory=lambda: np.array([]))  # test set: each paragraph's sampling stratum

    @property
    def texts(self) -> list[str]:
        return [p.text for p in self.paragraphs]

    @property
    def inputs(self):
        """What models read: each paragraph's text, its article's title and its neighbours (``as_frame``)."""
        import pandas as pd

        return pd.DataFrame({"text": self.texts, "title": [p.title for p in self.paragraphs],
                             "context": self.contexts or [""] * len(self.paragraphs)})

    @property
    def dates(self) -> np.ndarray:
        return np.array([p.date for p in self.paragraphs])

    def subset(self, mask: np.ndarray) -> "Dataset":
        idx = np.flatnonzero(mask)
        return Dataset([self.paragraphs[i] for i in idx], self.topics[idx], [self.frames[i] for i in idx],
                       self.groups[idx], self.fingerprint, [self.contexts[i] for i in idx] if self.contexts else [],
                       self.strata[idx] if len(self.strata) else self.strata)


@dataclass(frozen=True)
class TestDesign:
    """The frozen test set's design (``labels/test/design.yaml``) and its sample (``sample.jsonl``)."""

    folder: Path
    dates: frozenset[str]
    seed: int
    strata: dict[str, int]
    sample: dict[str, tuple[str, str]]  # ref → (sha1, stratum)
    texts: frozenset[str] = frozenset()  # the sample's paragraph sha1s

    def holds(self, paragraph: Paragraph) -> bool:
        """Whether ``paragraph`` belongs to the test side: dated on a test date, or a test paragraph's text."""
        return paragraph.date in self.dates or paragraph.sha1 in self.texts


def load_test_design(folder: Path) -> TestDesign | None:
    """The test design in ``folder``, or None when the folder has none (e.g. a small experiment's labels)."""
    folder = Path(folder)
    if not (folder / "design.yaml").is_file():
        return None
    try:
        design = yaml.safe_load((folder / "design.yaml").read_text(encoding="utf-8"))
        sample = {}
        if (folder / "sample.jsonl").is_file():
            sample = {row["ref"]: (row["sha1"], row["stratum"]) for _, row in read_jsonl(folder / "sample.jsonl")}
        return TestDesign(folder, frozenset(design["dates"]), int(design["seed"]), dict(design["strata"]), sample,
                          frozenset(sha1 for sha1, _ in sample.values()))
    except (yaml.YAMLError, KeyError, TypeError, ValueError) as exc:
        raise CtframeError(f"{folder}: a test design needs design.yaml (dates, seed, strata) and sample.jsonl "
                           f"rows of ref, sha1, stratum ({type(exc).__name__}: {exc})") from exc


def corpus_index(corpus_path=None) -> dict[str, Paragraph]:
    """Every corpus paragraph by id (the index stand-off labels are resolved against). Read once per
    process while the corpus files are unchanged; callers must not modify it."""
    files = tuple((str(f), f.stat().st_mtime_ns, f.stat().st_size) for f in corpus_files(corpus_path))
    return _index(corpus_path, files)


@functools.lru_cache(maxsize=2)
def _index(corpus_path, files: tuple) -> dict[str, Paragraph]:
    return {p.id: p for p in load_snn_paragraphs(corpus_path)}


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


DATA_FILES = ("*.jsonl", "readings/*.jsonl", "design.yaml")  # what a label folder's data is (no locks, journals)


def fingerprint(label_dirs: list[Path], corpus_path=None) -> str:
    """sha256 over the label files (readings, and a test set's design and sample) and the corpus zips:
    identifies the data a run saw. Lock files, journals and temporary files do not count."""
    digest = hashlib.sha256()
    for folder in map(Path, label_dirs):
        files = sorted({p for pattern in DATA_FILES for p in folder.glob(pattern) if not p.name.startswith(".")})
        for path in files:
            digest.update(path.relative_to(folder).as_posix().encode())
            digest.update(hashlib.sha256(path.read_bytes()).digest())
    for path in corpus_files(corpus_path):
        digest.update(path.name.encode())
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def _labeled(schema: Schema, label_dir: Path, index: dict[str, Paragraph], skip_stale: bool):
    records = load_records(schema, label_dir)
    if not records:
        raise CtframeError(f"no labels found in {label_dir}")
    return final_labels(check_against_corpus(records, index, skip_stale))


def neighbours(paragraph: Paragraph, index: dict[str, Paragraph]) -> str:
    """The context of ``paragraph``: the paragraphs before and after it in its article."""
    return context_text(index.get(f"{paragraph.article_id}#{paragraph.index + step}") for step in (-1, 1))


def _dataset(refs: list[str], labels: dict, index: dict[str, Paragraph], fingerprint_: str) -> Dataset:
    paragraphs = [index[ref] for ref in refs]
    return Dataset(paragraphs, np.array([labels[p.id][0] for p in paragraphs]),
                   [labels[p.id][1] for p in paragraphs], duplicate_aware_groups(paragraphs), fingerprint_,
                   [neighbours(p, index) for p in paragraphs])


def load_dataset(schema: Schema, label_dir: Path | None = None, corpus_path=None, skip_stale: bool = False,
                 test_dir: Path | None = None) -> Dataset:
    """The labeled training paragraphs with their adjudicated labels, resolved against the corpus; nothing
    dated on a test date nor sharing a test paragraph's text (``test_dir``: default beside ``label_dir``)."""
    label_dir = Path(label_dir or ANNOTATIONS_DIR)
    test_dir = default_test_dir(label_dir, test_dir)
    index = corpus_index(corpus_path)
    labels = _labeled(schema, label_dir, index, skip_stale)
    design = load_test_design(test_dir)
    refs = [ref for ref in sorted(labels) if design is None or not design.holds(index[ref])]
    return _dataset(refs, labels, index, fingerprint([label_dir, test_dir], corpus_path))


def load_test_set(schema: Schema, test_dir: Path = TEST_DIR, corpus_path=None) -> Dataset:
    """The frozen test set: its sample, labeled by the majority of its readings (``test_dir/readings``)."""
    design = load_test_design(test_dir)
    if design is None or not design.sample:
        raise CtframeError(f"no test set in {test_dir} (design.yaml and sample.jsonl)")
    index = corpus_index(corpus_path)
    labels = _labeled(schema, Path(test_dir) / "readings", index, skip_stale=False)
    unread = sorted(set(design.sample) - set(labels))
    if unread:
        raise CtframeError(f"{len(unread)} test paragraph(s) have no reading yet, first: {unread[0]}")
    refs = sorted(design.sample)
    data = _dataset(refs, labels, index, fingerprint([Path(test_dir)], corpus_path))
    data.strata = np.array([design.sample[ref][1] for ref in refs])
    return data


def test_dir_for(config: dict) -> Path:
    """The test set folder of a config: ``labels.test``, else ``test/`` beside the annotations."""
    return default_test_dir(config["labels"]["path"], config["labels"]["test"])


def default_test_dir(label_dir=None, test_dir=None) -> Path:
    """The test set folder: ``test_dir`` if given, else ``test/`` beside the annotations folder."""
    return Path(test_dir or Path(label_dir or ANNOTATIONS_DIR).parent / "test")


def current_fingerprint(config: dict) -> str:
    """The fingerprint of the data a config names, as the files are now."""
    label_dir = Path(config["labels"]["path"] or ANNOTATIONS_DIR)
    return fingerprint([label_dir, test_dir_for(config)], config["corpus"]["path"])


def dataset_for(config: dict, schema: Schema) -> Dataset:
    """The labeled training dataset a config's ``labels`` and ``corpus`` sections name."""
    labels = config["labels"]
    return load_dataset(schema, labels["path"], config["corpus"]["path"], labels["skip_stale"], test_dir_for(config))


def test_set_for(config: dict, schema: Schema) -> Dataset | None:
    """The config's frozen test set, or None where its labels have none."""
    design = load_test_design(test_dir_for(config))
    if design is None or not design.sample:
        return None
    return load_test_set(schema, design.folder, config["corpus"]["path"])
