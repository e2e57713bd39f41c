"""Choose which paragraphs to label next. Rules and models pick candidates here; people decide labels."""
from __future__ import annotations

import json
import random
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from ctframe import CtframeError
from ctframe.features.corpus import corpus_files, iter_snn_zip, read_jsonl
from ctframe.features.normalize import ArabicNormalizer
from ctframe.features.segment import Paragraph
from ctframe import write_atomically
from ctframe.train.families.keywords import KeywordRules
from ctframe.train.dataset import corpus_index, default_test_dir, load_test_design, neighbours
from ctframe.train.labeling import HARD_SHARE, RANDOM_SHARE, UNCERTAIN_SHARE
from ctframe.train.labels import ANNOTATIONS_DIR, load_records
from ctframe.train.schema import Schema, load_schema
from ctframe.train.families import load_exported

MIN_CANDIDATE_CHARS = 40


def keyword_pools(paragraphs: list[Paragraph], schema: Schema) -> dict[str, list[Paragraph]]:
    """Candidates per label: paragraphs whose normalized text holds one of its keywords.
    Frame candidates must also hold a keyword of the frames topic (frames exist only under it)."""
    texts = ArabicNormalizer().transform(p.text for p in paragraphs)
    rules = KeywordRules(list(schema.topics), list(schema.frames), schema.frames_topic, {}, schema.lexicon())
    hits = rules.hits(texts)
    on_topic = hits[schema.frames_topic] & np.array([len(t) >= MIN_CANDIDATE_CHARS for t in texts], dtype=bool)
    pools = {schema.frames_topic: on_topic, **{frame: hits[frame] & on_topic for frame in schema.frames}}
    return {label: [paragraphs[i] for i in np.flatnonzero(mask)] for label, mask in pools.items() if mask.any()}


def model_picks(paragraphs: list[Paragraph], model, rng: random.Random, index: dict[str, Paragraph],
                pool_size: int = 60000) -> tuple[list[Paragraph], list[Paragraph]]:
    """Two orders over a random pool, each paragraph read with its title and neighbours (``index``):
    least sure first (smallest topic margin, or a frame probability nearest its threshold), and the
    confusable calls in random order (a frame called, or the frames topic or boilerplate called), where
    hard negatives such as arrests after an attack or a passing counter-terrorism clause live."""
    pool = rng.sample(paragraphs, min(pool_size, len(paragraphs)))
    topic_p, frame_p = model.predict_proba({"text": [p.text for p in pool], "title": [p.title for p in pool],
                                            "context": [neighbours(p, index) for p in pool]})
    top2 = np.sort(topic_p, axis=1)[:, -2:]
    topic_margin = top2[:, 1] - top2[:, 0]
    frame_margin = np.abs(frame_p - model.thresholds_).min(axis=1) if frame_p.shape[1] else topic_margin
    least_sure = [pool[i] for i in np.argsort(np.minimum(topic_margin, frame_margin))]
    topics, frames = model.decide(topic_p, frame_p)
    called = frames.any(axis=1) | np.isin(topics, [model.frames_topic, "boilerplate"])
    confusable = [pool[i] for i in np.flatnonzero(called)]
    rng.shuffle(confusable)
    return least_sure, confusable


def make_queue(paragraphs: list[Paragraph], schema: Schema, n: int, *, exclude: set[str],
               random_share: float = RANDOM_SHARE, uncertain_share: float = 0.0, hard_share: float = 0.0,
               model=None, seed: int = 0) -> list[tuple[Paragraph, str]]:
    """``n`` unlabeled paragraphs, one per distinct text and none whose text is in ``exclude`` (by id), each
    with why it was chosen: ``random``, ``keyword:<label>``
    (rarest labels first, round-robin), ``uncertain`` or ``hard`` (a confusable call of ``model``)."""
    shares = random_share + (uncertain_share + hard_share if model is not None else 0.0)
    if not 0 <= shares <= 1 + 1e-9:
        raise CtframeError(f"the random, uncertain and hard shares add up to {shares:g}; they must not exceed 1")
    rng = random.Random(seed)
    closed_texts = {p.sha1 for p in paragraphs if p.id in exclude}
    open_paragraphs = list({p.sha1: p for p in paragraphs if p.sha1 not in closed_texts}.values())
    chosen: dict[str, tuple[Paragraph, str]] = {}

    def take(candidates: list[Paragraph], why: str, k: int) -> None:
        for paragraph in candidates:
            if k <= 0:
                return
            if paragraph.id not in chosen:
                chosen[paragraph.id] = (paragraph, why)
                k -= 1

    if model is not None and uncertain_share + hard_share > 0:
        least_sure, confusable = model_picks(open_paragraphs, model, rng, {p.id: p for p in paragraphs})
        take(least_sure, "uncertain", round(n * uncertain_share))
        take(confusable, "hard", round(n * hard_share))
    take(rng.sample(open_paragraphs, min(len(open_paragraphs), n)), "random", round(n * random_share))
    pools = {label: rng.sample(pool, len(pool)) for label, pool in keyword_pools(open_paragraphs, schema).items()}
    order = sorted(pools, key=lambda label: len(pools[label]))  # rarest first
    cursors = dict.fromkeys(order, 0)
    while len(chosen) < n and any(cursors[l] < len(pools[l]) for l in order):
        for label in order:
            while cursors[label] < len(pools[label]):
                paragraph = pools[label][cursors[label]]
                cursors[label] += 1
                if paragraph.id not in chosen:
                    chosen[paragraph.id] = (paragraph, f"keyword:{label}")
                    break
            if len(chosen) >= n:
                break
    take(rng.sample(open_paragraphs, min(len(open_paragraphs), 3 * n)), "random", n - len(chosen))
    picked = list(chosen.values())
    rng.shuffle(picked)
    return picked


def write_batch(path: Path, picked: list[tuple[Paragraph, str]]) -> None:
    """A batch file for annotators: one JSON line per paragraph, with its text, title, source and date."""
    write_atomically(Path(path), [json.dumps({"n": i, "ref": p.id, "sha1": p.sha1, "source": p.source,
                                              "date": p.date, "title": p.title, "text": p.text, "why": why},
                                             ensure_ascii=False)
                                  for i, (p, why) in enumerate(picked, start=1)])


def batch_refs(paths: Iterable[Path]) -> set[str]:
    """Refs already sent out in earlier batch files (so concurrent batches do not overlap)."""
    return {data["ref"] for path in paths for _, data in read_jsonl(path)}


def queue(output: str, n: int, *, labels_dir: Path = ANNOTATIONS_DIR, corpus=None, exclude_batches=(),
          random_share: float = RANDOM_SHARE, uncertain_share: float = UNCERTAIN_SHARE,
          hard_share: float = HARD_SHARE, model_dir=None, seed: int = 0, schema_path=None,
          from_archives=()) -> int:
    """Write a batch of ``n`` paragraphs to read next: none already labeled or sent out in
    ``exclude_batches``, none of the frozen test set's dates or texts; with ``from_archives`` (daily zips of
    the corpus, e.g. a source `ctframe drift` found far), only their paragraphs. → the number written."""
    schema = load_schema(schema_path)
    labels_dir = Path(labels_dir)
    design = load_test_design(default_test_dir(labels_dir))
    paragraphs = [p for p in corpus_index(corpus).values() if design is None or not design.holds(p)]
    if from_archives:
        paragraphs = [p for p in paragraphs if p.id in archive_ids(from_archives, corpus)]
    exclude = {r.ref for r in load_records(schema, labels_dir)} | batch_refs(exclude_batches)
    model = load_exported(model_dir) if model_dir else None
    picked = make_queue(paragraphs, schema, n, exclude=exclude, random_share=random_share,
                        uncertain_share=uncertain_share, hard_share=hard_share, model=model, seed=seed)
    write_batch(Path(output), picked)
    return len(picked)


def archive_ids(archives, corpus=None) -> set[str]:
    """The paragraph ids of ``archives``, which must be files of the corpus: stand-off labels can only
    reference paragraphs that the corpus holds (by id and sha1)."""
    known = {path.resolve() for path in corpus_files(corpus)}
    ids = set()
    for archive in map(Path, archives):
        if archive.resolve() not in known:
            raise CtframeError(f"{archive}: not a file of the corpus folder; labels can only reference corpus "
                               "paragraphs, so add the archive to the corpus first")
        ids |= {p.id for article in iter_snn_zip(archive) for p in article.paragraphs()}
    return ids
