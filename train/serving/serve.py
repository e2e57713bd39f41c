"""`ctframe serve`: a lean ASGI server for an exported model, built for throughput.

Each worker process (``--workers``, default: every core) loads the model once, in its array form when it
has one (``train/arrays.py``), and speaks MLflow's scoring protocol: ``POST /invocations`` with a JSON
body holding ``dataframe_split``, ``dataframe_records``, ``inputs`` or ``instances`` (and optionally
``params``), answered with the same ``{"predictions": [...]}`` as `mlflow models serve`; ``GET /ping``,
``/version`` and ``/health`` (the model's version and data fingerprint). Requests that arrive while the
model is busy are scored together in one call (micro-batching), so concurrent clients share its per-call
cost; no pandas and no MLflow on that path. A body over the limit gets 413 and one of unknown length 411
before any of it is read; JSON nested deeper than 64 levels, bad JSON and bad input get 400 with a message.
"""
from __future__ import annotations

import asyncio
import json
import os
import re
from pathlib import Path

from ctframe import CHAMPION_DIR, CtframeError
from ctframe.train.predictions import INPUT_COLUMNS, checked_columns, predict_records, to_row

MAX_BODY_BYTES = 5 * 1024 * 1024
MAX_JSON_DEPTH = 64  # a request nested deeper is refused before it reaches the JSON parser
HOST, PORT = "127.0.0.1", 5001
FORMATS = ("dataframe_split", "dataframe_records", "inputs", "instances")  # MLflow's JSON request formats
# A JSON string, or an unterminated one to the end of the body: always matching from its first quote keeps
# the scan linear (a body of `\"` repeated never closes a string, and a pattern that needs the closing quote
# would rescan the rest of the body from every quote).
_JSON_STRING = re.compile(rb'"(?:[^"\\]|\\.)*(?:"|\Z)', re.S)
MAX_ROWS = 10_000  # paragraphs per request
MAX_EXPLAIN_CHARS = 20_000  # text per request with "explain": occlusion costs grow with the square of a text's length
MAX_BATCH_CHARS = 1_000_000  # text scored in one model call; requests over it go alone
_MODEL_ENV, _LIMIT_ENV = "CTFRAME_SERVE_MODEL", "CTFRAME_SERVE_MAX_BODY"  # how uvicorn's workers get the options


def json_depth(body: bytes) -> int:
    """How deeply arrays and objects nest in a JSON body (strings ignored), without parsing it."""
    import numpy as np

    codes = np.frombuffer(_JSON_STRING.sub(b'""', body), dtype=np.uint8)
    steps = np.isin(codes, (ord("["), ord("{"))).astype(np.int32) - np.isin(codes, (ord("]"), ord("}")))
    return int(np.cumsum(steps).max(initial=0))


def model_info(model_dir) -> dict:
    """What a server says it serves: the registered version and the data it was evaluated on."""
    path = Path(model_dir) / "champion.json"
    info = json.loads(path.read_text()) if path.is_file() else {}
    return {"status": "ok", "model": str(model_dir), **info}


def request_columns(payload) -> tuple[dict[str, list], dict]:
    """An MLflow scoring request → (its columns, each a list of cell values; its ``params``)."""
    if not isinstance(payload, dict) or sum(key in payload for key in FORMATS) != 1:
        raise CtframeError(f"the body must be a JSON object with exactly one of {', '.join(FORMATS)}")
    unknown = set(payload) - {*FORMATS, "params"}
    if unknown:
        raise CtframeError(f"unknown request field(s) {', '.join(sorted(map(str, unknown)))}")
    params = {} if payload.get("params") is None else payload["params"]
    if not isinstance(params, dict) or set(params) - {"explain"} or not isinstance(params.get("explain", False), bool):
        raise CtframeError('params may only hold "explain": true or false')
    key = next(key for key in FORMATS if key in payload)
    data = payload[key]
    if key == "dataframe_split":
        if not isinstance(data, dict) or not isinstance(data.get("columns"), list) \
                or not isinstance(data.get("data"), list):
            raise CtframeError('dataframe_split must be {"columns": [...], "data": [[...], ...]}')
        columns = data["columns"]
        if not all(isinstance(c, str) for c in columns) or len(set(columns)) != len(columns):
            raise CtframeError("dataframe_split columns must be distinct strings")
        rows = data["data"]
        if len(columns) == 1:  # as MLflow (pandas) reads it, a row of one column may be the bare value
            rows = [row if isinstance(row, list) else [row] for row in rows]
        if not all(isinstance(row, list) and len(row) == len(columns) for row in rows):
            raise CtframeError(f"every dataframe_split row must be a list of {len(columns)} values")
        return {c: [row[j] for row in rows] for j, c in enumerate(columns)}, params
    if isinstance(data, dict) and key != "dataframe_records":  # inputs / instances as columns
        if not all(isinstance(v, list) for v in data.values()) or len({len(v) for v in data.values()}) > 1:
            raise CtframeError(f"{key} as columns must map each column to a list, all of one length")
        return data, params
    if isinstance(data, list) and all(isinstance(row, dict) for row in data):  # records
        names = list(dict.fromkeys(name for row in data for name in row))
        return {name: [row.get(name) for row in data] for name in names}, params
    raise CtframeError(f"{key} must be a list of records" + (" or a mapping of columns" if key != FORMATS[1] else ""))


class Batcher:
    """Scores requests together: the requests that reach the event loop while the model is busy, or in
    one turn of the loop, go to the model in as few calls as ``MAX_BATCH_CHARS`` allows."""

    def __init__(self, model):
        self.model = model
        self.pending: list[tuple[dict, asyncio.Future]] = []

    async def score(self, columns: dict[str, list]) -> list:
        future = asyncio.get_running_loop().create_future()
        if not self.pending:
            asyncio.get_running_loop().call_soon(self.flush)
        self.pending.append((columns, future))
        return await future

    def flush(self) -> None:
        pending, self.pending = [(c, f) for c, f in self.pending if not f.done()], []
        chunk, size = [], 0
        for columns, future in pending:
            chars = sum(map(len, columns["text"]))
            if chunk and size + chars > MAX_BATCH_CHARS:
                self.answer(chunk)
                chunk, size = [], 0
            chunk.append((columns, future))
            size += chars
        if chunk:
            self.answer(chunk)

    def answer(self, chunk: list[tuple[dict, asyncio.Future]]) -> None:
        """Score a chunk of requests in one call; if that fails, each alone, so a failure reaches only the
        request that caused it."""
        try:
            merged = {c: [v for columns, _ in chunk for v in columns[c]] for c in INPUT_COLUMNS}
            predictions = predict_records(self.model, merged)
        except Exception as exc:
            if len(chunk) > 1:
                for request in chunk:
                    self.answer([request])
            elif not chunk[0][1].done():
                chunk[0][1].set_exception(exc)
            return
        start = 0
        for columns, future in chunk:
            end = start + len(columns["text"])
            if not future.done():
                future.set_result(predictions[start:end])
            start = end


class ScoringApp:
    """The ASGI application of one worker (uvicorn runs one per process)."""

    def __init__(self, model_dir=CHAMPION_DIR, max_body_bytes: int = MAX_BODY_BYTES):
        from importlib.metadata import version

        from ctframe.train.arrays import load_scorer

        self.model = load_scorer(model_dir)
        self.batcher = Batcher(self.model)
        self.max_body_bytes = max_body_bytes
        self.info = json.dumps(model_info(model_dir)).encode()
        self.version = version("mlflow").encode()  # what `mlflow models serve` answers on /version

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            return
        path, method = scope["path"], scope["method"]
        if path == "/invocations" and method == "POST":
            status, body = await self.invocations(scope, receive)
        elif path in ("/ping", "/health", "/version") and method == "GET":
            status, body = 200, {"/ping": b"\n", "/health": self.info, "/version": self.version}[path]
        elif path in ("/invocations", "/ping", "/health", "/version"):
            status, body = _error(405, "METHOD_NOT_ALLOWED", f"{method} is not allowed on {path}")
        else:
            status, body = _error(404, "NOT_FOUND", f"no route {path}; POST /invocations, GET /ping /health /version")
        await send({"type": "http.response.start", "status": status,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})

    async def invocations(self, scope, receive) -> tuple[int, bytes]:
        headers = dict(scope["headers"])
        length = headers.get(b"content-length", b"").decode("latin-1")
        if not (length.isascii() and length.isdigit()):
            return _error(411, "LENGTH_REQUIRED", "send a Content-Length header")
        if int(length) > self.max_body_bytes:
            return _error(413, "REQUEST_TOO_LARGE", f"request body of {int(length):,} bytes is over the "
                          f"{self.max_body_bytes:,}-byte limit; split it into smaller requests")
        content_type = headers.get(b"content-type", b"").split(b";")[0].strip().lower()
        if content_type != b"application/json":
            return _error(415, "UNSUPPORTED_MEDIA_TYPE", "send the request as Content-Type: application/json")
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        try:
            if json_depth(body) > MAX_JSON_DEPTH:
                raise CtframeError(f"JSON nested deeper than {MAX_JSON_DEPTH} levels")
            try:
                payload = json.loads(body)
            except (ValueError, RecursionError) as exc:
                raise CtframeError(f"the body is not valid JSON ({exc})") from exc
            columns, params = request_columns(payload)
            columns = checked_columns(columns)
            if len(columns["text"]) > MAX_ROWS:
                raise CtframeError(f"{len(columns['text']):,} paragraphs in one request; the limit is {MAX_ROWS:,}")
            if params.get("explain") and sum(map(len, columns["text"])) > MAX_EXPLAIN_CHARS:
                raise CtframeError(f"explain is limited to {MAX_EXPLAIN_CHARS:,} characters of text per request "
                                   "(its cost grows with the square of a text's length); send smaller requests")
        except CtframeError as exc:
            return _error(400, "BAD_REQUEST", str(exc))
        if params.get("explain"):
            rows = self.explained(columns)
        else:
            rows = [to_row(p) for p in await self.batcher.score(columns)]
        return 200, json.dumps({"predictions": rows}).encode()

    def explained(self, columns: dict[str, list]) -> list[dict]:
        """Predictions with their evidence (occlusion: slower, so scored alone rather than batched)."""
        from ctframe.train.evidence import explain

        return [{**to_row(p), "evidence": e}
                for p, e in zip(predict_records(self.model, columns), explain(self.model, columns))]


def _error(status: int, code: str, message: str) -> tuple[int, bytes]:
    return status, json.dumps({"error_code": code, "message": message}).encode()


def app_from_environment() -> ScoringApp:
    """The app factory each uvicorn worker calls (the options come through the environment)."""
    return ScoringApp(os.environ[_MODEL_ENV], int(os.environ[_LIMIT_ENV]))


def serve(model_dir=CHAMPION_DIR, *, host: str = HOST, port: int = PORT, max_body_bytes: int = MAX_BODY_BYTES,
          workers: int = 0) -> None:
    """Serve ``model_dir`` with ``workers`` processes (0: one per core) until interrupted."""
    import uvicorn

    from ctframe.train.families import require_exported

    require_exported(model_dir)
    os.environ[_MODEL_ENV], os.environ[_LIMIT_ENV] = str(Path(model_dir).resolve()), str(max_body_bytes)
    uvicorn.run(f"{__name__}:app_from_environment", factory=True, host=host, port=port,
                workers=workers or os.cpu_count() or 1, http="httptools", loop="uvloop", log_level="warning",
                access_log=False, lifespan="off")
