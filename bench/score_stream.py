"""Benchmark: stream-score the whole shared corpus; prints paragraphs/s and peak RSS (not a test).

    .venv/bin/python bench/score_stream.py [--jobs N] [--model models/champion] [--corpus DIR]
"""
import argparse
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from ctframe.features.corpus import DEFAULT_CORPUS
from ctframe import CHAMPION_DIR

parser = argparse.ArgumentParser()
parser.add_argument("--jobs", type=int, default=1)
parser.add_argument("--model", default=str(CHAMPION_DIR))
parser.add_argument("--corpus", default=str(DEFAULT_CORPUS))
args = parser.parse_args()

with tempfile.TemporaryDirectory() as tmp:
    out = Path(tmp) / "scores.jsonl"
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "ctframe.train.cli", "score", "--model", args.model, args.corpus,
                    "-o", str(out), "--jobs", str(args.jobs)], check=True)
    seconds = time.perf_counter() - started
    with out.open("rb") as handle:
        lines = sum(1 for _ in handle)
peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
print(f"jobs={args.jobs} paragraphs={lines} seconds={seconds:.1f} paragraphs_per_s={lines / seconds:.0f} "
      f"peak_rss_largest_process_mb={peak_mb:.0f}")
