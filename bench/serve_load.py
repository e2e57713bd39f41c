"""Benchmark: both REST servers side by side under load (not a test; traffic stays on 127.0.0.1).

`ctframe serve` and `mlflow models serve` each serve the champion in turn; wrk (Debian's package, one
thread so it steals little of the servers' CPU) sends 1-paragraph and 100-paragraph requests from 50
connections for 10 s each, and the script prints requests/s and p50/p99 latency for each.

    .venv/bin/python bench/serve_load.py [--model models/champion] [--connections 50] [--seconds 10]
"""
import argparse
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from ctframe import CHAMPION_DIR
from ctframe.features.corpus import load_snn_paragraphs

parser = argparse.ArgumentParser()
parser.add_argument("--model", default=str(CHAMPION_DIR))
parser.add_argument("--connections", type=int, default=50)
parser.add_argument("--seconds", type=int, default=10)
args = parser.parse_args()
if not shutil.which("wrk"):
    sys.exit("bench/serve_load.py needs wrk: apt-get install wrk")

with socket.socket() as s:
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
bin_dir = os.path.dirname(sys.executable)
SERVERS = {
    "ctframe serve": [sys.executable, "-m", "ctframe.train.cli", "serve", "--model", args.model, "--port", str(port)],
    "mlflow models serve": [os.path.join(bin_dir, "mlflow"), "models", "serve", "-m", args.model, "--env-manager",
                            "local", "--host", "127.0.0.1", "--port", str(port)],
}
texts = [p.text for p in load_snn_paragraphs()[:200]]
work = Path(tempfile.mkdtemp())


def wrk(size: int) -> dict:
    body = work / f"body{size}.json"
    body.write_text(json.dumps({"inputs": {"text": texts[:size]}}, ensure_ascii=False), encoding="utf-8")
    script = work / f"post{size}.lua"
    script.write_text('wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\n'
                      f'local f = io.open("{body}", "rb")\nwrk.body = f:read("*a")\nf:close()\n', encoding="utf-8")
    out = subprocess.run(["wrk", "-t1", f"-c{args.connections}", f"-d{args.seconds}s", "--latency", "-s", str(script),
                          f"http://127.0.0.1:{port}/invocations"], capture_output=True, text=True, check=True).stdout

    def ms(label):
        value, unit = re.search(rf"{label}%\s+([\d.]+)(us|ms|s)", out).groups()
        return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]

    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {"requests_per_s": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
            "p50_ms": ms("50"), "p99_ms": ms("99"), "non_2xx": int(errors.group(1)) if errors else 0}


results = {}
for name, command in SERVERS.items():
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}  # mlflow runs uvicorn from PATH
    server = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              start_new_session=True)
    try:
        for _ in range(240):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/ping", timeout=1)
                break
            except OSError:
                time.sleep(0.5)
        results[name] = {size: wrk(size) for size in (1, 100)}
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
    time.sleep(1)

print(f"{'server':<22}{'paragraphs/request':>20}{'requests/s':>12}{'p50 ms':>9}{'p99 ms':>9}{'non-2xx':>9}")
for name, by_size in results.items():
    for size, r in by_size.items():
        print(f"{name:<22}{size:>20}{r['requests_per_s']:>12.1f}{r['p50_ms']:>9.0f}{r['p99_ms']:>9.0f}{r['non_2xx']:>9}")
print(f"({os.cpu_count()} cores; wrk: 1 thread, {args.connections} connections, {args.seconds} s per row)")
one, hundred = results["ctframe serve"][1], results["ctframe serve"][100]
met = one["requests_per_s"] >= 1000 and one["p99_ms"] < 100 and hundred["requests_per_s"] >= 50
print(f"ctframe serve targets (1 paragraph >= 1,000 requests/s with p99 < 100 ms; 100 paragraphs >= 50 "
      f"requests/s): {'met' if met else 'NOT met'}")
