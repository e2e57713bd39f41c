"""`ctframe serve`: MLflow's own scoring server for the champion, plus a request-size limit."""
from __future__ import annotations

import json

from ctframe.train.serving.score import load_pyfunc

MAX_BODY_BYTES = 5 * 1024 * 1024
HOST, PORT = "127.0.0.1", 5001


def _error(status: int, code: str, message: str):
    from fastapi.responses import Response

    return Response(json.dumps({"error_code": code, "message": message}), status_code=status,
                    media_type="application/json")


def build_app(model_dir, max_body_bytes: int = MAX_BODY_BYTES):
    """MLflow's scoring app (/invocations, /ping, /version) for ``model_dir``; a body over
    ``max_body_bytes`` gets 413 and a body of unknown length 411, before any of it is parsed."""
    from mlflow.pyfunc import scoring_server

    app = scoring_server.init(load_pyfunc(model_dir))

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
        return await call_next(request)

    return app


def serve(model_dir, *, host: str = HOST, port: int = PORT, max_body_bytes: int = MAX_BODY_BYTES) -> None:
    import uvicorn

    uvicorn.run(build_app(model_dir, max_body_bytes), host=host, port=port, log_level="warning")
