"""`ctframe score`: articles or paragraphs in, one JSON line per paragraph out (through the pyfunc model)."""
from __future__ import annotations

import json
import os
import sys
import tempfile
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pandas as pd
from tqdm import tqdm

from features.corpus import Article, iter_inputs
from features.errors import CtframeError
from train.tracking import CHAMPION_DIR

BATCH_SIZE = 512


def load_pyfunc(model_dir: str | Path = CHAMPION_DIR):
    """The exported pyfunc model: the same object `mlflow models serve` and Spark use."""
    import mlflow

    if not (Path(model_dir) / "MLmodel").is_file():
        raise CtframeError(f"no MLflow model at {model_dir} (run `make train`, or pass --model DIR)")
    return mlflow.pyfunc.load_model(str(model_dir))


def units(articles: Iterator[Article], as_paragraphs: bool) -> Iterator[tuple[str, int, str]]:
    """(id, paragraph index, text) for every paragraph to score."""
    for article in articles:
        if as_paragraphs:
            yield article.id, 0, article.text
        else:
            paragraphs = article.paragraphs()
            if not paragraphs:
                raise CtframeError(f"{article.id}: no paragraphs after segmentation")
            for p in paragraphs:
                yield article.id, p.index, p.text


def records(model, rows: list[tuple[str, int, str]]) -> list[dict]:
    """Score one batch of rows into output records."""
    result = model.predict(pd.DataFrame({"text": [text for _, _, text in rows]}))
    topic_cols = [c for c in result.columns if c.startswith("p_topic_")]
    frame_cols = [c for c in result.columns if c.startswith("p_frame_")]
    out = []
    for (ident, index, _), row in zip(rows, result.itertuples(index=False)):
        values = row._asdict()
        out.append({"id": ident, "paragraph": index, "topic": values["topic"],
                    "topic_scores": {c[len("p_topic_"):]: round(values[c], 6) for c in topic_cols},
                    "frames": list(values["frames"]),
                    "frame_scores": {c[len("p_frame_"):]: round(values[c], 6) for c in frame_cols}})
    return out


@contextmanager
def output_stream(out: str | None):
    """stdout, or a temporary file beside ``out`` renamed onto it only when everything succeeded."""
    if out in (None, "-"):
        yield sys.stdout
        return
    target = Path(out)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            yield handle
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def summarize(lines: list[dict]) -> dict:
    """Per-article summary: paragraph count, topic counts, frame counts."""
    return {"id": lines[0]["id"], "paragraphs": len(lines),
            "topics": dict(Counter(line["topic"] for line in lines)),
            "frames": dict(Counter(f for line in lines for f in line["frames"]))}


def score(inputs: list[str], model_dir=CHAMPION_DIR, out: str | None = None, as_paragraphs: bool = False,
          summary: str | None = None, batch_size: int = BATCH_SIZE) -> int:
    """Score every input; returns the number of paragraphs written."""
    model = load_pyfunc(model_dir)
    written = 0
    by_article: dict[str, list[dict]] = {}
    stream = units(iter_inputs(inputs), as_paragraphs)
    with output_stream(out) as handle, tqdm(desc="scoring", unit="para", disable=None, file=sys.stderr) as bar:
        batch: list[tuple[str, int, str]] = []
        for unit in stream:
            batch.append(unit)
            if len(batch) >= batch_size:
                written += _flush(model, batch, handle, by_article if summary else None)
                bar.update(len(batch))
                batch = []
        if batch:
            written += _flush(model, batch, handle, by_article if summary else None)
            bar.update(len(batch))
        if written == 0:
            raise CtframeError("no text to score in the inputs")
    if summary:
        with output_stream(summary) as handle:
            for lines in by_article.values():
                handle.write(json.dumps(summarize(lines), ensure_ascii=False) + "\n")
    return written


def _flush(model, batch, handle, by_article) -> int:
    for record in records(model, batch):
        handle.write(json.dumps(record, ensure_ascii=False) + "\n")
        if by_article is not None:
            by_article.setdefault(record["id"], []).append(record)
    return len(batch)
