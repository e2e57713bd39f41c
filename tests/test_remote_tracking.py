"""Training against a real `mlflow server` over HTTP, started here on 127.0.0.1 with its own store."""
import sys

import pytest

import mlflow
import pandas as pd
from mlflow import MlflowClient

from conftest import SENTENCES, build_corpus, free_port, start, stop, tiny_overrides, write_labels

pytestmark = pytest.mark.slow  # real servers / Spark: make test runs it, make test-fast does not


def test_train_register_promote_and_load_over_http(tmp_path, monkeypatch):
    port = free_port()
    server = start([sys.executable, "-m", "mlflow", "server", "--host", "127.0.0.1", "--port", str(port),
                    "--backend-store-uri", f"sqlite:///{tmp_path / 'server.db'}",
                    "--artifacts-destination", str(tmp_path / "server-artifacts"), "--workers", "1"],
                   port, tmp_path)
    try:
        from ctframe.train.fit import train

        truth = build_corpus(tmp_path / "corpus")
        write_labels(tmp_path / "labels", truth)
        uri = f"http://127.0.0.1:{port}"
        monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
        monkeypatch.chdir(tmp_path)
        summary = train(None, tiny_overrides(tmp_path), export_dir=tmp_path / "champion", log=lambda m: None)
        assert summary["champion"]
        mlflow.set_tracking_uri(uri)
        client = MlflowClient()
        assert client.get_model_version_by_alias("ctframe", "champion").run_id == summary["run_id"]
        assert (tmp_path / "server-artifacts").is_dir() and not (tmp_path / "mlruns").exists()
        loaded = mlflow.pyfunc.load_model("models:/ctframe@champion")
        result = loaded.predict(pd.DataFrame({"text": [SENTENCES["sports"][0]]}))
        assert result["topic"][0] == "sports"
        exported = mlflow.pyfunc.load_model(str(tmp_path / "champion"))
        assert exported.predict(pd.DataFrame({"text": [SENTENCES["sports"][0]]}))["topic"][0] == "sports"
    finally:
        stop(server)
