"""Stand-off label loading, validation, adjudication, agreement, atomic import, the queue, the codebook."""
import json
import re
from pathlib import Path

import pytest

from ctframe.features.corpus import load_snn_paragraphs
from ctframe import CtframeError
import ctframe as ctframe_module
from ctframe.train import labels as labels_module
from ctframe.train.labels import (LabelRecord, adjudicate, check_against_corpus, import_records, kappa, load_records,
                          read_records, stats)
from ctframe.train.families.keywords import KeywordRules
from ctframe.train.labeling.queue import make_queue
from ctframe.train.schema import LABELS_DIR, load_schema

from conftest import write_labels


def record(ref="r1", topic="terrorism", frames=(), annotator="a", sha1="s"):
    return LabelRecord(ref, sha1, topic, tuple(frames), annotator)


def write_lines(path: Path, rows) -> Path:
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r, ensure_ascii=False)) + "\n" for r in rows),
                    encoding="utf-8")
    return path


GOOD = {"ref": "snn:x#0", "sha1": "a" * 40, "topic": "terrorism", "frames": ["prevention"], "annotator": "a"}


@pytest.mark.parametrize("change, message", [
    ({"topic": "weather"}, r"bad.jsonl:2: unknown topic 'weather'"),
    ({"frames": ["hope"]}, r"bad.jsonl:2: unknown frame 'hope'"),
    ({"topic": "sports"}, r"bad.jsonl:2: frames are only for topic 'terrorism'"),
    ({"frames": "prevention"}, r"bad.jsonl:2: 'frames' must be a list"),
    ({"sha1": ""}, r"bad.jsonl:2: 'sha1' must be a non-empty string"),
])
def test_bad_records_name_file_and_line(tmp_path, schema, change, message):
    path = write_lines(tmp_path / "bad.jsonl", [GOOD, {**GOOD, **change}])
    with pytest.raises(CtframeError, match=message):
        read_records(path, schema)


def test_malformed_json_and_missing_field(tmp_path, schema):
    with pytest.raises(CtframeError, match=r"bad.jsonl:1: malformed JSON"):
        read_records(write_lines(tmp_path / "bad.jsonl", ["{oops"]), schema)
    missing = {k: v for k, v in GOOD.items() if k != "annotator"}
    with pytest.raises(CtframeError, match=r"bad.jsonl:1: missing field 'annotator'"):
        read_records(write_lines(tmp_path / "bad.jsonl", [missing]), schema)


def test_stale_and_unknown_refs(corpus, schema, capsys):
    folder, truth = corpus
    paragraphs = {p.id: p for p in load_snn_paragraphs(folder)}
    good = record(truth[0]["ref"], sha1=truth[0]["sha1"])
    stale = record(truth[1]["ref"], sha1="0" * 40)
    unknown = record("snn:http://example.test/none#0", sha1=truth[0]["sha1"])
    with pytest.raises(CtframeError, match="2 stale label"):
        check_against_corpus([good, stale, unknown], paragraphs)
    assert check_against_corpus([good, stale, unknown], paragraphs, skip_stale=True) == [good]
    err = capsys.readouterr().err
    assert "no longer matches" in err and "no such paragraph" in err


def test_adjudication_rule():
    a = record(topic="terrorism", frames=["prevention"], annotator="a")
    b = record(topic="terrorism", frames=["prevention", "deradicalization"], annotator="b")
    c = record(topic="terrorism", frames=["prevention"], annotator="c")
    assert adjudicate([a, b, c]) == ("terrorism", ("prevention",), False)
    assert adjudicate([a, b]) == ("terrorism", ("prevention",), True)  # frame tie: first reading, flagged
    politics = record(topic="politics", annotator="b")
    assert adjudicate([a, politics])[2] is True
    third = record(topic="politics", annotator="adjudicator-x")
    assert adjudicate([a, politics, third]) == ("politics", (), False)


def test_kappa_on_a_hand_made_example(schema):
    # Topic: 4 paragraphs, the annotators agree on 3. po = 0.75; pe = (2*3 + 2*1)/16 = 0.5 → κ = 0.5.
    a = [record(f"r{i}", t, annotator="a") for i, t in enumerate(["terrorism", "terrorism", "politics", "politics"])]
    b = [record(f"r{i}", t, annotator="b") for i, t in enumerate(["terrorism", "terrorism", "politics", "terrorism"])]
    result = kappa(a + b, schema)
    assert result["topic"] == pytest.approx(0.5)
    assert result["prevention"] == 1.0  # nobody gave it: perfect agreement
    assert kappa(a, schema)["topic"] is None


def test_import_validates_and_merges(corpus, schema, tmp_path):
    folder, truth = corpus
    paragraphs = {p.id: p for p in load_snn_paragraphs(folder)}
    store = tmp_path / "labels"
    batch = [record(t["ref"], t["topic"], t["frames"], "ann", t["sha1"]) for t in truth[:5]]
    assert import_records(batch, paragraphs, schema, store)["added (ann)"] == 5
    assert import_records(batch[:2], paragraphs, schema, store)["already present"] == 2
    conflicting = record(truth[0]["ref"], "sports", (), "ann", truth[0]["sha1"])
    with pytest.raises(CtframeError, match="already labeled it"):
        import_records([conflicting], paragraphs, schema, store)
    with pytest.raises(CtframeError, match="appears twice"):
        import_records([batch[0], batch[0]], paragraphs, schema, tmp_path / "other")
    stale = record(truth[6]["ref"], "politics", (), "ann", "f" * 40)
    with pytest.raises(CtframeError, match="stale"):
        import_records([stale], paragraphs, schema, store)
    assert len(load_records(schema, store)) == 5


def test_import_crash_mid_write_keeps_old_file(corpus, schema, tmp_path, monkeypatch):
    folder, truth = corpus
    paragraphs = {p.id: p for p in load_snn_paragraphs(folder)}
    store = tmp_path / "labels"
    import_records([record(truth[0]["ref"], truth[0]["topic"], truth[0]["frames"], "ann", truth[0]["sha1"])],
                   paragraphs, schema, store)
    before = (store / "ann.jsonl").read_bytes()

    def crash(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(ctframe_module.os, "replace", crash)
    more = [record(t["ref"], t["topic"], t["frames"], "ann", t["sha1"]) for t in truth[1:4]]
    with pytest.raises(OSError, match="disk full"):
        import_records(more, paragraphs, schema, store)
    assert (store / "ann.jsonl").read_bytes() == before
    assert sorted(p.name for p in store.iterdir()) == [".lock", "ann.jsonl"]  # no temporary file left behind


def test_stats_counts(corpus, schema, tmp_path):
    folder, truth = corpus
    paragraphs = {p.id: p for p in load_snn_paragraphs(folder)}
    write_labels(tmp_path, truth, "one")
    write_labels(tmp_path, truth[:10], "two")
    result = stats(load_records(schema, tmp_path), paragraphs, schema)
    assert result["paragraphs"] == len(truth)
    assert result["double_annotated"] == 10
    assert result["outlets"] == 3
    assert result["kappa"]["topic"] == 1.0
    assert sum(result["topic"].values()) == len(truth)


def test_queue_never_proposes_a_labeled_paragraph_or_text(corpus, schema):
    folder, truth = corpus
    paragraphs = load_snn_paragraphs(folder)
    labeled = {t["ref"] for t in truth[: len(truth) // 2]}
    picked = make_queue(paragraphs, schema, n=len(paragraphs), exclude=labeled, seed=3)
    ids = [p.id for p, _ in picked]
    labeled_texts = {p.sha1 for p in paragraphs if p.id in labeled}
    open_texts = {p.sha1 for p in paragraphs} - labeled_texts
    assert len(ids) == len(set(ids)) == len(open_texts)
    assert {p.sha1 for p, _ in picked} == open_texts  # one reading per distinct text, none already read
    assert {why.split(":")[0] for _, why in picked} == {"random", "keyword"}


def test_queue_hard_share_takes_the_models_confusable_calls(corpus, schema):
    """``hard`` picks are paragraphs the model calls a frame, the frames topic or boilerplate."""
    folder, _ = corpus
    paragraphs = load_snn_paragraphs(folder)
    model = KeywordRules(list(schema.topics), list(schema.frames), schema.frames_topic, {}, schema.lexicon())
    model.fit([p.text for p in paragraphs], ["society"] * len(paragraphs), [[]] * len(paragraphs))
    picked = make_queue(paragraphs, schema, n=20, exclude=set(), random_share=0.0, hard_share=1.0, model=model,
                        seed=1)
    hard = [p for p, why in picked if why == "hard"]
    assert len(hard) == 20
    topics, frames = model.predict([p.text for p in hard])
    assert all(t == schema.frames_topic for t in topics)  # this model calls nothing else confusable
    called = {p.id for p in paragraphs if model.predict([p.text])[0][0] == schema.frames_topic}
    assert len(called) > 20 and {p.id for p in hard} <= called
    with pytest.raises(CtframeError, match="add up to 1.2"):  # a batch is never larger than asked
        make_queue(paragraphs, schema, n=20, exclude=set(), random_share=0.3, uncertain_share=0.3, hard_share=0.6,
                   model=model)


def test_schema_and_codebook_agree(schema):
    codebook = (LABELS_DIR / "CODEBOOK.md").read_text(encoding="utf-8")
    headed = re.findall(r"^### `(\w+)`", codebook, flags=re.MULTILINE)
    assert headed == [*schema.topics, *schema.frames]


@pytest.mark.slow
def test_concurrent_imports_lose_no_reading(corpus, tmp_path):
    """Four `ctframe labels import` processes, started together on disjoint batches of one annotator."""
    import subprocess
    import sys

    folder, truth = corpus
    labels = tmp_path / "labels"
    batches = [truth[i::4] for i in range(4)]
    paths = [write_labels(tmp_path / f"batch{i}", batch, "race") for i, batch in enumerate(batches)]
    processes = [subprocess.Popen([sys.executable, "-m", "ctframe.train.cli", "labels", "import", str(path),
                                   "--labels", str(labels), "--corpus", str(folder)],
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for path in paths]
    outputs = [p.communicate(timeout=120) for p in processes]
    assert all(p.returncode == 0 for p in processes), outputs
    assert all(f"added (race): {len(b)}" in out for (out, _), b in zip(outputs, batches))
    stored = [json.loads(line) for line in (labels / "race.jsonl").read_text(encoding="utf-8").splitlines()]
    assert sorted(r["ref"] for r in stored) == sorted(t["ref"] for t in truth)


def test_a_held_lock_is_one_clear_error(tmp_path):
    from filelock import FileLock

    with FileLock(tmp_path / ".lock"):
        with pytest.raises(CtframeError, match="another command has held the lock on the labels"):
            with labels_module.locked(tmp_path, timeout=0.2):
                pass


@pytest.mark.slow
def test_an_import_killed_at_any_moment_leaves_nothing_or_everything(corpus, tmp_path):
    import signal
    import subprocess
    import sys
    import time

    folder, truth = corpus
    labels = tmp_path / "labels"
    write_labels(labels, truth[:10], "kill")
    before = (labels / "kill.jsonl").read_bytes()
    batch = write_labels(tmp_path / "batch", truth[10:], "kill")
    outcomes = set()
    for delay in (0.1, 0.5, 0.9, 1.3, 1.7, None):  # None: let the last one finish
        (labels / "kill.jsonl").write_bytes(before)
        process = subprocess.Popen([sys.executable, "-m", "ctframe.train.cli", "labels", "import", str(batch),
                                    "--labels", str(labels), "--corpus", str(folder)],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if delay is not None:
            time.sleep(delay)
            process.send_signal(signal.SIGKILL)
        process.wait()
        lines = (labels / "kill.jsonl").read_bytes().splitlines()
        assert lines in (before.splitlines(), before.splitlines() + batch.read_bytes().splitlines())
        assert len(labels_module.load_records(load_schema(), labels)) == len(lines)  # still a valid store
        outcomes.add(len(lines))
    assert outcomes == {10, len(truth)}  # a kill landed before the write, and the last import completed


def test_an_import_of_several_annotators_is_all_or_nothing(corpus, schema, tmp_path, monkeypatch):
    folder, truth = corpus
    paragraphs = {p.id: p for p in load_snn_paragraphs(folder)}
    store = tmp_path / "labels"
    batch = [record(t["ref"], t["topic"], t["frames"], who, t["sha1"]) for t in truth[:3] for who in ("a", "b", "c")]
    real_replace, renames = ctframe_module.os.replace, []

    def dies_after_the_first_rename(src, dst):
        if str(dst).endswith(".jsonl") and renames:
            raise KeyboardInterrupt  # killed between two annotators' files
        renames.append(dst)
        real_replace(src, dst)

    monkeypatch.setattr(labels_module.os, "replace", dies_after_the_first_rename)
    with pytest.raises(KeyboardInterrupt):
        import_records(batch, paragraphs, schema, store)
    monkeypatch.undo()
    assert (store / labels_module.JOURNAL).exists()
    # the next command that reads the labels finishes the import: every annotator holds the whole batch
    assert len(load_records(schema, store)) == 9 and not (store / labels_module.JOURNAL).exists()
