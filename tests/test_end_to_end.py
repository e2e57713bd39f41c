"""Tiny round trip: fit → MLflow run → registry → champion export → load → score (CLI and pyfunc)."""
import json
import os
import subprocess
import sys
import zipfile

import mlflow
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from mlflow import MlflowClient

from conftest import SENTENCES
from ctframe import CtframeError
from ctframe.train import tracking
from ctframe.train.families import load_model

CLI = [sys.executable, "-m", "ctframe.train.cli"]


def test_training_logs_registers_and_exports(trained):
    root, truth, summary, second, env, _ = trained
    assert summary["champion"] and summary["reason"] == "no champion yet"
    assert (root / "champion" / "MLmodel").is_file()
    assert (root / "champion" / "artifacts" / "ctframe.skops").is_file()
    assert summary["cv.topic.macro_f1"] > 0.8 and summary["holdout.frames.macro_f1"] > 0.6
    mlflow.set_tracking_uri(env["MLFLOW_TRACKING_URI"])
    run = MlflowClient().get_run(summary["run_id"])
    assert len(run.data.tags["data_fingerprint"]) == 64 and run.data.tags["git_commit"]
    assert run.data.params["features.analyzer"] == "char_wb"
    assert "cv.frames.prevention.f1" in run.data.metrics
    artifacts = {a.path for a in MlflowClient().list_artifacts(summary["run_id"])}
    assert {"confusion_cv.png", "confusion_holdout.png", "thresholds.json", "holdout_view.html"} <= artifacts
    # Same data and same figures: the newer run takes the alias (ties go to the newest).
    assert second["champion"] and second["version"] == summary["version"] + 1
    assert str(json.loads((root / "champion" / "champion.json").read_text())["version"]) == str(second["version"])


def test_champion_rule(trained):
    _, _, summary, _, env, _ = trained
    mlflow.set_tracking_uri(env["MLFLOW_TRACKING_URI"])
    client = MlflowClient()
    fingerprint = client.get_run(summary["run_id"]).data.tags["data_fingerprint"]
    worse = {tracking.SELECTION_METRIC: -1.0, tracking.TIE_BREAK_METRIC: 1.0}
    assert tracking.should_promote(client, "ctframe", worse, fingerprint)[0] is False
    assert tracking.should_promote(client, "ctframe", worse, "other-data")[0] is True
    better = {tracking.SELECTION_METRIC: 2.0, tracking.TIE_BREAK_METRIC: 0.0}
    assert tracking.should_promote(client, "ctframe", better, fingerprint)[0] is True


def test_cli_scores_articles_and_matches_pyfunc(trained, tmp_path):
    root, *_ = trained
    article = tmp_path / "article.txt"
    article.write_text(f"{SENTENCES['prevention'][0]}، و{SENTENCES['prevention'][1]}.\n\n"
                       f"{SENTENCES['sports'][0]}، و{SENTENCES['sports'][2]}.", encoding="utf-8")
    out = tmp_path / "scores.jsonl"
    subprocess.run([*CLI, "score", "--model", str(root / "champion"), str(article), "-o", str(out),
                    "--summary", str(tmp_path / "summary.jsonl")], check=True, cwd=root)
    lines = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [(l["id"], l["paragraph"]) for l in lines] == [(str(article), 0), (str(article), 1)]
    assert set(lines[0]) == {"id", "paragraph", "topic", "topic_scores", "frames", "frame_scores"}
    assert lines[0]["topic"] == "terrorism" and "prevention" in lines[0]["frames"]
    assert lines[1]["topic"] == "sports" and lines[1]["frames"] == []
    assert sum(lines[0]["topic_scores"].values()) == pytest.approx(1.0, abs=1e-4)
    summary = json.loads((tmp_path / "summary.jsonl").read_text())
    assert summary["paragraphs"] == 2 and summary["topics"] == {"terrorism": 1, "sports": 1}

    texts = [article.read_text(encoding="utf-8").split("\n\n")[0]]
    stdin = "\n".join(json.dumps({"id": f"p{i}", "text": t}, ensure_ascii=False) for i, t in enumerate(texts))
    piped = subprocess.run([*CLI, "score", "--paragraphs", "--model", str(root / "champion"), "-"], input=stdin,
                           capture_output=True, text=True, check=True, cwd=root)
    via_cli = json.loads(piped.stdout.splitlines()[0])
    via_pyfunc = mlflow.pyfunc.load_model(str(root / "champion")).predict(pd.DataFrame({"text": texts}))
    assert via_cli["paragraph"] == 0 and via_cli["topic"] == via_pyfunc["topic"][0]
    assert via_cli["frames"] == list(via_pyfunc["frames"][0])
    assert via_cli["frame_scores"]["prevention"] == pytest.approx(via_pyfunc["p_frame_prevention"][0], abs=1e-6)


@pytest.mark.parametrize("content, message", [
    (b"   \n", "empty text"),
    (b"\xff\xfe\xfa", "not UTF-8"),
])
def test_cli_bad_input_exits_nonzero_without_output(trained, tmp_path, content, message):
    root, *_ = trained
    bad = tmp_path / "bad.txt"
    bad.write_bytes(content)
    out = tmp_path / "out.jsonl"
    result = subprocess.run([*CLI, "score", "--model", str(root / "champion"), str(bad), "-o", str(out)],
                            capture_output=True, text=True, cwd=root)
    assert result.returncode == 2
    assert message in result.stderr and result.stderr.count("error:") == 1
    assert not out.exists() and list(tmp_path.iterdir()) == [bad]


def test_cli_batch_with_a_bad_record_leaves_no_partial_file(trained, tmp_path):
    root, *_ = trained
    batch = tmp_path / "batch.jsonl"
    good = json.dumps({"id": "ok", "text": SENTENCES["economy"][0]}, ensure_ascii=False)
    batch.write_text("\n".join([good] * 600 + ['{"id": "broken", "text": '] + [good]), encoding="utf-8")
    out = tmp_path / "out.jsonl"
    result = subprocess.run([*CLI, "score", "--model", str(root / "champion"), str(batch), "-o", str(out)],
                            capture_output=True, text=True, cwd=root)
    assert result.returncode == 2 and "batch.jsonl:601: malformed JSON" in result.stderr
    assert not out.exists() and list(tmp_path.iterdir()) == [batch]


def test_missing_model_is_a_clear_error(tmp_path):
    (tmp_path / "a.txt").write_text("نص", encoding="utf-8")
    result = subprocess.run([*CLI, "score", "--model", str(tmp_path / "none"), str(tmp_path / "a.txt")],
                            capture_output=True, text=True)
    assert result.returncode == 2 and "no MLflow model at" in result.stderr


@pytest.mark.parametrize("module, name", [("subprocess", "Popen"), ("builtins", "eval")])
def test_tampered_model_is_refused(trained, tmp_path, module, name):
    root, *_ = trained
    original = root / "champion" / "artifacts" / "ctframe.skops"
    assert load_model(original).predict(["نص"])[0][0] in {"terrorism", "politics", "economy", "sports",
                                                           "society", "boilerplate"}
    tampered = tmp_path / "tampered.skops"
    with zipfile.ZipFile(original) as src, zipfile.ZipFile(tampered, "w") as dst:
        for item in src.infolist():
            data = src.read(item.filename)
            if item.filename == "schema.json":
                data = data.replace(b'"__module__": "ctframe.features.normalize"', f'"__module__": "{module}"'.encode(), 1)
                data = data.replace(b'"__class__": "ArabicNormalizer"', f'"__class__": "{name}"'.encode(), 1)
            dst.writestr(item, data)
    with pytest.raises(CtframeError, match=f"refusing to load untrusted type.*{module}.{name}"):
        load_model(tampered)


def test_a_corrupt_model_folder_is_one_clear_error(trained, tmp_path):
    """Scoring reads the array form; without it, the skops file. Each broken file is one clear error."""
    import shutil

    root, *_ = trained
    broken = tmp_path / "broken"
    shutil.copytree(root / "champion", broken)
    (tmp_path / "a.txt").write_text(SENTENCES["sports"][0], encoding="utf-8")

    def score():
        return subprocess.run([*CLI, "score", "--model", str(broken), str(tmp_path / "a.txt")], capture_output=True,
                              text=True)

    arrays_file, skops_file = broken / "artifacts" / "ctframe-arrays.npz", broken / "artifacts" / "ctframe.skops"
    arrays_file.write_bytes(arrays_file.read_bytes()[:5000])  # truncated
    result = score()
    assert result.returncode == 2 and "not a readable ctframe array model" in result.stderr
    assert "Traceback" not in result.stderr
    arrays_file.unlink()  # an export without the array form is scored from the skops file
    assert score().returncode == 0
    skops_file.write_bytes(skops_file.read_bytes()[:5000])
    result = score()
    assert result.returncode == 2 and "not a readable skops model" in result.stderr and "Traceback" not in result.stderr
    skops_file.unlink()
    result = score()
    assert result.returncode == 2 and "model file missing" in result.stderr
    (broken / "MLmodel").unlink()
    result = score()
    assert result.returncode == 2 and "no MLflow model at" in result.stderr


def test_label_studio_round_trip(trained, tmp_path):
    root, truth, *_ = trained
    corpus, labels = str(root / "corpus"), str(tmp_path / "labels")
    batch = tmp_path / "batch.jsonl"
    subprocess.run([*CLI, "labels", "queue", "-n", "6", "-o", str(batch), "--corpus", corpus, "--labels", labels],
                   check=True, cwd=root)
    tasks_file = tmp_path / "tasks.json"
    subprocess.run([*CLI, "labels", "studio-export", str(batch), "-o", str(tasks_file),
                    "--model", str(root / "champion")], check=True, cwd=root)
    tasks = json.loads(tasks_file.read_text(encoding="utf-8"))
    assert len(tasks) == 6 and all(t["predictions"][0]["result"][0]["from_name"] == "topic" for t in tasks)
    assert '<Choices name="frames"' in tasks_file.with_suffix(".xml").read_text()

    # What Label Studio exports after a person read each task: their annotation, next to the predictions.
    by_ref = {t["ref"]: t for t in truth}
    for i, task in enumerate(tasks):
        human = by_ref[task["data"]["ref"]]
        result = [{"from_name": "topic", "to_name": "text", "type": "choices", "value": {"choices": [human["topic"]]}}]
        if human["frames"]:
            result.append({"from_name": "frames", "to_name": "text", "type": "choices",
                           "value": {"choices": human["frames"]}})
        task.update(id=i + 1, annotations=[{"completed_by": {"email": "amina@example.test"}, "result": result},
                                           {"completed_by": 7, "was_cancelled": True, "result": []}])
    export = tmp_path / "export.json"
    export.write_text(json.dumps(tasks, ensure_ascii=False), encoding="utf-8")
    subprocess.run([*CLI, "labels", "studio-import", str(export), "--corpus", corpus, "--labels", labels],
                   check=True, cwd=root)
    stored = [json.loads(l) for l in (tmp_path / "labels" / "labelstudio-amina@example.test.jsonl").read_text().splitlines()]
    assert {(r["ref"], r["topic"], tuple(r["frames"])) for r in stored} == \
        {(t["data"]["ref"], by_ref[t["data"]["ref"]]["topic"], tuple(by_ref[t["data"]["ref"]]["frames"])) for t in tasks}
    # A second queue never proposes what is now labeled.
    again = tmp_path / "again.jsonl"
    subprocess.run([*CLI, "labels", "queue", "-n", "500", "-o", str(again), "--corpus", corpus, "--labels", labels],
                   check=True, cwd=root)
    assert not {json.loads(l)["ref"] for l in again.read_text().splitlines()} & {r["ref"] for r in stored}


def _score(root, *args, cwd=None):
    return subprocess.run([*CLI, "score", "--model", str(root / "champion"), *args], capture_output=True,
                          text=True, cwd=cwd or root)


def test_streaming_jobs_and_resume(trained, tmp_path):
    root, *_ = trained
    corpus = root / "corpus"  # SaudiNewsNet-shaped zips: scored straight from the archive
    full = tmp_path / "full.jsonl"
    assert _score(root, str(corpus), "-o", str(full), "--batch-size", "16").returncode == 0
    expected = full.read_text(encoding="utf-8").splitlines()
    assert len(expected) == 216 and json.loads(expected[0])["id"].startswith("snn:http://example.test/")

    parallel = tmp_path / "parallel.jsonl"
    assert _score(root, str(corpus), "-o", str(parallel), "--batch-size", "16", "--jobs", "2").returncode == 0
    assert parallel.read_text(encoding="utf-8").splitlines() == expected

    # An interrupted run left 50 whole lines and a torn one: --resume finishes it without loss or repeats.
    resumed = tmp_path / "resumed.jsonl"
    (tmp_path / "resumed.jsonl.part").write_text("\n".join(expected[:50]) + "\n" + expected[50][:20],
                                                 encoding="utf-8")
    result = _score(root, str(corpus), "-o", str(resumed), "--batch-size", "16", "--resume")
    assert result.returncode == 0, result.stderr
    assert resumed.read_text(encoding="utf-8").splitlines() == expected
    assert not (tmp_path / "resumed.jsonl.part").exists()

    # A run killed with SIGKILL mid-stream, then resumed: no line lost or repeated.
    import signal
    import time

    killed, part = tmp_path / "killed.jsonl", tmp_path / "killed.jsonl.part"
    process = subprocess.Popen([*CLI, "score", "--model", str(root / "champion"), str(corpus), "-o", str(killed),
                                "--batch-size", "1"], cwd=root, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while time.time() < deadline and (not part.exists() or part.read_bytes().count(b"\n") < 20):
        time.sleep(0.005)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert not killed.exists() and 20 <= part.read_bytes().count(b"\n") < len(expected)
    assert _score(root, str(corpus), "-o", str(killed), "--batch-size", "16", "--resume").returncode == 0
    assert killed.read_text(encoding="utf-8").splitlines() == expected


def test_champion_loads_with_pickle_deserialization_disallowed(trained):
    root, *_ = trained
    code = ("import mlflow, pandas as pd; m = mlflow.pyfunc.load_model('champion'); "
            "print(m.predict(pd.DataFrame({'text': ['نص']}))['topic'][0])")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=root,
                            env={**os.environ, "MLFLOW_ALLOW_PICKLE_DESERIALIZATION": "false"})
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() in {"terrorism", "politics", "economy", "sports", "society", "boilerplate"}


def test_glued_boilerplate_on_a_scraped_page_is_split_and_read_as_boilerplate(trained, tmp_path):
    root, *_ = trained
    page = tmp_path / "page.txt"
    items = SENTENCES["boilerplate"]
    page.write_text("     ".join(items) + "\n" + f"{SENTENCES['prevention'][0]}، و{SENTENCES['prevention'][2]}.",
                    encoding="utf-8")
    out = subprocess.run([*CLI, "score", "--model", str(root / "champion"), str(page)], check=True, cwd=root,
                         capture_output=True, text=True).stdout
    lines = [json.loads(line) for line in out.splitlines()]
    assert [l["topic"] for l in lines] == ["boilerplate"] * len(items) + ["terrorism"]
    assert lines[-1]["frames"] == ["prevention"]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(content=st.one_of(st.binary(max_size=300),
                         st.lists(st.one_of(st.fixed_dictionaries({"id": st.text(max_size=5), "text": st.text(max_size=80)}),
                                            st.dictionaries(st.text(max_size=5), st.integers() | st.text(max_size=5),
                                                            max_size=3)), max_size=4)
                         .map(lambda rows: "\n".join(json.dumps(r, ensure_ascii=False) for r in rows).encode())),
       suffix=st.sampled_from([".jsonl", ".txt"]))
def test_score_inputs_give_a_result_or_one_clear_error(trained, tmp_path_factory, content, suffix):
    from ctframe.train.cli import main

    root, *_ = trained
    folder = tmp_path_factory.mktemp("fuzz")
    source, out = folder / f"input{suffix}", folder / "out.jsonl"
    source.write_bytes(content)
    code = main(["score", "--model", str(root / "champion"), str(source), "-o", str(out)])
    assert code in (0, 2)
    assert out.exists() == (code == 0) and not (folder / "out.jsonl.part").exists()
    if code == 0:
        assert all(json.loads(line)["topic"] for line in out.read_text(encoding="utf-8").splitlines())
