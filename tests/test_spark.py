"""Spark local mode: `ctframe score-spark` on a small archive written here equals `ctframe score --paragraphs`."""
import json
import subprocess
import sys

import pandas as pd
import pytest

from conftest import SENTENCES

pytestmark = pytest.mark.slow  # real servers / Spark: make test runs it, make test-fast does not


def test_score_spark_matches_cli(trained, tmp_path):
    root, *_ = trained
    texts = [SENTENCES[k][i] for k in ("prevention", "sports", "deradicalization", "economy") for i in range(2)]
    archive = tmp_path / "archive.parquet"
    pd.DataFrame({"id": [f"p{i}" for i in range(len(texts))], "text": texts}).to_parquet(archive)
    dest = tmp_path / "scored"
    result = subprocess.run([sys.executable, "-m", "ctframe.train.cli", "score-spark", str(archive), str(dest),
                             "--model", str(root / "champion"), "--master", "local[2]"],
                            capture_output=True, text=True, cwd=root, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    spark_rows = pd.read_parquet(dest).sort_values("id").reset_index(drop=True)

    lines = "\n".join(json.dumps({"id": f"p{i}", "text": t}, ensure_ascii=False) for i, t in enumerate(texts))
    cli = subprocess.run([sys.executable, "-m", "ctframe.train.cli", "score", "--paragraphs", "--model", str(root / "champion"),
                          "-"], input=lines, capture_output=True, text=True, check=True, cwd=root)
    cli_rows = sorted((json.loads(l) for l in cli.stdout.splitlines()), key=lambda r: r["id"])
    assert list(spark_rows["id"]) == [r["id"] for r in cli_rows]
    assert list(spark_rows["topic"]) == [r["topic"] for r in cli_rows]
    assert [list(f) for f in spark_rows["frames"]] == [r["frames"] for r in cli_rows]
    for row, expected in zip(spark_rows.to_dict("records"), cli_rows):
        for label, p in expected["topic_scores"].items():
            assert row[f"p_topic_{label}"] == pytest.approx(p, abs=1e-6)


def test_score_spark_missing_column_is_a_clear_error(trained, tmp_path):
    root, *_ = trained
    archive = tmp_path / "archive.parquet"
    pd.DataFrame({"body": ["نص"]}).to_parquet(archive)
    result = subprocess.run([sys.executable, "-m", "ctframe.train.cli", "score-spark", str(archive), str(tmp_path / "out"),
                             "--model", str(root / "champion"), "--master", "local[1]"],
                            capture_output=True, text=True, cwd=root, timeout=600)
    assert result.returncode == 2 and "no 'text' column" in result.stderr
