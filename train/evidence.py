"""Evidence for a prediction, whatever the model family, and the page that shows it.

For each paragraph, every window of ``window`` words (every ``stride`` words) and every sentence is
removed in turn, and all those variants are scored in one batch. A span's effect on a label is how much
the label's probability drops without it; the spans that raise the predicted topic and each predicted
frame most are the evidence, as character offsets into the paragraph. ``render_page`` lays scored
paragraphs out as one right-to-left HTML page with the evidence highlighted (``ctframe view``, and each
training run's ``holdout_view.html`` in MLflow).
"""
from __future__ import annotations

import re

import numpy as np

from collections import Counter

from ctframe.train.model import as_frame

_WORD = re.compile(r"\S+")
_SENTENCE = re.compile(r"[^.!?؟…؛]+[.!?؟…؛]*")


def spans(text: str, window: int = 4, stride: int = 2) -> list[tuple[int, int]]:
    """Candidate evidence spans (start, end): word windows and sentences, each once."""
    words = [m.span() for m in _WORD.finditer(text)]
    found = {(words[i][0], words[min(i + window, len(words)) - 1][1])
             for i in range(0, max(len(words) - window, 0) + 1, stride)} if words else set()
    for m in _SENTENCE.finditer(text):
        inner = [w for w in words if m.start() <= w[0] < m.end()]
        if inner:
            found.add((inner[0][0], inner[-1][1]))
    return sorted(found)


def explain(model, X, top: int = 3, window: int = 4, stride: int = 2) -> list[dict]:
    """For each paragraph of ``X``: its predicted topic's and frames' strongest evidence,
    ``{"topic": [...], "frames": {frame: [...]}}`` with ``{"start", "end", "text", "effect"}`` spans."""
    frame = as_frame(X).reset_index(drop=True)
    topic_p, frame_p = model.predict_proba(frame)
    topics, frames = model.decide(topic_p, frame_p)
    rows, owner, cuts = [], [], []
    for i, record in frame.iterrows():
        for start, end in spans(record["text"], window, stride):
            rest = " ".join((record["text"][:start] + " " + record["text"][end:]).split())
            rows.append({"text": rest or ".", "title": record["title"], "context": record["context"]})
            owner.append(i)
            cuts.append((start, end))
    out = [{"topic": [], "frames": {}} for _ in range(len(frame))]
    if not rows:
        return out
    occluded_topic, occluded_frames = model.predict_proba(as_frame({k: [r[k] for r in rows] for k in rows[0]}))
    owner = np.array(owner)
    for i, record in frame.iterrows():
        mine = np.flatnonzero(owner == i)
        if not len(mine):
            continue
        t = list(model.topics).index(topics[i])
        out[i]["topic"] = _strongest(record["text"], [cuts[k] for k in mine],
                                     topic_p[i, t] - occluded_topic[mine, t], top)
        for j, name in enumerate(model.frames):
            if frames[i, j]:
                out[i]["frames"][name] = _strongest(record["text"], [cuts[k] for k in mine],
                                                    frame_p[i, j] - occluded_frames[mine, j], top)
    return out


def _strongest(text: str, cuts: list[tuple[int, int]], effects: np.ndarray, top: int) -> list[dict]:
    """The ``top`` spans with the largest positive effect, not overlapping a stronger one."""
    chosen: list[dict] = []
    for k in np.argsort(-effects):
        if effects[k] <= 0 or len(chosen) == top:
            break
        start, end = cuts[k]
        if all(end <= c["start"] or start >= c["end"] for c in chosen):
            chosen.append({"start": int(start), "end": int(end), "text": text[start:end],
                           "effect": round(float(effects[k]), 4)})
    return chosen


TEMPLATE = """<!doctype html>
<html lang="ar" dir="rtl">
<head><meta charset="utf-8"><title>ctframe: {{ articles|length }} articles</title>
<style>
body { font-family: "Noto Naskh Arabic", "Amiri", "Arial", sans-serif; margin: 2em; line-height: 1.9; direction: rtl; }
header, article { max-width: 60em; }
article { border-top: 1px solid #ccc; padding-top: .5em; }
p.paragraph { margin: .4em 0; unicode-bidi: plaintext; text-align: start; }
.chip { display: inline-block; direction: ltr; font: 12px/1.6 sans-serif; border-radius: 1em; padding: 0 .6em; margin: 0 .2em; }
.topic { background: #e8e8e8; } .frame { background: #ffd9a8; }
mark { background: #fff3a0; } mark.frame { background: #ffc27a; }
.summary { font: 13px sans-serif; direction: ltr; text-align: left; }
.hidden { display: none; }
</style></head>
<body>
<header>
  <h1>ctframe — {{ articles|length }} articles, {{ total }} paragraphs</h1>
  <p class="summary">Topics: {% for topic, n in topics %}<span class="chip topic">{{ topic }} {{ n }}</span>{% endfor %}
  Frames: {% for frame, n in frames %}<span class="chip frame">{{ frame }} {{ n }}</span>{% endfor %}</p>
  <p class="summary"><label>Show paragraphs with frame:
    <select id="frame-filter"><option value="">all</option>{% for frame in frame_names %}<option>{{ frame }}</option>{% endfor %}</select>
  </label></p>
</header>
{% for article in articles %}
<article data-id="{{ article.id }}">
  <h2>{{ article.title or article.id }}</h2>
  <p class="summary">{% for topic, n in article.topics %}<span class="chip topic">{{ topic }} {{ n }}</span>{% endfor %}
  {% for frame, n in article.frames %}<span class="chip frame">{{ frame }} {{ n }}</span>{% endfor %}</p>
  {% for p in article.paragraphs %}
  <p class="paragraph" dir="rtl" data-topic="{{ p.topic }}" data-frames="{{ p.frames|join(' ') }}">
    <span class="chip topic">{{ p.topic }}</span>{% for frame in p.frames %}<span class="chip frame">{{ frame }}</span>{% endfor %}
    {% for piece in p.pieces %}{% if piece.label %}<mark class="{{ piece.kind }}" data-label="{{ piece.label }}" title="{{ piece.label }}: {{ piece.effect }}">{{ piece.text }}</mark>{% else %}{{ piece.text }}{% endif %}{% endfor %}
  </p>
  {% endfor %}
</article>
{% endfor %}
<script>
document.getElementById("frame-filter").addEventListener("change", function (event) {
  var wanted = event.target.value;
  document.querySelectorAll("p.paragraph").forEach(function (p) {
    var frames = p.dataset.frames.split(" ");
    p.classList.toggle("hidden", wanted !== "" && frames.indexOf(wanted) < 0);
  });
});
</script>
</body></html>
"""


def pieces(text: str, evidence: dict) -> list[dict]:
    """The paragraph cut into plain and highlighted pieces: frame evidence first, then topic evidence
    where it does not overlap."""
    marks = []
    for frame, found in evidence.get("frames", {}).items():
        marks += [dict(span, label=frame, kind="frame") for span in found]
    marks += [dict(span, label="topic", kind="topic") for span in evidence.get("topic", [])]
    chosen = []
    for mark in marks:
        if all(mark["end"] <= c["start"] or mark["start"] >= c["end"] for c in chosen):
            chosen.append(mark)
    out, at = [], 0
    for mark in sorted(chosen, key=lambda m: m["start"]):
        out.append({"text": text[at:mark["start"]]})
        out.append({"text": text[mark["start"]:mark["end"]], "label": mark["label"], "kind": mark["kind"],
                    "effect": mark["effect"]})
        at = mark["end"]
    out.append({"text": text[at:]})
    return [piece for piece in out if piece["text"]]


def render_page(articles: list[dict], frame_names: list[str]) -> str:
    """The HTML page for ``articles`` (``{"id", "title", "paragraphs": [{"text", "topic", "frames",
    "evidence"}]}``), autoescaped by Jinja2."""
    from jinja2 import Environment

    shown = []
    for article in articles:
        paragraphs = [{"topic": p["topic"], "frames": p["frames"], "pieces": pieces(p["text"], p["evidence"])}
                      for p in article["paragraphs"]]
        shown.append({"id": article["id"], "title": article["title"], "paragraphs": paragraphs,
                      "topics": Counter(p["topic"] for p in paragraphs).most_common(),
                      "frames": Counter(f for p in paragraphs for f in p["frames"]).most_common()})
    every = [p for a in shown for p in a["paragraphs"]]
    return Environment(autoescape=True).from_string(TEMPLATE).render(
        articles=shown, total=len(every), frame_names=list(frame_names),
        topics=Counter(p["topic"] for p in every).most_common(),
        frames=Counter(f for p in every for f in p["frames"]).most_common())


def scored_articles(model, rows: list[tuple]) -> list[dict]:
    """Score and explain ``rows`` of (article id, title, text, context) into ``render_page``'s articles."""
    from ctframe.train.predictions import predict_records

    inputs = {"text": [r[2] for r in rows], "title": [r[1] for r in rows], "context": [r[3] for r in rows]}
    articles: dict[str, dict] = {}
    for row, prediction, found in zip(rows, predict_records(model, inputs), explain(model, inputs)):
        article = articles.setdefault(row[0], {"id": row[0], "title": row[1], "paragraphs": []})
        article["paragraphs"].append({"text": row[2], "topic": prediction.topic, "frames": list(prediction.frames),
                                      "evidence": found})
    return list(articles.values())
