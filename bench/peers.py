"""Benchmark: the exported champion against its fastText peer on the same labels (not a test).

fastText (``experiments/fasttext.yaml``) is fitted here on every label. Both then score the same 30,000
corpus paragraphs (a seeded sample, written as a JSONL file):

- end to end, on one core (``taskset -c 0``), start-up included: a fresh ``ctframe score --paragraphs``
  process against a fresh process that loads the fastText model and writes the same JSON lines; best of 3;
- steady state: the model already loaded, on one core, then on every core (one process each).

    .venv/bin/python bench/peers.py [--champion models/champion] [--fasttext experiments/fasttext.yaml]
                                    [--paragraphs 30000] [--batch-size 512]
"""
import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

from ctframe import CHAMPION_DIR
from ctframe.features.corpus import load_snn_paragraphs, read_jsonl
from ctframe.train.arrays import load_scorer
from ctframe.train.config import load_config
from ctframe.train.dataset import load_dataset
from ctframe.train.families import build_model
from ctframe.train.serving.score import records
from ctframe.train.schema import load_schema

MODEL = None
CLI = [sys.executable, "-m", "ctframe.train.cli"]


def load(path: str):
    """The champion's scorer (an exported directory) or a fastText model saved by ``save_fasttext``."""
    if Path(path, "MLmodel").is_file():
        return load_scorer(path)
    import fasttext

    from ctframe.train.families.fasttext import FastTextModel

    state = json.loads(Path(path, "state.json").read_text())
    model = FastTextModel(**state["params"])
    model.thresholds_ = np.array(state["thresholds"])
    model.topic_model_ = fasttext.load_model(f"{path}/topic.ftz")
    model.frame_model_ = fasttext.load_model(f"{path}/frames.ftz")
    return model


def save_fasttext(model, folder: Path) -> str:
    """The fitted fastText peer on disk (fastText objects do not pickle)."""
    model.save(folder)
    (folder / "state.json").write_text(json.dumps({"params": model.get_params(),
                                                   "thresholds": model.thresholds_.tolist()}))
    return str(folder)


def score_file(model_path: str, inputs: str, output: str, batch_size: int) -> None:
    """What ``ctframe score --paragraphs`` does, for the fastText peer: JSONL in, one JSON line out each."""
    model = load(model_path)
    units = [(data["id"], 0, data["text"], "", "") for _, data in read_jsonl(Path(inputs))]
    with open(output, "w", encoding="utf-8") as handle:
        for i in range(0, len(units), batch_size):
            for record in records(model, units[i:i + batch_size]):  # the lines `ctframe score` writes
                handle.write(json.dumps(record, ensure_ascii=False) + "\n")


def end_to_end(command: list[str], repeats: int = 3) -> float:
    """Best wall time of a fresh process on core 0."""
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        subprocess.run(["taskset", "-c", "0", *command], check=True, stdout=subprocess.DEVNULL)
        times.append(time.perf_counter() - started)
    return min(times)


def load_in_worker(path: str) -> None:
    global MODEL
    os.sched_setaffinity(0, {os.getpid() % os.cpu_count()})
    MODEL = load(path)


def score(texts: list[str]) -> int:
    MODEL.decide(*MODEL.predict_proba(texts))
    return len(texts)


def throughput(path: str, batches: list[list[str]], workers: int) -> float:
    with ProcessPoolExecutor(workers, initializer=load_in_worker, initargs=(path,)) as pool:
        list(pool.map(score, [batches[0][:8]] * workers))  # every worker loaded and warm
        started = time.perf_counter()
        done = sum(pool.map(score, batches))
        return done / (time.perf_counter() - started)


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--score-file":  # the fastText peer's end-to-end process
        score_file(*sys.argv[2:5], int(sys.argv[5]))
        return
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
    print(f"{len(data.texts)} labeled paragraphs; {len(texts)} corpus paragraphs in batches of {args.batch_size}; "
          f"{cores} cores")
    with tempfile.TemporaryDirectory() as tmp:
        inputs, out = Path(tmp) / "paragraphs.jsonl", Path(tmp) / "scored.jsonl"
        inputs.write_text("".join(json.dumps({"id": str(i), "text": t}, ensure_ascii=False) + "\n"
                                  for i, t in enumerate(texts)), encoding="utf-8")
        started = time.perf_counter()
        peer = build_model(load_config(args.fasttext), schema).fit(data.inputs, data.topics, data.frames,
                                                                    groups=data.groups)
        print(f"fastText fitted on every label in {time.perf_counter() - started:.1f} s")
        (Path(tmp) / "fasttext").mkdir()
        paths = {"champion": args.champion, "fasttext": save_fasttext(peer, Path(tmp) / "fasttext")}
        commands = {"champion": [*CLI, "score", "--paragraphs", "--model", args.champion, str(inputs), "-o", str(out)],
                    "fasttext": [sys.executable, __file__, "--score-file", paths["fasttext"], str(inputs), str(out),
                                 str(args.batch_size)]}
        rows = {}
        for name in ("champion", "fasttext"):
            seconds = end_to_end(commands[name])
            rows[name] = (len(texts) / seconds, throughput(paths[name], batches, 1),
                          throughput(paths[name], batches, cores))
            print(f"{name:9s} end_to_end_1_core={seconds:5.2f} s ({rows[name][0]:6.0f} paragraphs/s, start-up "
                  f"included)  steady_1_core={rows[name][1]:6.0f}/s  steady_{cores}_cores={rows[name][2]:6.0f}/s")
    ratio = [c / f for c, f in zip(rows["champion"], rows["fasttext"])]
    print(f"ratio champion/fasttext: end to end 1 core {ratio[0]:.2f}x (target >= 3x), steady 1 core "
          f"{ratio[1]:.2f}x, steady {cores} cores {ratio[2]:.2f}x")


if __name__ == "__main__":
    main()
