"""`ctframe serve`: MLflow's own scoring server for the champion, plus a request-size limit."""
from __future__ import annotations

import json
import re
from pathlib import Path

from ctframe.train.families import require_exported


def load_pyfunc(model_dir):
    """The exported pyfunc model: the same object `mlflow models serve` and Spark use."""
    import mlflow

    require_exported(model_dir)
    return mlflow.pyfunc.load_model(str(model_dir))

MAX_BODY_BYTES = 5 * 1024 * 1024
MAX_JSON_DEPTH = 64  # a request nested deeper is refused before it reaches the JSON parser
HOST, PORT = "127.0.0.1", 5001
_JSON_STRING = re.compile(rb'"(?:\\.|[^"\\])*"')


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


def _error(status: int, code: str, message: str):
    from fastapi.responses import Response

    return Response(json.dumps({"error_code": code, "message": message}), status_code=status,
                    media_type="application/json")


def build_app(model_dir, max_body_bytes: int = MAX_BODY_BYTES):
    """MLflow's scoring app (/invocations, /ping, /version) for ``model_dir``, and /health with the model's
    version and data fingerprint. A body over ``max_body_bytes`` gets 413, a body of unknown length 411,
    and JSON nested deeper than ``MAX_JSON_DEPTH`` 400, before any of it is parsed."""
    from fastapi.responses import JSONResponse
    from mlflow.pyfunc import scoring_server

    app = scoring_server.init(load_pyfunc(model_dir))
    info = model_info(model_dir)
    app.router.routes[:] = [r for r in app.router.routes if getattr(r, "path", None) != "/health"]
    app.add_api_route("/health", lambda: JSONResponse(info), methods=["GET"])

    @app.middleware("http")
    async def limit_body(request, call_next):
        if request.method == "POST":
            length = request.headers.get("content-length")
            if length is None or not length.isdigit():
                return _error(411, "LENGTH_REQUIRED", "send a Content-Length header")
            if int(length) > max_body_bytes:
                return _error(413, "REQUEST_TOO_LARGE",
                              f"request body of {int(length):,} bytes is over the {max_body_bytes:,}-byte limit; "
                              "split it into smaller requests")
            if json_depth(await request.body()) > MAX_JSON_DEPTH:
                return _error(400, "BAD_REQUEST", f"JSON nested deeper than {MAX_JSON_DEPTH} levels")
        return await call_next(request)

    return app


def serve(model_dir, *, host: str = HOST, port: int = PORT, max_body_bytes: int = MAX_BODY_BYTES) -> None:
    import uvicorn

    uvicorn.run(build_app(model_dir, max_body_bytes), host=host, port=port, log_level="warning")
