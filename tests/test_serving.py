"""REST serving: the real `mlflow models serve` and `ctframe serve`, started here on 127.0.0.1; both answer
the same numbers as the CLI on the same texts."""
import http.client
import json
import subprocess
import sys
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import SENTENCES, free_port, start, stop

pytestmark = pytest.mark.slow  # real servers / Spark: make test runs it, make test-fast does not

TEXTS = [SENTENCES["prevention"][0], SENTENCES["economy"][1], SENTENCES["international_cooperation"][0]]


def post(port: int, body: bytes, content_type="application/json"):
    request = urllib.request.Request(f"http://127.0.0.1:{port}/invocations", data=body,
                                     headers={"Content-Type": content_type})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"{}")


@pytest.fixture(scope="module")
def mlflow_server(trained):
    root, *_ = trained
    port = free_port()
    process = start([sys.executable, "-m", "mlflow", "models", "serve", "-m", str(root / "champion"),
                     "--env-manager", "local", "--host", "127.0.0.1", "--port", str(port)], port, root)
    yield port
    stop(process)


@pytest.fixture(scope="module")
def ctframe_server(trained):
    root, *_ = trained
    port = free_port()
    process = start([sys.executable, "-m", "ctframe.train.cli", "serve", "--model", str(root / "champion"),
                     "--port", str(port), "--max-body-mb", "0.05", "--workers", "2"], port, root)
    yield port
    stop(process)


def cli_scores(root, texts, titles=None):
    lines = "\n".join(json.dumps({"id": str(i), "text": t, "title": (titles or [""] * len(texts))[i]},
                                 ensure_ascii=False) for i, t in enumerate(texts))
    out = subprocess.run([sys.executable, "-m", "ctframe.train.cli", "score", "--paragraphs", "--model",
                          str(root / "champion"), "-"], input=lines, capture_output=True, text=True, check=True)
    assert out.stderr == ""  # no third-party warnings
    return [json.loads(line) for line in out.stdout.splitlines()]


TITLES = ["خلية إرهابية", "", "تعاون أمني"]


def test_both_servers_and_the_cli_give_the_same_numbers(trained, mlflow_server, ctframe_server):
    """The same texts (with titles) through `mlflow models serve` (the skops model in MLflow's pyfunc),
    `ctframe serve` (the array form, micro-batched) and `ctframe score`."""
    root, *_ = trained
    body = json.dumps({"dataframe_split": {"columns": ["text", "title"], "data": [list(r) for r in zip(TEXTS, TITLES)]}})
    (_, by_mlflow), (_, by_ctframe) = post(mlflow_server, body.encode()), post(ctframe_server, body.encode())
    assert by_ctframe["predictions"] == by_mlflow["predictions"]  # identical numbers, not merely close
    expected = cli_scores(root, TEXTS, TITLES)
    for served, scored in zip(by_ctframe["predictions"], expected):
        assert served["topic"] == scored["topic"] and served["frames"] == scored["frames"]
        for frame, score in scored["frame_scores"].items():
            assert served[f"p_frame_{frame}"] == pytest.approx(score, abs=1e-6)
        for topic, score in scored["topic_scores"].items():
            assert served[f"p_topic_{topic}"] == pytest.approx(score, abs=1e-6)


@pytest.mark.parametrize("body", [
    {"dataframe_split": {"columns": ["text"], "data": [[t] for t in TEXTS]}},
    {"dataframe_records": [{"text": t} for t in TEXTS]},
    {"inputs": {"text": TEXTS}},
    {"inputs": [{"text": t} for t in TEXTS]},
    {"instances": [{"text": t, "title": None} for t in TEXTS]},
])
def test_ctframe_serve_answers_every_mlflow_request_format_as_mlflow_does(mlflow_server, ctframe_server, body):
    raw = json.dumps(body).encode()
    (status, by_ctframe), (_, by_mlflow) = post(ctframe_server, raw), post(mlflow_server, raw)
    assert status == 200 and len(by_ctframe["predictions"]) == len(TEXTS)
    assert by_ctframe["predictions"] == by_mlflow["predictions"]  # identical numbers, not merely close


def test_micro_batched_answers_go_back_to_their_own_requests(ctframe_server):
    """Many clients at once, each with its own text: every answer is the one that text gets alone."""
    texts = [f"{a} {b}" for a in TEXTS for b in SENTENCES["politics"] + SENTENCES["prevention"]]
    alone = {t: post(ctframe_server, json.dumps({"inputs": {"text": [t]}}).encode())[1]["predictions"][0]
             for t in texts}
    with ThreadPoolExecutor(max_workers=32) as pool:
        answers = list(pool.map(lambda t: (t, post(ctframe_server, json.dumps({"inputs": {"text": [t]}}).encode())),
                                texts * 8))
    assert len({a["p_frame_prevention"] for a in alone.values()}) > len(TEXTS)  # the texts score differently
    for text, (status, answer) in answers:
        assert status == 200 and answer["predictions"] == [alone[text]]


def test_ctframe_serve_refuses_a_title_that_is_not_a_string(ctframe_server):
    # (MLflow's schema enforcement turns 7 into "7" and answers 200; ctframe serve says what is wrong.)
    status, answer = post(ctframe_server, json.dumps({"inputs": {"text": TEXTS[:1], "title": [7]}}).encode())
    assert status == 400 and answer["message"] == "row 0: 'title' must be a string, got int"


def test_ctframe_serve_ping_version_and_wrong_routes(ctframe_server):
    with urllib.request.urlopen(f"http://127.0.0.1:{ctframe_server}/ping", timeout=30) as response:
        assert response.status == 200
    with urllib.request.urlopen(f"http://127.0.0.1:{ctframe_server}/version", timeout=30) as response:
        from importlib.metadata import version

        assert response.read().decode() == version("mlflow")
    for path, code in (("/nowhere", 404), ("/invocations", 405)):
        with pytest.raises(urllib.error.HTTPError) as error:
            urllib.request.urlopen(f"http://127.0.0.1:{ctframe_server}{path}", timeout=30)
        assert error.value.code == code
    status, answer = post(ctframe_server, b"text,title\nx,y\n", content_type="text/csv")
    assert status == 415 and "application/json" in answer["message"]


@pytest.mark.parametrize("server", ["mlflow_server", "ctframe_server"])
@pytest.mark.parametrize("body", [
    {"dataframe_split": {"columns": ["body"], "data": [["نص"]]}},        # no text column
    {"dataframe_split": {"columns": ["text"], "data": [[None]]}},        # null text
    {"dataframe_split": {"columns": ["text"], "data": [[5]]}},           # not a string
    {"dataframe_split": {"columns": ["text"], "data": [["   "]]}},       # empty text
    "{not json",                                                          # malformed JSON
])
def test_bad_requests_get_4xx_and_the_server_keeps_answering(request, server, body):
    port = request.getfixturevalue(server)
    raw = body.encode() if isinstance(body, str) else json.dumps(body).encode()
    status, answer = post(port, raw)
    assert 400 <= status < 500, answer
    assert answer.get("message")
    assert post(port, json.dumps({"inputs": {"text": TEXTS[:1]}}).encode())[0] == 200


def test_ctframe_serve_limits_body_size(ctframe_server):
    # Announce a 200 KB body (limit: 0.05 MB); the server answers 413 before reading any of it.
    connection = http.client.HTTPConnection("127.0.0.1", ctframe_server, timeout=30)
    connection.putrequest("POST", "/invocations")
    connection.putheader("Content-Type", "application/json")
    connection.putheader("Content-Length", str(200_000))
    connection.endheaders()
    response = connection.getresponse()
    assert response.status == 413 and "limit" in json.loads(response.read())["message"]
    connection.close()
    assert post(ctframe_server, json.dumps({"inputs": {"text": TEXTS}}).encode())[0] == 200


def test_concurrent_clients_all_succeed(ctframe_server):
    body = json.dumps({"inputs": {"text": TEXTS}}).encode()
    with ThreadPoolExecutor(max_workers=50) as pool:
        statuses = list(pool.map(lambda _: post(ctframe_server, body)[0], range(500)))
    assert statuses.count(200) == 500


def test_ctframe_serve_refuses_deep_nesting_and_reports_its_model(trained, ctframe_server):
    root, *_ = trained
    status, answer = post(ctframe_server, b"[" * 5000 + b"]" * 5000)
    assert status == 400 and "nested deeper" in answer["message"]
    nested_ok = json.dumps({"inputs": {"text": TEXTS}, "params": {}}).encode()
    assert post(ctframe_server, nested_ok)[0] == 200
    with urllib.request.urlopen(f"http://127.0.0.1:{ctframe_server}/health", timeout=30) as response:
        health = json.loads(response.read())
    champion = json.loads((root / "champion" / "champion.json").read_text())
    assert health["status"] == "ok" and health["version"] == champion["version"]
    assert health["data_fingerprint"] == champion["data_fingerprint"] and len(health["data_fingerprint"]) == 64


JSON_VALUES = st.recursive(st.none() | st.booleans() | st.integers(min_value=-10**30, max_value=10**30) | st.floats()
                           | st.text(max_size=30),
                           lambda inner: st.lists(inner, max_size=4) | st.dictionaries(
                               st.sampled_from(["inputs", "text", "dataframe_split", "dataframe_records", "columns",
                                                "data", "instances", "params", "x"]), inner, max_size=4),
                           max_leaves=25)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=st.one_of(JSON_VALUES.map(lambda v: json.dumps(v).encode()), st.binary(max_size=300)),
       content_type=st.sampled_from(["application/json", "text/plain", "application/octet-stream", "text/csv"]))
def test_hostile_bodies_get_an_answer_never_a_500(ctframe_server, body, content_type):
    status, _ = post_raw(ctframe_server, body, content_type)
    assert status < 500, (status, body[:200])


def post_raw(port: int, body: bytes, content_type: str):
    request = urllib.request.Request(f"http://127.0.0.1:{port}/invocations", data=body,
                                     headers={"Content-Type": content_type})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def test_chunked_upload_without_length_gets_411(ctframe_server):
    connection = http.client.HTTPConnection("127.0.0.1", ctframe_server, timeout=30)
    connection.putrequest("POST", "/invocations")
    connection.putheader("Content-Type", "application/json")
    connection.putheader("Transfer-Encoding", "chunked")
    connection.endheaders()
    connection.send(b"10\r\n" + b'{"inputs": {"te' + b"x\r\n")  # never finished: the server must not wait for it
    response = connection.getresponse()
    assert response.status == 411 and "Content-Length" in json.loads(response.read())["message"]
    connection.close()


def test_ctframe_serve_gives_evidence_when_asked(ctframe_server):
    body = json.dumps({"inputs": {"text": TEXTS}, "params": {"explain": True}}).encode()
    status, answer = post(ctframe_server, body)
    assert status == 200
    first = answer["predictions"][0]
    assert first["evidence"]["frames"]["prevention"][0]["effect"] > 0 and first["evidence"]["topic"]
    plain = post(ctframe_server, json.dumps({"inputs": {"text": TEXTS}}).encode())[1]
    assert "evidence" not in plain["predictions"][0]


def invoke(app, payload) -> tuple[int, dict]:
    """One request straight into the ASGI app's /invocations handler (no network)."""
    import asyncio

    body = json.dumps(payload).encode() if not isinstance(payload, bytes) else payload
    scope = {"type": "http", "headers": [(b"content-length", str(len(body)).encode()),
                                         (b"content-type", b"application/json")]}

    async def receive():
        return {"type": "http.request", "body": body, "more_body": False}

    status, answer = asyncio.run(app.invocations(scope, receive))
    return status, json.loads(answer)


def test_request_limits_and_formats_as_mlflow_reads_them(trained):
    from ctframe.train.serving.serve import MAX_EXPLAIN_CHARS, MAX_ROWS, ScoringApp

    root, *_ = trained
    app = ScoringApp(root / "champion", max_body_bytes=10**8)
    status, answer = invoke(app, {"inputs": {"text": ["نص"] * (MAX_ROWS + 1)}})
    assert status == 400 and "the limit is" in answer["message"]
    status, answer = invoke(app, {"inputs": {"text": ["نص " * (MAX_EXPLAIN_CHARS // 3 + 1)]}, "params": {"explain": True}})
    assert status == 400 and "explain is limited" in answer["message"]
    status, answer = invoke(app, {"dataframe_split": {"columns": ["text"], "data": TEXTS}})  # bare values, one column
    assert status == 200 and len(answer["predictions"]) == len(TEXTS)
    for payload in ({"dataframe_records": {"text": TEXTS}}, {"inputs": {"text": TEXTS}, "params": []}):
        assert invoke(app, payload)[0] == 400
    status, answer = invoke(app, b'{"inputs": "' + b'\\"' * 200_000)  # a string that never closes
    assert status == 400 and "not valid JSON" in answer["message"]


def test_a_failing_request_fails_alone_in_its_batch(trained):
    """Requests scored together: the one the model cannot score gets the error, the others their answers."""
    import asyncio

    from ctframe.train.arrays import load_scorer
    from ctframe.train.predictions import predict_records
    from ctframe.train.serving.serve import Batcher

    root, *_ = trained
    scorer = load_scorer(root / "champion")

    class RefusesOneText:  # the real model, refusing one text as a model might fail on an input
        def __getattr__(self, name):
            return getattr(scorer, name)

        def predict_proba(self, X):
            if "يرفض" in X["text"]:
                raise MemoryError("too big")
            return scorer.predict_proba(X)

    async def main():
        batcher = Batcher(RefusesOneText())
        columns = [{"text": [t], "title": [""], "context": [""]} for t in (TEXTS[0], "يرفض", TEXTS[1])]
        return await asyncio.gather(*(batcher.score(c) for c in columns), return_exceptions=True)

    first, failed, last = asyncio.run(main())
    assert isinstance(failed, MemoryError)
    assert [first[0], last[0]] == predict_records(scorer, [TEXTS[0], TEXTS[1]])
