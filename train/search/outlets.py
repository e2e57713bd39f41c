"""Outlet transfer: leave-one-outlet-out evaluation, a proxy for scoring press the model never saw."""
from __future__ import annotations

import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import mlflow  # noqa: E402
import numpy as np  # noqa: E402
from joblib import Parallel, delayed  # noqa: E402
from tqdm import tqdm  # noqa: E402

from ctframe.train.dataset import Dataset  # noqa: E402
from ctframe.train.evaluate import metrics, predict_split  # noqa: E402
from ctframe.train.families import build_model  # noqa: E402
from ctframe.train.schema import Schema  # noqa: E402


def held_out_scores(config: dict, schema: Schema, data: Dataset, outlet: str) -> dict:
    """Fit on every other outlet, score ``outlet``: topic macro-F1 and per-frame F1 (frames it has)."""
    sources = np.array([p.source for p in data.paragraphs])
    held = sources == outlet
    pred = predict_split(build_model(config, schema), data.subset(~held), data.subset(held))
    scores = metrics(pred, list(schema.topics), list(schema.frames), "outlet")
    row = {"outlet": outlet, "paragraphs": int(held.sum()), "topic_macro_f1": scores["outlet.topic.macro_f1"]}
    frame_f1 = {}
    for frame in schema.frames:
        row[f"{frame}_support"] = int(scores[f"outlet.frames.{frame}.support"])
        if row[f"{frame}_support"]:
            frame_f1[frame] = row[f"{frame}_f1"] = scores[f"outlet.frames.{frame}.f1"]
    row["frames_macro_f1"] = float(np.mean(list(frame_f1.values()))) if frame_f1 else None
    return row


def plot_outlets(rows: list[dict], path: Path) -> Path:
    """Grouped bars: topic and frames macro-F1 on each held-out outlet (paragraph count in the label)."""
    fig, ax = plt.subplots(figsize=(max(7, 0.8 * len(rows)), 4.5))
    x = np.arange(len(rows))
    ax.bar(x - 0.2, [r["topic_macro_f1"] for r in rows], 0.4, label="topic macro-F1")
    ax.bar(x + 0.2, [r["frames_macro_f1"] or 0 for r in rows], 0.4, label="frames macro-F1")
    ax.set_xticks(x, [f"{r['outlet']}\n({r['paragraphs']})" for r in rows], rotation=45, ha="right", fontsize=8)
    ax.set_ylim(0, 1)
    ax.set_ylabel("F1 on the held-out outlet")
    ax.set_title("Leave-one-outlet-out: trained on the other outlets")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def outlet_transfer(config: dict, schema: Schema, data: Dataset, folder: Path, jobs: int = 1) -> list[dict]:
    """Leave-one-outlet-out for ``config``; logged to the active run as outlets.json, outlets.png and
    ``outlet.<name>.topic.macro_f1`` / ``outlet.<name>.frames.macro_f1`` metrics."""
    outlets = sorted({p.source for p in data.paragraphs})
    tasks = (delayed(held_out_scores)(config, schema, data, outlet) for outlet in outlets)
    rows = list(tqdm(Parallel(n_jobs=jobs, return_as="generator")(tasks), total=len(outlets),
                     desc="leave-one-outlet-out", unit="outlet"))
    (folder / "outlets.json").write_text(json.dumps(rows, indent=2, ensure_ascii=False))
    mlflow.log_artifact(str(folder / "outlets.json"))
    mlflow.log_artifact(str(plot_outlets(rows, folder / "outlets.png")))
    for row in rows:
        mlflow.log_metric(f"outlet.{row['outlet']}.topic.macro_f1", row["topic_macro_f1"])
        if row["frames_macro_f1"] is not None:
            mlflow.log_metric(f"outlet.{row['outlet']}.frames.macro_f1", row["frames_macro_f1"])
    return rows
