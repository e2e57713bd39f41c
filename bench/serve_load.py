"""Benchmark: `ctframe serve` under 50 concurrent clients; prints p50/p99 latency and requests/s for
1-paragraph and 100-paragraph requests (not a test; traffic stays on 127.0.0.1).

    .venv/bin/python bench/serve_load.py [--model models/champion] [--requests 500] [--clients 50]
"""
import argparse
import json
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor

from ctframe.features.corpus import load_snn_paragraphs
from ctframe import CHAMPION_DIR

parser = argparse.ArgumentParser()
parser.add_argument("--model", default=str(CHAMPION_DIR))
parser.add_argument("--requests", type=int, default=500)
parser.add_argument("--clients", type=int, default=50)
args = parser.parse_args()

with socket.socket() as s:
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
server = subprocess.Popen([sys.executable, "-m", "ctframe.train.cli", "serve", "--model", args.model, "--port", str(port)],
                          stderr=subprocess.DEVNULL)
try:
    for _ in range(240):
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1)
            break
        except OSError:
            time.sleep(0.5)
    texts = [p.text for p in load_snn_paragraphs()[:2000]]

    def call(body: bytes) -> float:
        started = time.perf_counter()
        request = urllib.request.Request(f"http://127.0.0.1:{port}/invocations", data=body,
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=300) as response:
            assert response.status == 200
            response.read()
        return time.perf_counter() - started

    for size in (1, 100):
        bodies = [json.dumps({"inputs": {"text": texts[(i * size) % 1900:(i * size) % 1900 + size]}}).encode()
                  for i in range(args.requests)]
        started = time.perf_counter()
        with ThreadPoolExecutor(args.clients) as pool:
            latencies = sorted(pool.map(call, bodies))
        wall = time.perf_counter() - started
        p99 = latencies[int(0.99 * (len(latencies) - 1))]
        print(f"paragraphs_per_request={size} requests={len(latencies)} clients={args.clients} "
              f"p50_ms={statistics.median(latencies) * 1000:.0f} p99_ms={p99 * 1000:.0f} "
              f"requests_per_s={len(latencies) / wall:.1f} paragraphs_per_s={len(latencies) * size / wall:.0f}")
finally:
    server.terminate()
    server.wait(timeout=30)
