"""`ctframe view`: scored articles as one self-contained HTML page (right-to-left), each paragraph with
its topic, its frames as chips and its evidence highlighted in place, an article summary on top and a
filter by frame. Rendered with Jinja2 (autoescaped), no external files."""
from __future__ import annotations

from collections import Counter
from pathlib import Path

from ctframe import CHAMPION_DIR, write_atomically
from ctframe.features.corpus import iter_inputs
from ctframe.train.families import load_exported
from ctframe.train.serving.score import batches, records, units

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


def view(inputs: list[str], output: str, *, model_dir=CHAMPION_DIR, batch_size: int = 256) -> int:
    """Score and explain the articles of ``inputs``; write the page to ``output``. → articles shown."""
    from jinja2 import Environment

    model = load_exported(model_dir)
    articles: dict[str, dict] = {}
    for batch in batches(units(iter_inputs(inputs), as_paragraphs=False), batch_size):
        for row, record in zip(batch, records(model, batch, explain=True)):
            article = articles.setdefault(row[0], {"id": row[0], "title": row[3], "paragraphs": []})
            article["paragraphs"].append({"topic": record["topic"], "frames": record["frames"],
                                          "pieces": pieces(row[2], record["evidence"])})
    every = [p for a in articles.values() for p in a["paragraphs"]]
    for article in articles.values():
        article["topics"] = Counter(p["topic"] for p in article["paragraphs"]).most_common()
        article["frames"] = Counter(f for p in article["paragraphs"] for f in p["frames"]).most_common()
    page = Environment(autoescape=True).from_string(TEMPLATE).render(
        articles=list(articles.values()), total=len(every), frame_names=list(model.frames),
        topics=Counter(p["topic"] for p in every).most_common(),
        frames=Counter(f for p in every for f in p["frames"]).most_common())
    write_atomically(Path(output), [page])
    return len(articles)
