"""The label schema is the one place labels are named: a fourth frame added to a copy of it goes through
fit → export → score with no code change."""
import json

import pytest
import yaml

from conftest import FRAMES, SENTENCES, build_corpus, tiny_overrides, write_labels
from ctframe import LABELS_DIR
from ctframe.train.cli import main

NEW_FRAME = "victim_support"
NEW_SENTENCES = ["قدمت الجمعية الدعم النفسي لأسر ضحايا الهجوم الإرهابي",
                 "زار المسؤولون جرحى التفجير الإرهابي في المستشفى وقدموا لهم المساعدة",
                 "خصصت الدولة صندوقا لتعويض المتضررين من العمليات الإرهابية",
                 "نظمت الهيئة برنامجا لرعاية أبناء ضحايا الإرهاب"]


@pytest.fixture(scope="module")
def fourth_frame(tmp_path_factory):
    root = tmp_path_factory.mktemp("fourth")
    schema = yaml.safe_load((LABELS_DIR / "schema.yaml").read_text(encoding="utf-8"))
    schema["frames"][NEW_FRAME] = {"description": "support for the victims of terrorism and their families."}
    (root / "schema.yaml").write_text(yaml.safe_dump(schema, allow_unicode=True, sort_keys=False), encoding="utf-8")
    with pytest.MonkeyPatch.context() as mp:
        mp.setitem(SENTENCES, NEW_FRAME, NEW_SENTENCES)
        mp.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{root / 'mlflow.db'}")
        mp.chdir(root)
        truth = build_corpus(root / "corpus", n_articles=90, frames=(*FRAMES, NEW_FRAME))
        write_labels(root / "labels", truth)
        overrides = tiny_overrides(root)
        overrides["labels"]["schema"] = str(root / "schema.yaml")
        config = root / "config.yaml"
        config.write_text(yaml.safe_dump(overrides, allow_unicode=True), encoding="utf-8")
        assert main(["train", str(config), "--export-dir", str(root / "champion")]) == 0
    return root


def test_a_fourth_frame_is_fitted_exported_and_scored(fourth_frame, tmp_path, capsys):
    paragraphs = tmp_path / "in.jsonl"
    texts = {"new": f"{NEW_SENTENCES[0]}، و{NEW_SENTENCES[2]}.", "old": f"{SENTENCES['prevention'][0]}، و{SENTENCES['prevention'][1]}."}
    paragraphs.write_text("".join(json.dumps({"id": k, "text": v}, ensure_ascii=False) + "\n" for k, v in texts.items()),
                          encoding="utf-8")
    out = tmp_path / "out.jsonl"
    assert main(["score", "--paragraphs", "--model", str(fourth_frame / "champion"), str(paragraphs), "-o", str(out)]) == 0
    rows = {row["id"]: row for row in map(json.loads, out.read_text(encoding="utf-8").splitlines())}
    assert list(rows["new"]["frame_scores"]) == [*FRAMES, NEW_FRAME]
    assert rows["new"]["frames"] == [NEW_FRAME] and rows["new"]["topic"] == "terrorism"
    assert rows["old"]["frames"] == ["prevention"]
