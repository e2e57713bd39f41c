"""`ctframe compare`: experiment runs side by side (table or JSON) and an HTML report with plots."""
from __future__ import annotations

import base64
import html
import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import mlflow  # noqa: E402
import numpy as np  # noqa: E402
from mlflow import MlflowClient  # noqa: E402
from sklearn.metrics import ConfusionMatrixDisplay, precision_recall_curve  # noqa: E402

from ctframe import CtframeError  # noqa: E402
from ctframe.train import families  # noqa: E402
from ctframe.train.schema import load_schema  # noqa: E402
from ctframe.train.tracking import SELECTION_METRIC, TIE_BREAK_METRIC, selection_key  # noqa: E402

# The test columns are the frozen test set (labels/test): reported beside the others, never used to rank.
SUMMARY_METRICS = ("cv.topic.macro_f1", "cv.frames.macro_f1", "holdout.topic.macro_f1", "holdout.frames.macro_f1",
                   "test.topic.macro_f1", "test.frames.macro_f1")
COST_METRICS = ("fit_seconds", "paragraphs_per_second", "model_bytes")
IGNORED_PARAMS = {"model.family"}


def parent_runs(experiment: str | None) -> list:
    """The runs to compare: the latest experiment parent run named ``experiment`` (an experiment file's
    stem) or with that run id (``train`` names the training runs); without ``experiment``, the latest run of
    each experiment file and the training runs (``ctframe train``, an experiment of one config), all on the
    newest data."""
    client = MlflowClient()
    experiments = [e.experiment_id for e in client.search_experiments()]
    parents = client.search_runs(experiments, "tags.role = 'experiment'", order_by=["attributes.start_time DESC"])
    trained = client.search_runs(experiments, "tags.role = 'train'", order_by=["attributes.start_time DESC"])
    if experiment == "train":
        parents = []
    elif experiment:
        chosen = [r for r in parents + trained if experiment in (r.info.run_id, r.data.tags.get("ctframe.experiment"))]
        if not chosen:
            known = sorted({r.data.tags.get("ctframe.experiment") for r in parents} | ({"train"} if trained else set()))
            raise CtframeError(f"no experiment run named {experiment!r} (known: {', '.join(known) or 'none yet'})")
        return chosen[:1]
    latest = {}
    for run in parents:
        latest.setdefault(run.data.tags.get("ctframe.experiment"), run)
    runs = list(latest.values()) + trained
    if not runs:
        raise CtframeError("no runs yet; run `ctframe train` or `ctframe experiment run experiments/<name>.yaml`")
    newest = max(runs, key=lambda r: r.info.start_time).data.tags.get("data_fingerprint")
    return [r for r in runs if r.data.tags.get("data_fingerprint") == newest]


def differing_params(params: list[dict[str, str]]) -> list[str]:
    """The param names that take more than one value among the runs that have them (a param of one
    family only is not a difference between families: the family column shows that)."""
    names = sorted({name for p in params for name in p} - IGNORED_PARAMS)
    return [name for name in names if len({p[name] for p in params if name in p}) > 1]


def rows_for(parents: list) -> list[dict]:
    """One row per finished child run, sorted by the selection metric (tie-break: CV topic macro-F1)."""
    client = MlflowClient()
    schema = load_schema()
    rows = []
    for parent in parents:
        children = [parent] if parent.data.tags.get("role") == "train" else client.search_runs(
            [parent.info.experiment_id], f"tags.mlflow.parentRunId = '{parent.info.run_id}'")
        for run in children:
            m = run.data.metrics
            rows.append({"run_id": run.info.run_id, "run_name": run.info.run_name,
                         "experiment": parent.data.tags.get("ctframe.experiment", "train"), "status": run.info.status,
                         "family": run.data.tags.get("family"), "error": run.data.tags.get("error"),
                         "params": dict(run.data.params),
                         **{k: m.get(k) for k in SUMMARY_METRICS + COST_METRICS},
                         "holdout_frame_f1": {f: m.get(f"holdout.frames.{f}.f1") for f in schema.frames}})
    differing = differing_params([r["params"] for r in rows])
    for row in rows:
        row["params"] = {name: row["params"].get(name) for name in differing}
    rows.sort(key=selection_key, reverse=True)
    return rows


def short(name: str) -> str:
    return name.split(".", 1)[-1]


def format_table(rows: list[dict]) -> str:
    """A fixed-width table: family, differing params, macro-F1s, per-frame holdout F1, costs."""
    frames = list(rows[0]["holdout_frame_f1"]) if rows else []
    header = ["#", "family", "params", "cv topic", "cv frames", "ho topic", "ho frames", "test topic", "test frames",
              *[f"ho {f[:6]}" for f in frames], "fit s", "para/s", "MB"]
    lines = []
    for i, r in enumerate(rows, 1):
        params = " ".join(f"{short(k)}={v}" for k, v in r["params"].items() if v is not None) or "-"
        if r["status"] != "FINISHED":
            lines.append([str(i), r["family"] or "?", params, f"FAILED: {(r['error'] or '')[:60]}"])
            continue
        f = lambda v, fmt=".3f": "-" if v is None else format(v, fmt)  # noqa: E731
        lines.append([str(i), r["family"], params, *(f(r[k]) for k in SUMMARY_METRICS),
                      *(f(r["holdout_frame_f1"][fr]) for fr in frames), f(r["fit_seconds"], ".1f"),
                      f(r["paragraphs_per_second"], ",.0f"), f((r["model_bytes"] or 0) / 1e6, ".1f")])
    widths = [min(60, max(len(row[c]) for row in [header] + lines if c < len(row) and len(row) > 4))
              for c in range(len(header))]
    out = ["  ".join(h.ljust(w) for h, w in zip(header, widths))]
    out += ["  ".join(cell[:60].ljust(w) if c < 3 else cell for c, (cell, w) in enumerate(zip(row, widths)))
            if len(row) == 4 else "  ".join(cell[:60].ljust(w) for cell, w in zip(row, widths)) for row in lines]
    return "\n".join(out)


def predictions(run_id: str) -> dict[str, np.ndarray]:
    path = mlflow.artifacts.download_artifacts(run_id=run_id, artifact_path="predictions.npz")
    with np.load(path) as npz:
        return {k: npz[k] for k in npz.files}


def label(row: dict) -> str:
    params = ", ".join(f"{short(k)}={v}" for k, v in row["params"].items() if v is not None)
    return f"{row['family']} {params}"[:70]


def figures(rows: list[dict], folder: Path) -> list[tuple[str, Path]]:
    """The report's plots, as (caption, PNG path)."""
    schema = load_schema()
    done = [r for r in rows if r["status"] == "FINISHED" and r[SELECTION_METRIC] is not None]
    best_per_family = list({r["family"]: r for r in reversed(done)}.values())
    shown = done[:12] + [r for r in best_per_family if r not in done[:12]]
    out = []

    fig, ax = plt.subplots(figsize=(10, 0.45 * len(shown) + 2))
    client = MlflowClient()
    labels = [f"topic.{t}" for t in schema.topics] + [f"frames.{f}" for f in schema.frames]
    grid = np.array([[client.get_run(r["run_id"]).data.metrics.get(f"holdout.{lab}.f1", np.nan) for lab in labels]
                     for r in shown])
    image = ax.imshow(grid, vmin=0, vmax=1, cmap="viridis", aspect="auto")
    for (i, j), v in np.ndenumerate(grid):
        ax.text(j, i, f"{v:.2f}", ha="center", va="center", fontsize=7, color="white" if v < 0.6 else "black")
    ax.set_xticks(range(len(labels)), [lab.split(".")[1] for lab in labels], rotation=40, ha="right")
    ax.set_yticks(range(len(shown)), [label(r) for r in shown], fontsize=7)
    fig.colorbar(image, ax=ax, label="holdout F1")
    ax.set_title("Per-label holdout F1 by run (best first; best of each family included)")
    out.append(("Per-label F1 by run", save(fig, folder / "per_label_f1.png")))

    fig, axes = plt.subplots(1, len(schema.frames), figsize=(5 * len(schema.frames), 4.5), squeeze=False)
    for r in best_per_family:
        pred = predictions(r["run_id"])
        for j, frame in enumerate(schema.frames):
            precision, recall, _ = precision_recall_curve(pred["holdout_true_frames"][:, j], pred["holdout_frame_p"][:, j])
            axes[0, j].plot(recall, precision, label=label(r)[:40])
    for j, frame in enumerate(schema.frames):
        axes[0, j].set(title=f"{frame} (holdout)", xlabel="recall", ylabel="precision", xlim=(0, 1), ylim=(0, 1.02))
    axes[0, 0].legend(fontsize=7, loc="lower left")
    out.append(("Precision–recall of the best run of each family (frame probabilities, before topic gating)",
                save(fig, folder / "pr_curves.png")))

    best = next((r for r in done if r["family"] in families.exportable()), None)
    if best is not None:
        pred = predictions(best["run_id"])
        fig, ax = plt.subplots(figsize=(7, 6))
        ConfusionMatrixDisplay.from_predictions(pred["holdout_true_topics"], pred["holdout_topics"],
                                                labels=list(schema.topics), ax=ax, xticks_rotation=45, colorbar=False)
        ax.set_title(f"Champion candidate, topic on the holdout: {label(best)[:50]}")
        out.append(("Topic confusion of the best exportable run (holdout)", save(fig, folder / "confusion.png")))

    fig, ax = plt.subplots(figsize=(7, 4.5))
    for family in sorted({r["family"] for r in done}):
        mine = [r for r in done if r["family"] == family]
        ax.scatter([r["fit_seconds"] for r in mine], [r[SELECTION_METRIC] for r in mine], label=family, alpha=0.8)
    ax.set(xscale="log", xlabel="fit seconds (development set, one core)", ylabel="holdout frames macro-F1",
           title="Quality against fit time")
    ax.legend()
    out.append(("Holdout frames macro-F1 against fit time", save(fig, folder / "f1_vs_fit_time.png")))
    return out


def save(fig, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def latest_curves(client: MlflowClient, experiment_id: str) -> dict[str, object]:
    """The latest ``ctframe labels curve`` run of each model family, by family."""
    latest = {}
    for run in client.search_runs([experiment_id], "tags.role = 'curve'", order_by=["attributes.start_time DESC"],
                                  max_results=500):
        latest.setdefault(run.data.tags.get("family", ""), run)
    return latest


def write_report(parent_ids: str | list[str], folder: Path, log_to_parent: bool = True) -> Path:
    """``report.html`` (table + embedded plots, + the outlet-transfer plot when present) in ``folder``;
    also logged to the (single) parent run when ``log_to_parent``."""
    client = MlflowClient()
    parents = [client.get_run(i) for i in ([parent_ids] if isinstance(parent_ids, str) else parent_ids)]
    rows = rows_for(parents)
    folder.mkdir(parents=True, exist_ok=True)
    shots = figures(rows, folder) if any(r["status"] == "FINISHED" for r in rows) else []
    for family, run in latest_curves(client, parents[0].info.experiment_id).items():
        png = next((a.path for a in client.list_artifacts(run.info.run_id) if a.path.endswith(".png")), None)
        if png:
            shots.append((f"Learning curve of {family} (`ctframe labels curve`, latest run)", Path(
                mlflow.artifacts.download_artifacts(run_id=run.info.run_id, artifact_path=png,
                                                    dst_path=str(folder / "curve" / run.info.run_id)))))
    for parent in parents:
        if any(a.path == "outlets.png" for a in client.list_artifacts(parent.info.run_id)):
            path = Path(mlflow.artifacts.download_artifacts(run_id=parent.info.run_id, artifact_path="outlets.png",
                                                            dst_path=str(folder / parent.info.run_id)))
            shots.append((f"Leave-one-outlet-out, best config of {parent.data.tags.get('ctframe.experiment')}", path))
    images = "".join(f"<h2>{html.escape(caption)}</h2><img src='data:image/png;base64,"
                     f"{base64.b64encode(path.read_bytes()).decode()}'>" for caption, path in shots)
    names = ", ".join(p.data.tags.get("ctframe.experiment", p.info.run_id) for p in parents)
    page = (f"<!doctype html><meta charset='utf-8'><title>ctframe: {html.escape(names)}</title>"
            "<style>body{font-family:sans-serif;margin:2em}pre{font-size:12px}img{max-width:100%}</style>"
            f"<h1>ctframe experiment report: {html.escape(names)}</h1><p>Sorted by {SELECTION_METRIC} "
            f"(tie-break {TIE_BREAK_METRIC}); params shown are those that differ between runs. The test columns are "
            "the frozen test set (labels/test), scored by the model fitted on the development dates; they never "
            "rank anything.</p>"
            f"<pre>{html.escape(format_table(rows))}</pre>{images}")
    report = folder / "report.html"
    report.write_text(page, encoding="utf-8")
    if log_to_parent and len(parents) == 1:
        client.log_artifact(parents[0].info.run_id, str(report))
        for _, path in shots:
            if path.parent == folder:
                client.log_artifact(parents[0].info.run_id, str(path), "report")
    return report


def compare(experiment: str | None = None, *, as_json: bool = False, report_dir: Path | None = None,
            mlflow_experiment: str = "ctframe") -> str:
    """The comparison as text (or JSON); with ``report_dir``, also write report.html there."""
    from ctframe.train import tracking

    tracking.start(mlflow_experiment)
    parents = parent_runs(experiment)
    rows = rows_for(parents)
    if report_dir is not None:
        write_report([p.info.run_id for p in parents], Path(report_dir), log_to_parent=False)
    return json.dumps(rows, indent=2, ensure_ascii=False) if as_json else format_table(rows)
