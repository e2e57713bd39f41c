"""`ctframe score`: articles or paragraphs in, one JSON line per paragraph out.

The exported model is read directly, so scoring imports no MLflow: its array form (``train/arrays.py``,
which needs no scikit-learn either) when it has one, else the skops file behind the pyfunc with the same
allow-list. The pyfunc, the REST servers and Spark run the same ``predict_records``, and the two forms give
the same numbers, so every front end does (tested)."""
from __future__ import annotations

import itertools
import json
import os
import sys
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tqdm import tqdm

from ctframe import CHAMPION_DIR, CtframeError
from ctframe.features.corpus import Article, iter_inputs
from ctframe.features.segment import article_context
from ctframe.train.arrays import load_scorer
from ctframe.train.families import require_exported
from ctframe.train.predictions import predict_records

BATCH_SIZE = 512


def units(articles: Iterator[Article], as_paragraphs: bool) -> Iterator[tuple[str, int, str, str, str]]:
    """(id, paragraph index, text, article title, context) for every paragraph to score; the context is
    the neighbouring paragraphs (none with ``as_paragraphs``)."""
    for article in articles:
        if as_paragraphs:
            yield article.id, 0, article.text, article.title, ""
        else:
            paragraphs = article.paragraphs()
            if not paragraphs:
                raise CtframeError(f"{article.id}: no paragraphs after segmentation")
            for i, p in enumerate(paragraphs):
                yield article.id, p.index, p.text, article.title, article_context(paragraphs, i)


def records(model, rows: list[tuple], explain: bool = False) -> list[dict]:
    """Score one batch of ``units`` with a fitted model into output records
    (``{"id", "paragraph", **Prediction.to_json()}``, and ``evidence`` with ``explain``)."""
    inputs = {"text": [r[2] for r in rows], "title": [r[3] for r in rows], "context": [r[4] for r in rows]}
    out = [{"id": row[0], "paragraph": row[1], **prediction.to_json()}
           for row, prediction in zip(rows, predict_records(model, inputs))]
    if explain:
        from ctframe.train.evidence import explain as evidence

        for record, found in zip(out, evidence(model, inputs)):
            record["evidence"] = found
    return out


def _complete_lines(path: Path) -> int:
    """Lines of an interrupted run's ``.part`` file; a torn last line is cut off."""
    data = path.read_bytes()
    keep = data.rfind(b"\n") + 1
    if keep < len(data):
        with path.open("r+b") as handle:
            handle.truncate(keep)
    return data[:keep].count(b"\n")


@contextmanager
def output_stream(out: str | None, resume: bool = False):
    """Yields (handle, lines already written). stdout, or ``<out>.part`` renamed onto ``out`` when all
    went well. Bad input removes the ``.part`` file; an interruption keeps it for ``--resume``."""
    if out in (None, "-"):
        yield sys.stdout, 0
        return
    target = Path(out)
    target.parent.mkdir(parents=True, exist_ok=True)
    part = target.with_name(target.name + ".part")
    done = _complete_lines(part) if resume and part.exists() else 0
    try:
        with part.open("a" if done else "w", encoding="utf-8") as handle:
            yield handle, done
        os.replace(part, target)
    except (KeyboardInterrupt, SystemExit):
        print(f"ctframe: interrupted; {part} keeps the lines written so far (rerun with --resume)", file=sys.stderr)
        raise
    except BaseException:
        part.unlink(missing_ok=True)
        raise


def summarize(lines: list[dict]) -> dict:
    """Per-article summary: paragraph count, topic counts, frame counts."""
    return {"id": lines[0]["id"], "paragraphs": len(lines),
            "topics": dict(Counter(line["topic"] for line in lines)),
            "frames": dict(Counter(f for line in lines for f in line["frames"]))}


def batches(stream: Iterator, size: int) -> Iterator[list]:
    batch = []
    for item in stream:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


_worker_model = None


def _init_worker(model_dir) -> None:
    global _worker_model
    _worker_model = load_scorer(model_dir)


def _score_in_worker(rows, explain):
    return records(_worker_model, rows, explain)


def scored_batches(model_dir, rows: Iterator[list], jobs: int, explain: bool = False) -> Iterator[list[dict]]:
    """Scored batches in input order; with ``jobs`` > 1, worker processes each hold the model and at
    most ``2 * jobs`` batches are in flight, so memory stays bounded however long the input."""
    if jobs <= 1:
        model = load_scorer(model_dir)
        for batch in rows:
            yield records(model, batch, explain)
        return
    from collections import deque
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(jobs, initializer=_init_worker, initargs=(str(model_dir),)) as pool:
        pending: deque = deque()
        for batch in rows:
            pending.append(pool.submit(_score_in_worker, batch, explain))
            if len(pending) >= 2 * jobs:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()


def score(inputs: list[str], *, model_dir=CHAMPION_DIR, out: str | None = None, as_paragraphs: bool = False,
          summary: str | None = None, batch_size: int = BATCH_SIZE, jobs: int = 1, resume: bool = False,
          explain: bool = False) -> int:
    """Score every input as a stream; returns the number of paragraphs written by this run."""
    require_exported(model_dir)
    if summary and resume:
        raise CtframeError("--summary cannot be combined with --resume")
    jobs = jobs if jobs > 0 else (os.cpu_count() or 1)
    written = 0
    by_article: dict[str, list[dict]] = {}
    with output_stream(out, resume) as (handle, done), \
            tqdm(desc="scoring", unit="para", initial=done, disable=None, file=sys.stderr) as bar:
        stream = itertools.islice(units(iter_inputs(inputs), as_paragraphs), done, None)
        for scored in scored_batches(model_dir, batches(stream, batch_size), jobs, explain):
            for record in scored:
                handle.write(json.dumps(record, ensure_ascii=False) + "\n")
                if summary:
                    by_article.setdefault(record["id"], []).append(record)
            handle.flush()
            written += len(scored)
            bar.update(len(scored))
        if written + done == 0:
            raise CtframeError("no text to score in the inputs")
    if summary:
        with output_stream(summary) as (summary_handle, _):
            for lines in by_article.values():
                summary_handle.write(json.dumps(summarize(lines), ensure_ascii=False) + "\n")
    return written
