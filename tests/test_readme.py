"""Every command the README shows works as typed, with the venv not activated.

All `ctframe` lines are parsed by the real CLI parser and every `make` target must exist. The lines that
are safe on tiny inputs (score, both servers with curl, train on a tiny config, compare) are run as typed
by bash in a sandbox laid out like the project: its own `.venv` (a link to this one), `models/champion`,
`../shared/corpora/saudinewsnet` (a tiny corpus), a sqlite store of its own.
"""
import json
import os
import re
import shlex
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest
import yaml

from conftest import build_corpus, tiny_overrides, write_labels
from ctframe import PROJECT_ROOT
from ctframe.train.cli import build_parser

pytestmark = pytest.mark.slow

README = (PROJECT_ROOT / "README.md").read_text(encoding="utf-8")
RUN = [  # (command exactly as the README shows it, what its output must contain)
    (".venv/bin/ctframe train experiments/mine.yaml", '"run_id"'),
    (".venv/bin/ctframe score article.txt", '"topic"'),
    (".venv/bin/ctframe score news/ -o scores.jsonl --summary articles.jsonl", ""),
    ("echo '{\"id\": \"p1\", \"text\": \"أحبطت الأجهزة الأمنية مخططا إرهابيا\"}' | .venv/bin/ctframe score --paragraphs -",
     '"id": "p1"'),
    (".venv/bin/ctframe score ../shared/corpora/saudinewsnet -o corpus-scores.jsonl --jobs 0", ""),
    (".venv/bin/ctframe compare --json", '"experiment": "train"'),
]
SERVERS = ['PATH="$PWD/.venv/bin:$PATH" .venv/bin/mlflow models serve -m models/champion --env-manager local '
           "--host 127.0.0.1 --port 5001",
           ".venv/bin/ctframe serve --port 5001"]


def shell_lines() -> list[str]:
    """The commands of the README's ``sh`` blocks: continuations joined, trailing comments dropped."""
    lines = []
    for block in re.findall(r"```sh\n(.*?)```", README, flags=re.S):
        for line in block.replace("\\\n", " ").splitlines():
            line = re.sub(r"\s+#\s.*$", "", line).strip()
            if line:
                lines.append(" ".join(line.split()))
    return lines


def test_every_ctframe_line_parses_and_every_make_target_exists():
    lines = shell_lines()
    parser = build_parser()
    ctframe = [line for line in lines if line.startswith(".venv/bin/ctframe ")]
    assert len(ctframe) >= 20
    for line in ctframe:
        args = shlex.split(line.split("|")[-1].strip())[1:] if "|" in line else shlex.split(line)[1:]
        parser.parse_args(args)  # SystemExit (a failure) on an unknown command or option
    for line in (line for line in lines if line.startswith("make ")):
        target = line.split()[1]
        assert subprocess.run(["make", "-n", target], cwd=PROJECT_ROOT, capture_output=True).returncode == 0, line


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory):
    root = tmp_path_factory.mktemp("readme")
    project = root / "main"
    project.mkdir()
    (project / ".venv").symlink_to(PROJECT_ROOT / ".venv")
    corpus = root / "shared" / "corpora" / "saudinewsnet"
    truth = build_corpus(corpus)
    write_labels(root / "labels", truth)
    (project / "experiments").mkdir()
    overrides = tiny_overrides(root)
    overrides["corpus"]["path"] = str(corpus)
    (project / "experiments" / "mine.yaml").write_text(yaml.safe_dump(overrides), encoding="utf-8")
    (project / "article.txt").write_text("أحبطت الأجهزة الأمنية مخططا إرهابيا\n\nفاز نادي الهلال على منافسه",
                                         encoding="utf-8")
    (project / "news").mkdir()
    (project / "news" / "a.txt").write_text("قبضت قوات الأمن على أفراد خلية إرهابية", encoding="utf-8")
    env = {**os.environ, "MLFLOW_TRACKING_URI": f"sqlite:///{root / 'mlflow.db'}",
           "CTFRAME_CHAMPION": str(project / "models" / "champion"), "CTFRAME_CORPUS": str(corpus)}
    env["PATH"] = os.pathsep.join(p for p in env["PATH"].split(os.pathsep) if ".venv" not in p)  # not activated
    train = run(RUN[0][0], project, env)  # the README's train line, on the tiny config: exports the champion
    assert train.returncode == 0, train.stderr[-2000:]
    return project, env


def run(line: str, project: Path, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", "-c", line], cwd=project, env=env, capture_output=True, text=True, timeout=600)


def test_safe_commands_run_as_typed(sandbox):
    project, env = sandbox
    readme = shell_lines() + re.findall(r"`(\.venv/bin/[^`]+)`", README)
    assert RUN[0][0] in readme
    for line, expected in RUN[1:]:
        assert line in readme, f"the README no longer shows: {line}"
        result = run(line, project, env)
        assert result.returncode == 0 and expected in result.stdout, (line, result.stderr[-2000:])
    assert (project / "scores.jsonl").read_text(encoding="utf-8") and (project / "articles.jsonl").exists()
    assert len((project / "corpus-scores.jsonl").read_text(encoding="utf-8").splitlines()) == 216


def test_both_servers_answer_the_readme_curl(sandbox):
    project, env = sandbox
    assert (project / "models" / "champion" / "MLmodel").is_file()  # exported by the tiny train above
    curl = next(line for line in shell_lines() if line.startswith("curl "))
    answers = []
    for line in SERVERS:
        assert line in shell_lines(), f"the README no longer shows: {line}"
        server = subprocess.Popen(["bash", "-c", line], cwd=project, env=env, stdout=subprocess.DEVNULL,
                                  stderr=subprocess.PIPE, start_new_session=True)
        try:
            deadline = time.time() + 120
            while True:
                try:
                    urllib.request.urlopen("http://127.0.0.1:5001/ping", timeout=2)
                    break
                except OSError:
                    assert server.poll() is None and time.time() < deadline, server.stderr.read()[-2000:]
                    time.sleep(0.5)
            result = run(curl, project, env)
            assert result.returncode == 0, result.stderr
            answers.append(json.loads(result.stdout)["predictions"])
        finally:
            try:
                os.killpg(server.pid, 15)  # the whole group: `mlflow models serve` runs uvicorn as a child
            except ProcessLookupError:
                pass
            server.wait(timeout=30)
            port_free = time.time() + 60
            while time.time() < port_free:  # the next server must not find the old one still on 5001
                with socket.socket() as probe:
                    if probe.connect_ex(("127.0.0.1", 5001)) != 0:
                        break
                time.sleep(0.2)
    assert answers[0] == answers[1] and answers[0][0]["topic"] and "p_frame_prevention" in answers[0][0]
