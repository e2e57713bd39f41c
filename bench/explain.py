"""Benchmark: the cost of `ctframe score --explain` evidence per paragraph (not a test). Scores corpus
paragraphs of about 100 words with the champion, one core, one paragraph at a time and in batches.

    .venv/bin/python bench/explain.py [--model models/champion] [--paragraphs 200]
"""
import argparse
import os
import random
import time

from ctframe import CHAMPION_DIR
from ctframe.features.corpus import load_snn_paragraphs
from ctframe.train.families import load_exported
from ctframe.train.evidence import explain

parser = argparse.ArgumentParser()
parser.add_argument("--model", default=str(CHAMPION_DIR))
parser.add_argument("--paragraphs", type=int, default=200)
args = parser.parse_args()
os.sched_setaffinity(0, {0})
model = load_exported(args.model)
pool = [p.text for p in load_snn_paragraphs() if 90 <= len(p.text.split()) <= 110]
texts = random.Random(0).sample(pool, min(args.paragraphs, len(pool)))
explain(model, texts[:2])  # warm
for batch in (1, 32):
    started = time.perf_counter()
    for i in range(0, len(texts), batch):
        explain(model, texts[i:i + batch])
    per = (time.perf_counter() - started) / len(texts) * 1000
    print(f"explain, ~100-word paragraphs, batches of {batch:>2}, 1 core: {per:.1f} ms per paragraph (target <= 20 ms)")
