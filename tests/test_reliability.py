"""Several commands at once on one store: concurrent training runs, and the champion as a compare-and-set."""
import json
import os
import subprocess
import sys

import mlflow
import pytest
import yaml
from mlflow import MlflowClient

from conftest import build_corpus, tiny_overrides, write_labels
from ctframe.train import tracking

pytestmark = pytest.mark.slow


@pytest.fixture
def tiny(tmp_path):
    truth = build_corpus(tmp_path / "corpus")
    write_labels(tmp_path / "labels", truth)
    config = tmp_path / "tiny.yaml"
    config.write_text(yaml.safe_dump(tiny_overrides(tmp_path)), encoding="utf-8")
    return tmp_path, config


def test_three_trainings_at_once_on_one_sqlite_store(tiny):
    root, config = tiny
    env = {**os.environ, "MLFLOW_TRACKING_URI": f"sqlite:///{root / 'mlflow.db'}?timeout=60"}
    runs = [subprocess.Popen([sys.executable, "-m", "ctframe.train.cli", "train", str(config), "--export-dir",
                              str(root / "champion")], cwd=root, env=env, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True) for _ in range(3)]
    results = [(run.wait(timeout=600), *run.communicate()) for run in runs]
    assert all(code == 0 for code, _, _ in results), [err[-2000:] for _, _, err in results]
    mlflow.set_tracking_uri(env["MLFLOW_TRACKING_URI"])
    versions = MlflowClient().search_model_versions("name='ctframe'")
    assert len(versions) == 3
    alias = tracking.champion_version(MlflowClient(), "ctframe")
    assert json.loads((root / "champion" / "champion.json").read_text())["version"] == alias.version


def test_a_worse_run_never_replaces_a_better_champion(tiny, monkeypatch):
    root, config = tiny
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{root / 'mlflow.db'}")
    monkeypatch.chdir(root)
    from ctframe.train.fit import train

    first = train(config, export_dir=root / "champion", log=lambda m: None)
    second = train(config, register=True, export_dir=root / "champion", log=lambda m: None)
    assert second["champion"]  # equal figures: the newest wins
    client = MlflowClient()
    fingerprint = client.get_run(second["run_id"]).data.tags["data_fingerprint"]
    champion = client.get_run(tracking.champion_version(client, "ctframe").run_id).data.metrics
    worse = {**champion, tracking.SELECTION_METRIC: champion[tracking.SELECTION_METRIC] - 0.1}
    # the older, slower run (version 1) asks to be promoted with figures worse than the champion's now
    promoted, why = tracking.promote_if_better("ctframe", str(first["version"]), worse, fingerprint, root / "champion")
    assert not promoted and "<" in why
    assert tracking.champion_version(client, "ctframe").version == second["version"]
    assert json.loads((root / "champion" / "champion.json").read_text())["version"] == second["version"]


def test_readers_see_a_whole_model_while_the_champion_is_exported_again(tiny, monkeypatch):
    import threading
    import urllib.request

    from conftest import SENTENCES, free_port, start, stop
    from ctframe.train.families import load_exported

    root, config = tiny
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{root / 'mlflow.db'}")
    monkeypatch.chdir(root)
    from ctframe.train.fit import train

    train(config, export_dir=root / "champion", log=lambda m: None)
    port = free_port()
    server = start([sys.executable, "-m", "ctframe.train.cli", "serve", "--model", str(root / "champion"),
                    "--port", str(port)], port, root)
    body = json.dumps({"inputs": {"text": [SENTENCES["prevention"][0]]}}).encode()
    statuses, loads, errors, stop_flag = [], [], [], threading.Event()

    def clients():
        while not stop_flag.is_set():
            try:
                request = urllib.request.Request(f"http://127.0.0.1:{port}/invocations", data=body,
                                                 headers={"Content-Type": "application/json"})
                with urllib.request.urlopen(request, timeout=30) as response:
                    statuses.append(response.status)
                loads.append(len(load_exported(root / "champion").frames))  # a new reader mid-export
            except Exception as exc:  # noqa: BLE001 - every failure is reported by the assertion below
                errors.append(repr(exc))

    thread = threading.Thread(target=clients)
    try:
        thread.start()
        tracking.start("ctframe")
        for _ in range(4):
            tracking.export_champion("ctframe", root / "champion")
    finally:
        stop_flag.set()
        thread.join(timeout=60)
        stop(server)
    assert not errors and statuses and set(statuses) == {200} and set(loads) == {3}
    assert len(list(root.glob(".champion-*"))) == 2  # the current export and the previous one


def test_a_crash_during_export_leaves_the_old_champion(tiny, monkeypatch):
    root, config = tiny
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{root / 'mlflow.db'}")
    monkeypatch.chdir(root)
    from ctframe.train.families import load_exported
    from ctframe.train.fit import train

    train(config, export_dir=root / "champion", log=lambda m: None)
    before = (root / "champion").resolve()

    def killed(*args):
        raise KeyboardInterrupt  # as if the process died at the swap

    monkeypatch.setattr(tracking.os, "replace", killed)
    with pytest.raises(KeyboardInterrupt):
        tracking.export_champion("ctframe", root / "champion")
    monkeypatch.undo()
    assert (root / "champion").resolve() == before and load_exported(root / "champion").frames
    assert sorted(p.name[:12] for p in root.glob(".champion*")) == [".champion-v1", ".champion.lo"]  # no half-made export, no link
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{root / 'mlflow.db'}")
    monkeypatch.chdir(root)
    assert train(config, export_dir=root / "champion", log=lambda m: None)["champion"]  # the next run recovers
    assert (root / "champion").resolve() != before


def test_a_crash_between_registration_and_promotion_is_recovered_by_the_next_run(tiny, monkeypatch):
    root, config = tiny
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{root / 'mlflow.db'}")
    monkeypatch.chdir(root)
    from ctframe.train.families import load_exported
    from ctframe.train.fit import train

    def killed(*args, **kwargs):
        raise KeyboardInterrupt  # the process dies right after the model version was registered

    with monkeypatch.context() as patch:
        patch.setattr(tracking, "promote_if_better", killed)
        with pytest.raises(KeyboardInterrupt):
            train(config, export_dir=root / "champion", log=lambda m: None)
    assert not (root / "champion").exists()
    summary = train(config, export_dir=root / "champion", log=lambda m: None)  # no manual cleanup
    assert summary["champion"] and summary["version"] == 2 and load_exported(root / "champion").frames
    assert tracking.champion_version(MlflowClient(), "ctframe").version == 2
