"""Evidence for a prediction: occlusion spans that point at the phrase that carries the label."""
import json
import subprocess
import sys

from conftest import SENTENCES
from ctframe.train.serving.explain import spans


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
