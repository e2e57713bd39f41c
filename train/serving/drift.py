"""`ctframe drift`: does the model know this press? New archives against the training data, per source
(or per file when the records name no source): the share of character n-grams never seen in training, the
distribution of top-topic confidence, predicted topic and frame shares beside the training shares, and the
paragraphs the model is least sure of. A source far from the training data is named in one line."""
from __future__ import annotations

import base64
import io
import json
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np

from ctframe import CHAMPION_DIR, CtframeError, write_atomically
from ctframe.features.corpus import iter_inputs
from ctframe.features.segment import article_context
from ctframe.train.families import load_exported
from ctframe.train.predictions import predict_records

UNSEEN_WARN = 0.10  # a source whose n-grams are this often unseen in training is far from it
CONFIDENCE_WARN = 0.60  # ... or whose mean top-topic confidence is below this


def unseen_share(model, texts: list[str]) -> float | None:
    """Share of the texts' character n-grams (hashed) whose column never occurred in training (None when
    the model's features are not hashed n-grams)."""
    text_block = model.features_.named_transformers_["text"]
    char = text_block.named_steps["tfidf"]
    if not hasattr(char, "named_steps") or "count" not in char.named_steps:
        return None
    idf = char.named_steps["tfidf"].idf_
    unseen = np.isclose(idf, idf.max())  # document frequency 0 in training (smoothed idf is largest there)
    counts = char.named_steps["count"].transform(text_block.named_steps["normalize"].transform(texts))
    total = counts.sum()
    return float(counts[:, unseen].sum() / total) if total else 0.0


def _files(inputs: list[str]) -> list[str]:
    out = []
    for name in inputs:
        path = Path(name)
        out += [str(p) for p in sorted(path.rglob("*")) if p.is_file() and p.suffix in (".txt", ".jsonl", ".zip")] \
            if path.is_dir() else [name]
    return out


def drift(inputs: list[str], *, model_dir=CHAMPION_DIR, least: int = 10) -> dict:
    """The drift figures of every source of ``inputs``, worst first, and one line per far source."""
    model = load_exported(model_dir)
    shares = getattr(model, "label_shares_", None)
    groups: dict[str, list[tuple]] = defaultdict(list)
    for file in _files(inputs):
        for article in iter_inputs([file]):
            paragraphs = article.paragraphs()
            for i, p in enumerate(paragraphs):
                groups[article.source or Path(file).name].append((p.id, p.text, article.title,
                                                                   article_context(paragraphs, i)))
    if not groups:
        raise CtframeError("no paragraphs in the inputs")
    sources = []
    for source, rows in groups.items():
        found = predict_records(model, {"text": [r[1] for r in rows], "title": [r[2] for r in rows],
                                        "context": [r[3] for r in rows]})
        confidence = np.array([max(p.topic_scores.values()) for p in found])
        topics = Counter(p.topic for p in found)
        frames = Counter(f for p in found for f in p.frames)
        order = np.argsort(confidence)[:least]
        entry = {"source": source, "paragraphs": len(rows), "unseen_ngram_share": unseen_share(model, [r[1] for r in rows]),
                 "mean_confidence": float(confidence.mean()),
                 "confidence_histogram": np.histogram(confidence, bins=10, range=(0, 1))[0].tolist(),
                 "topic_shares": {t: topics[t] / len(rows) for t in model.topics},
                 "frame_shares": {f: frames[f] / len(rows) for f in model.frames},
                 "least_sure": [{"id": rows[k][0], "text": rows[k][1], "topic": found[k].topic,
                                 "confidence": round(float(confidence[k]), 4)} for k in order]}
        unseen = entry["unseen_ngram_share"] or 0.0
        entry["far"] = unseen > UNSEEN_WARN or entry["mean_confidence"] < CONFIDENCE_WARN
        sources.append(entry)
    sources.sort(key=lambda e: (-(e["unseen_ngram_share"] or 0.0), e["mean_confidence"]))
    lines = [f"{e['source']}: far from the training data ({(e['unseen_ngram_share'] or 0):.1%} of its n-grams unseen, "
             f"mean confidence {e['mean_confidence']:.2f}); label from this source next" for e in sources if e["far"]]
    return {"model": str(model_dir), "training_shares": shares, "sources": sources, "warnings": lines}


def _plot(report: dict) -> str:
    """Confidence histograms of every source, as an embedded PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 4))
    centers = np.arange(0.05, 1.0, 0.1)
    width = 0.08 / max(len(report["sources"]), 1)
    for k, e in enumerate(report["sources"]):
        counts = np.array(e["confidence_histogram"]) / max(e["paragraphs"], 1)
        ax.bar(centers - 0.04 + k * width, counts, width, label=e["source"][:30])
    ax.set(xlabel="top-topic confidence", ylabel="share of paragraphs", title="Confidence by source")
    ax.legend(fontsize=7)
    buffer = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buffer, format="png", dpi=100)
    plt.close(fig)
    return base64.b64encode(buffer.getvalue()).decode()


PAGE = """<!doctype html><html><head><meta charset="utf-8"><title>ctframe drift</title>
<style>body{font-family:sans-serif;margin:2em} td,th{padding:2px 8px;text-align:right} .far{color:#b00}
.ar{direction:rtl;unicode-bidi:plaintext;text-align:right}</style></head><body>
<h1>Drift against the training data</h1>
{% for line in report.warnings %}<p class="far">{{ line }}</p>{% endfor %}
<table><tr><th>source</th><th>paragraphs</th><th>unseen n-grams</th><th>mean confidence</th>
{% for t in topics %}<th>{{ t }}</th>{% endfor %}{% for f in frames %}<th>{{ f }}</th>{% endfor %}</tr>
{% if report.training_shares %}<tr><td>training labels</td><td></td><td>0</td><td></td>
{% for t in topics %}<td>{{ '%.2f'|format(report.training_shares.topics[t]) }}</td>{% endfor %}
{% for f in frames %}<td>{{ '%.2f'|format(report.training_shares.frames[f]) }}</td>{% endfor %}</tr>{% endif %}
{% for e in report.sources %}<tr class="{{ 'far' if e.far else '' }}"><td>{{ e.source }}</td><td>{{ e.paragraphs }}</td>
<td>{{ '%.3f'|format(e.unseen_ngram_share or 0) }}</td><td>{{ '%.2f'|format(e.mean_confidence) }}</td>
{% for t in topics %}<td>{{ '%.2f'|format(e.topic_shares[t]) }}</td>{% endfor %}
{% for f in frames %}<td>{{ '%.2f'|format(e.frame_shares[f]) }}</td>{% endfor %}</tr>{% endfor %}</table>
<img src="data:image/png;base64,{{ plot }}">
{% for e in report.sources %}<h2>{{ e.source }}: least sure</h2>
{% for p in e.least_sure %}<p class="ar">{{ p.text }} <small dir="ltr">({{ p.topic }}, {{ p.confidence }})</small></p>{% endfor %}
{% endfor %}</body></html>"""


def write_drift(inputs: list[str], *, model_dir=CHAMPION_DIR, output: str | None = None, as_json: bool = False) -> str:
    """Run ``drift``; write the HTML page to ``output`` if given; → the warnings, or the JSON."""
    from jinja2 import Environment

    report = drift(inputs, model_dir=model_dir)
    if output:
        model = load_exported(model_dir)
        page = Environment(autoescape=True).from_string(PAGE).render(
            report=report, topics=list(model.topics), frames=list(model.frames), plot=_plot(report))
        write_atomically(Path(output), [page])
    if as_json:
        return json.dumps(report, indent=2, ensure_ascii=False)
    summary = [f"{e['source']}: {e['paragraphs']} paragraphs, unseen n-grams {(e['unseen_ngram_share'] or 0):.1%}, "
               f"mean confidence {e['mean_confidence']:.2f}" for e in report["sources"]]
    return "\n".join(summary + report["warnings"])
