"""`ctframe labels curve`: does labeling more pay? F1 per label at growing shares of the labels.

The development paragraphs are shuffled by article group (seeded), and nested shares of them (25 %, 50 %,
…) are fitted; each fit is scored on the holdout dates and, when there is one, the frozen test set. The
curve is printed, written as a PNG and logged to MLflow as a run tagged ``role=curve``.
"""
from __future__ import annotations

import tempfile
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import mlflow  # noqa: E402
import numpy as np  # noqa: E402
from sklearn.base import clone  # noqa: E402
from tqdm import tqdm  # noqa: E402

from ctframe import CtframeError  # noqa: E402
from ctframe.train import tracking  # noqa: E402
from ctframe.train.config import load_config  # noqa: E402
from ctframe.train.dataset import Dataset, dataset_for, test_set_for  # noqa: E402
from ctframe.train.evaluate import holdout_mask, metrics, predict  # noqa: E402
from ctframe.train.families import build_model  # noqa: E402
from ctframe.train.schema import load_schema  # noqa: E402


def nested_shares(data: Dataset, fractions: list[float], seed: int) -> list[np.ndarray]:
    """One boolean mask per fraction: whole article groups, taken in one seeded order, so each share
    contains the smaller ones."""
    if not fractions or any(not 0 < f <= 1 for f in fractions):
        raise CtframeError(f"fractions must be in (0, 1], got {fractions}")
    groups = np.unique(data.groups)
    order = np.random.default_rng(seed).permutation(groups)
    sizes = np.array([np.sum(data.groups == g) for g in order])
    cumulative = np.cumsum(sizes)
    masks = []
    for fraction in sorted(fractions):
        keep = order[: int(np.searchsorted(cumulative, fraction * len(data.texts) - 1e-9)) + 1]
        masks.append(np.isin(data.groups, keep))
    return masks


def plot_curve(rows: list[dict], labels: list[str], split: str, path: Path) -> Path:
    fig, ax = plt.subplots(figsize=(8, 5))
    sizes = [r["labels"] for r in rows]
    for label in labels:
        ax.plot(sizes, [r[f"{split}.{label}"] for r in rows], marker="o", label=label.split(".", 1)[1])
    ax.plot(sizes, [r[f"{split}.frames.macro_f1"] for r in rows], "k--", marker="s", label="frames macro")
    ax.set(xlabel="labeled paragraphs (development dates)", ylabel=f"F1 on the {split}", ylim=(0, 1),
           title=f"Learning curve ({split})")
    ax.legend(fontsize=8, ncol=2)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def learning_curve(config_path=None, *, overrides: dict | None = None, output: Path = Path("curve.png"),
                   fractions=(0.25, 0.5, 0.75, 1.0), log=print) -> dict:
    """Fit the config on nested shares of the development labels; → rows, a table and the PNG path."""
    config = load_config(config_path, overrides)
    schema = load_schema(config["labels"]["schema"])
    data = dataset_for(config, schema)
    test = test_set_for(config, schema)
    held = holdout_mask(data, config["evaluation"]["holdout_dates"])
    development, holdout = data.subset(~held), data.subset(held)
    if not len(holdout.texts):
        raise CtframeError("the curve is scored on the holdout dates, and no label falls on them")
    topics, frames = list(schema.topics), list(schema.frames)
    labels = [f"topic.{t}.f1" for t in topics] + [f"frames.{f}.f1" for f in frames]
    splits = {"holdout": holdout, **({"test": test} if test is not None else {})}
    rows = []
    for fraction, mask in tqdm(list(zip(sorted(fractions), nested_shares(development, list(fractions), config["seed"]))),
                               desc="learning curve", unit="fit"):
        model = build_model(config, schema)
        part = development.subset(mask)
        row = {"fraction": fraction, "labels": len(part.texts)}
        fitted = clone(model).fit(part.inputs, part.topics, part.frames, groups=part.groups)
        for name, target in splits.items():
            found = metrics(predict(fitted, target), topics, frames, name)
            row.update({k: v for k, v in found.items() if k.endswith((".f1", "macro_f1"))})
        rows.append(row)
        log(f"{fraction:.0%}: {len(part.texts)} labels, holdout frames macro-F1 {row['holdout.frames.macro_f1']:.3f}")
    output = Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    main = "test" if test is not None else "holdout"
    plot_curve(rows, labels, main, output)
    columns = ["topic.macro_f1", "frames.macro_f1", *[f"frames.{f}.f1" for f in frames]]
    names = ["topic", "frames", *frames]
    header = f"{'share':>6}{'labels':>8}" + "".join(f"{name[:13]:>14}" for name in names)
    table = [header]
    for split in splits:
        table.append(f"-- {split}")
        table += [f"{r['fraction']:>6.0%}{r['labels']:>8}" + "".join(f"{r[f'{split}.{c}']:>14.3f}" for c in columns)
                  for r in rows]
    tracking.start(config["mlflow"]["experiment"])
    with mlflow.start_run(run_name="learning-curve"), tempfile.TemporaryDirectory() as tmp:
        mlflow.set_tags({"role": "curve", "family": config["model"]["family"]})
        for row in rows:
            mlflow.log_metrics({f"curve.{k}": v for k, v in row.items() if k not in ("fraction", "labels")},
                               step=row["labels"])
        mlflow.log_artifact(str(output))
        (Path(tmp) / "curve.txt").write_text("\n".join(table))
        mlflow.log_artifact(str(Path(tmp) / "curve.txt"))
    return {"rows": rows, "table": "\n".join(table), "png": str(output)}
