"""`ctframe view`: scored articles as one self-contained HTML page (right-to-left), each paragraph with
its topic, its frames as chips and its evidence highlighted in place, an article summary on top and a
filter by frame (the page itself: ``ctframe.train.evidence.render_page``)."""
from __future__ import annotations

from pathlib import Path

from ctframe import CHAMPION_DIR, write_atomically
from ctframe.features.corpus import iter_inputs
from ctframe.train.evidence import render_page, scored_articles
from ctframe.train.families import load_exported
from ctframe.train.serving.score import batches, units


def view(inputs: list[str], output: str, *, model_dir=CHAMPION_DIR, batch_size: int = 256) -> int:
    """Score and explain the articles of ``inputs``; write the page to ``output``. → articles shown."""
    model = load_exported(model_dir)
    articles: dict[str, dict] = {}
    for batch in batches(units(iter_inputs(inputs), as_paragraphs=False), batch_size):
        for article in scored_articles(model, [(row[0], row[3], row[2], row[4]) for row in batch]):
            articles.setdefault(article["id"], {**article, "paragraphs": []})["paragraphs"] += article["paragraphs"]
    write_atomically(Path(output), [render_page(list(articles.values()), list(model.frames))])
    return len(articles)
