"""Evidence for a prediction: occlusion spans that point at the phrase that carries the label."""
import json
import re
import subprocess
import sys

from conftest import SENTENCES
from ctframe.train.evidence import spans


def test_spans_are_word_windows_and_sentences_within_the_text():
    text = "جملة أولى قصيرة هنا. ثم جملة ثانية أطول قليلا من الأولى"
    found = spans(text, window=3, stride=2)
    assert (0, text.index(".") + 1) in found  # the first sentence, its full stop included
    assert all(0 <= s < e <= len(text) and not text[s].isspace() and not text[e - 1].isspace() for s, e in found)
    assert spans("") == [] and spans("كلمة") == [(0, 4)]


def test_evidence_points_at_the_planted_phrase(trained, tmp_path):
    root, *_ = trained
    planted = SENTENCES["prevention"][0]
    text = f"{SENTENCES['sports'][0]}. {SENTENCES['economy'][1]}. {planted}."
    source = tmp_path / "in.jsonl"
    source.write_text(json.dumps({"id": "x", "text": text}, ensure_ascii=False) + "\n", encoding="utf-8")
    out = subprocess.run([sys.executable, "-m", "ctframe.train.cli", "score", "--paragraphs", "--explain", "--model",
                          str(root / "champion"), str(source)], capture_output=True, text=True, check=True).stdout
    record = json.loads(out)
    assert record["frames"] == ["prevention"]
    best = record["evidence"]["frames"]["prevention"][0]
    assert text[best["start"]:best["end"]] == best["text"] and best["effect"] > 0
    where = text.index(planted)
    assert best["start"] < where + len(planted) and best["end"] > where  # overlaps the planted phrase
    assert record["evidence"]["topic"] and all(s["effect"] > 0 for s in record["evidence"]["topic"])


def render_view(trained, folder, text: str):
    """``ctframe view`` of one article holding ``text``, with the tiny champion; → the page's path."""
    root, *_ = trained
    article, page = folder / "article.txt", folder / "view.html"
    article.write_text(text, encoding="utf-8")
    subprocess.run([sys.executable, "-m", "ctframe.train.cli", "view", str(article), "-o", str(page), "--model",
                    str(root / "champion")], check=True, capture_output=True)
    return page


def test_the_article_view_highlights_evidence_right_to_left(trained, tmp_path):
    from html.parser import HTMLParser

    planted = SENTENCES["prevention"][0]
    page = render_view(trained, tmp_path, f"{SENTENCES['sports'][0]}، و{SENTENCES['sports'][2]}.\n\n"
                                          f"{planted}، و{SENTENCES['prevention'][1]}. <script>alert(1)</script>")

    class Page(HTMLParser):
        def __init__(self):
            super().__init__()
            self.html_dir, self.paragraphs, self.marks, self.stack, self.scripts = None, [], [], [], 0

        def handle_starttag(self, tag, attrs):
            attrs = dict(attrs)
            if tag == "html":
                self.html_dir = attrs.get("dir")
            if tag == "p" and "paragraph" in attrs.get("class", ""):
                self.paragraphs.append(attrs)
            if tag == "mark":
                self.marks.append([attrs, ""])
            if tag == "script":
                self.scripts += 1
            self.stack.append(tag)

        def handle_endtag(self, tag):
            self.stack.pop()

        def handle_data(self, data):
            if self.stack and self.stack[-1] == "mark":
                self.marks[-1][1] += data

    parsed = Page()
    parsed.feed(page.read_text(encoding="utf-8"))
    assert parsed.html_dir == "rtl" and all(p.get("dir") == "rtl" for p in parsed.paragraphs)
    assert [p["data-topic"] for p in parsed.paragraphs] == ["sports", "terrorism"]
    assert parsed.paragraphs[1]["data-frames"] == "prevention"
    frame_marks = [text for attrs, text in parsed.marks if attrs.get("data-label") == "prevention"]
    assert frame_marks and any(len(set(text.split()) & set(planted.split())) >= 3 for text in frame_marks)
    assert parsed.scripts == 1  # the page's own filter script; the article's <script> was escaped


CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def test_the_article_view_in_a_real_browser(trained, tmp_path):
    """Headless Chromium (Debian's, installed by `make test`) renders the page from a file: a screenshot,
    and the DOM after layout, where every paragraph's computed direction is right-to-left."""
    import shutil

    chromium = shutil.which("chromium")
    assert chromium, "Chromium is missing: `make test` installs Debian's chromium package"
    page = render_view(trained, tmp_path, f"{SENTENCES['prevention'][0]}، و{SENTENCES['prevention'][1]}.\n\n"
                                          f"{SENTENCES['economy'][0]}، و{SENTENCES['economy'][1]}.")
    probe = page.read_text(encoding="utf-8").replace("</body>", """<script>
var ps = document.querySelectorAll("p.paragraph");
document.body.dataset.paragraphs = ps.length;
document.body.dataset.ltr = Array.prototype.filter.call(ps, function (p) {
  return getComputedStyle(p).direction !== "rtl"; }).length;
document.body.dataset.marks = document.querySelectorAll("p.paragraph mark").length;
</script></body>""")
    probed = tmp_path / "probe.html"
    probed.write_text(probe, encoding="utf-8")
    profile = tmp_path / "profile"
    shot = tmp_path / "view.png"
    subprocess.run([chromium, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", f"--screenshot={shot}",
                    "--window-size=1100,800", page.as_uri()], check=True, capture_output=True, timeout=120)
    assert shot.read_bytes()[:4] == b"\x89PNG" and shot.stat().st_size > 5000
    dom = subprocess.run([chromium, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", "--dump-dom", probed.as_uri()],
                         check=True, capture_output=True, text=True, timeout=120).stdout
    body = re.search(r"<body([^>]*)>", dom).group(1)
    assert 'data-paragraphs="2"' in body and 'data-ltr="0"' in body
    assert int(re.search(r'data-marks="(\d+)"', body).group(1)) >= 1


def test_drift_ranks_foreign_press_far_and_familiar_press_near(trained, tmp_path):
    root, *_ = trained
    familiar, foreign = tmp_path / "familiar.jsonl", tmp_path / "foreign.jsonl"
    familiar.write_text("".join(json.dumps({"id": f"a{i}", "text": f"{SENTENCES[k][0]}، و{SENTENCES[k][1]}."},
                                           ensure_ascii=False) + "\n"
                                for i, k in enumerate(["prevention", "sports", "economy", "politics"])), encoding="utf-8")
    foreign.write_text("".join(json.dumps({"id": f"b{i}", "text": t}) + "\n" for i, t in enumerate([
        "Le gouvernement a annoncé hier une nouvelle réforme des retraites.",
        "Les supporters ont envahi le stade après la victoire historique.",
        "La bourse de Casablanca a clôturé la séance en légère hausse."])), encoding="utf-8")
    page = tmp_path / "drift.html"
    out = subprocess.run([sys.executable, "-m", "ctframe.train.cli", "drift", str(familiar), str(foreign), "--json",
                          "-o", str(page), "--model", str(root / "champion")], capture_output=True, text=True, check=True)
    report = json.loads(out.stdout)
    ranked = [e["source"] for e in report["sources"]]
    assert ranked == ["foreign.jsonl", "familiar.jsonl"]  # the farthest first
    by = {e["source"]: e for e in report["sources"]}
    assert by["foreign.jsonl"]["far"] and not by["familiar.jsonl"]["far"]
    assert by["foreign.jsonl"]["unseen_ngram_share"] > 0.5 > 0.05 > by["familiar.jsonl"]["unseen_ngram_share"]
    assert len(report["warnings"]) == 1 and report["warnings"][0].startswith("foreign.jsonl: far from")
    assert abs(sum(report["training_shares"]["topics"].values()) - 1) < 1e-9
    assert by["familiar.jsonl"]["least_sure"] and "data:image/png;base64" in page.read_text(encoding="utf-8")
