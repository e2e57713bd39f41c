"""Benchmark: fit time on the whole labeled set and scoring throughput, the champion against its fastText
peer (not a test). The champion's estimator (``models/champion``, cloned: same params, unfitted) and the
fastText config are fitted here on every label, then score the same 30,000 corpus paragraphs (a seeded
sample) end to end, normalization included: on one core, then on every core (one process each).

    .venv/bin/python bench/peers.py [--champion models/champion] [--fasttext experiments/fasttext.yaml]
                                    [--paragraphs 30000] [--batch-size 512]
"""
import argparse
import json
import os
import random
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
from sklearn.base import clone

from ctframe import CHAMPION_DIR
from ctframe.features.corpus import load_snn_paragraphs
from ctframe.train.config import load_config
from ctframe.train.dataset import load_dataset
from ctframe.train.families import build_model, load_exported, load_model
from ctframe.train.fit import model_bytes
from ctframe.train.schema import load_schema

MODEL = None


def load_in_worker(path: str) -> None:
    global MODEL
    os.sched_setaffinity(0, {os.getpid() % os.cpu_count()})
    MODEL = load(path)


def load(path: str):
    if path.endswith(".skops"):
        return load_model(path)
    import fasttext

    from ctframe.train.families.fasttext import FastTextModel

    state = json.loads(Path(path, "state.json").read_text())
    model = FastTextModel(**state["params"])
    model.thresholds_ = np.array(state["thresholds"])
    model.topic_model_ = fasttext.load_model(f"{path}/topic.ftz")
    model.frame_model_ = fasttext.load_model(f"{path}/frames.ftz")
    return model


def score(texts: list[str]) -> int:
    MODEL.decide(*MODEL.predict_proba(texts))
    return len(texts)


def save(model, folder: Path) -> str:
    """The fitted model on disk, so worker processes can load it (fastText objects do not pickle)."""
    from ctframe.train.families.fasttext import FastTextModel

    files = model.save(folder)
    if isinstance(model, FastTextModel):
        state = {"params": model.get_params(), "thresholds": model.thresholds_.tolist()}
        (folder / "state.json").write_text(json.dumps(state))
        return str(folder)
    return str(files[0])


def throughput(path: str, batches: list[list[str]], workers: int) -> float:
    with ProcessPoolExecutor(workers, initializer=load_in_worker, initargs=(path,)) as pool:
        list(pool.map(score, [batches[0][:8]] * workers))  # every worker loaded and warm
        started = time.perf_counter()
        done = sum(pool.map(score, batches))
        return done / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--champion", default=str(CHAMPION_DIR))
    parser.add_argument("--fasttext", default="experiments/fasttext.yaml")
    parser.add_argument("--paragraphs", type=int, default=30_000)
    parser.add_argument("--batch-size", type=int, default=512)
    args = parser.parse_args()

    schema = load_schema()
    data = load_dataset(schema)
    corpus = [p.text for p in load_snn_paragraphs()]
    texts = random.Random(0).sample(corpus, min(args.paragraphs, len(corpus)))
    batches = [texts[i:i + args.batch_size] for i in range(0, len(texts), args.batch_size)]
    cores = os.cpu_count()
    print(f"{len(data.texts)} labeled paragraphs; scoring {len(texts)} corpus paragraphs in batches of "
          f"{args.batch_size}; {cores} cores")
    speeds = {}
    with tempfile.TemporaryDirectory() as tmp:
        champion = load_exported(args.champion)
        fasttext = build_model(load_config(args.fasttext), schema)
        for name, estimator in (("champion", clone(champion)), ("fasttext", fasttext)):
            started = time.perf_counter()
            model = estimator.fit(data.texts, data.topics, data.frames, groups=data.groups)
            fit_seconds = time.perf_counter() - started
            folder = Path(tmp) / name
            folder.mkdir()
            path = save(model, folder)
            one, every = throughput(path, batches, 1), throughput(path, batches, cores)
            speeds[name] = (one, every)
            print(f"{name:9s} {type(model).__name__:14s} fit_seconds={fit_seconds:6.1f} "
                  f"model_mb={model_bytes(model) / 1e6:6.1f} paragraphs_per_s_1_core={one:7.0f} "
                  f"paragraphs_per_s_{cores}_cores={every:7.0f}")
    print(f"ratio champion/fasttext: 1 core {speeds['champion'][0] / speeds['fasttext'][0]:.2f}x, "
          f"{cores} cores {speeds['champion'][1] / speeds['fasttext'][1]:.2f}x")


if __name__ == "__main__":
    main()
