"""`ctframe experiment run`: a base config plus a search space → one MLflow parent run, a child run per config.

An experiment file is a config (any keys of ``experiments/base.yaml``) plus an optional ``search``::

    search:
      strategy: grid          # grid: every combination | random: `budget` draws
      budget: 20              # random only
      seed: 0                 # random only
      space:                  # dotted config key → values to try
        model.C: [0.1, 0.5, 2.0]
        features.ngram_range: [[1, 4], [2, 5]]
        model: [{family: fasttext}, {family: keywords}]   # a mapping replaces part of a section
        # random only: {log_uniform: [low, high]} or {uniform: [low, high]} instead of a list

Configs are evaluated in parallel (joblib); a config that fails is logged as a FAILED child run with its
error, and the others go on. The best exportable config (champion rule, ``train/tracking.py``) is then
fitted on every label, registered and, if it beats the champion, exported. The parent run gets the
leave-one-outlet-out report of that config and the comparison report (``train/compare.py``).
"""
from __future__ import annotations

import tempfile
import time
import traceback
import warnings
from pathlib import Path

import mlflow
from joblib import Parallel, delayed
from mlflow import MlflowClient
from mlflow.entities import RunStatus
from scipy.stats import loguniform, uniform
from sklearn.model_selection import ParameterGrid, ParameterSampler
from tqdm import tqdm

from ctframe import CtframeError
from ctframe.train import tracking
from ctframe.train import families
from ctframe.train.config import load_config, model_params, read_yaml
from ctframe.train.dataset import Dataset, dataset_for, test_set_for
from ctframe.train.fit import evaluate, finalize, log_confusions, log_evaluation
from ctframe.train.schema import Schema, load_schema

SEARCH_KEYS = {"strategy", "budget", "seed", "space"}


def nested(dotted: str, value) -> dict:
    """``("model.C", 1.0)`` → ``{"model": {"C": 1.0}}``."""
    for key in reversed(dotted.split(".")):
        value = {key: value}
    return value


def combine(overrides: list[dict]) -> dict:
    """Deep-merge override mappings, later ones winning."""
    out: dict = {}
    for override in overrides:
        for key, value in override.items():
            out[key] = combine([out[key], value]) if isinstance(value, dict) and isinstance(out.get(key), dict) \
                else value
    return out


def distribution(spec):
    """A random-search dimension: a list (uniform choice) or ``{log_uniform|uniform: [low, high]}``."""
    if isinstance(spec, list):
        return spec
    (kind, (low, high)), = spec.items()
    return loguniform(low, high) if kind == "log_uniform" else uniform(low, high - low)


def expand(search: dict, where: str) -> list[dict]:
    """The override mapping of each config a search space describes (one empty mapping if no search):
    scikit-learn's ``ParameterGrid`` for a grid, ``ParameterSampler`` for a random search."""
    unknown = set(search) - SEARCH_KEYS
    if unknown:
        raise CtframeError(f"{where}: unknown search key(s) {sorted(unknown)} (known: {sorted(SEARCH_KEYS)})")
    space = search.get("space") or {}
    strategy = search.get("strategy", "grid")
    for key, values in space.items():
        is_distribution = isinstance(values, dict) and len(values) == 1 and \
            next(iter(values)) in ("log_uniform", "uniform")
        if not (isinstance(values, list) and values) and not (strategy == "random" and is_distribution):
            raise CtframeError(f"{where}: search.space.{key} must be a non-empty list of values"
                               + (" or {log_uniform|uniform: [low, high]}" if strategy == "random" else ""))
    if strategy == "grid":
        points = list(ParameterGrid(space)) if space else [{}]
    elif strategy == "random":
        budget = search.get("budget")
        if not isinstance(budget, int) or budget < 1:
            raise CtframeError(f"{where}: a random search needs search.budget, a positive integer")
        dimensions = {key: distribution(spec) for key, spec in space.items()}
        with warnings.catch_warnings():  # a budget above a finite grid's size draws the whole grid
            warnings.simplefilter("ignore", UserWarning)
            points = list(ParameterSampler(dimensions, n_iter=budget, random_state=search.get("seed", 0)))
    else:
        raise CtframeError(f"{where}: search.strategy must be 'grid' or 'random', got {strategy!r}")
    return [combine([nested(k, v.item() if hasattr(v, "item") else v) for k, v in point.items()]) for point in points]


def load_experiment(path: str | Path) -> tuple[dict, list[dict]]:
    """(base config, the full config of every point of the search), all validated before anything runs."""
    data = read_yaml(path)
    search = data.pop("search", None) or {}
    base = load_config(data)
    configs = []
    for i, override in enumerate(expand(search, str(path))):
        try:
            configs.append(load_config(data, override))
        except CtframeError as exc:
            raise CtframeError(f"{path}: search point {i} {override}: {exc}") from exc
    for config in configs:
        for section in ("corpus", "labels", "evaluation", "mlflow"):
            if config[section] != base[section]:
                raise CtframeError(f"{path}: the search varies {section!r}; every config of an experiment "
                                   f"is evaluated on the same data, folds and holdout")
    return base, configs


def run_one(index: int, config: dict, schema: Schema, data: Dataset, test: Dataset | None) -> dict:
    """Evaluate one config (in a worker); a failure is returned, not raised."""
    started = time.perf_counter()
    try:
        return {"index": index, "evaluation": evaluate(config, schema, data, test, progress=False),
                "seconds": time.perf_counter() - started}
    except Exception as exc:  # one bad config must not stop the search
        return {"index": index, "config": config, "error": f"{type(exc).__name__}: {exc}",
                "traceback": traceback.format_exc(), "seconds": time.perf_counter() - started}


def run_name(index: int, config: dict) -> str:
    return f"{index:03d}-{config['model']['family']}"


def log_child(result: dict, configs: list[dict], data: Dataset, folder: Path) -> str:
    """One child run under the active parent: the evaluation, or the error of a failed config."""
    index = result["index"]
    with mlflow.start_run(run_name=run_name(index, configs[index]), nested=True) as child:
        mlflow.set_tag("config_index", index)
        if "error" in result:
            mlflow.set_tags({"family": configs[index]["model"]["family"], "error": result["error"][:5000]})
            mlflow.log_params(model_params(configs[index]))
            mlflow.log_text(result["traceback"], "error.txt")
        else:
            log_evaluation(result["evaluation"], data, folder)
    if "error" in result:
        MlflowClient().set_terminated(child.info.run_id, RunStatus.to_string(RunStatus.FAILED))
    return child.info.run_id


def run_experiment(path: str | Path, *, jobs: int = 1, export_dir: Path = tracking.CHAMPION_DIR,
                   register: bool = True, outlets: bool = True, log=print) -> dict:
    """Run every config of the experiment file at ``path``; return a summary (parent run, best run, champion)."""
    from ctframe.train.search.compare import write_report
    from ctframe.train.search.outlets import outlet_transfer

    base, configs = load_experiment(path)
    schema = load_schema(base["labels"]["schema"])
    data = dataset_for(base, schema)
    test = test_set_for(base, schema)
    log(f"{len(configs)} configs × {base['evaluation']['folds']}-fold CV + holdout on {len(data.texts)} "
        f"labeled paragraphs, {jobs if jobs > 0 else 'all'} parallel jobs")
    tracking.start(base["mlflow"]["experiment"])
    started = time.perf_counter()
    with mlflow.start_run(run_name=Path(path).stem) as parent, tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        mlflow.set_tags({"ctframe.experiment": Path(path).stem, "data_fingerprint": data.fingerprint,
                         "git_commit": tracking.git_commit(), "role": "experiment"})
        mlflow.log_params({"experiment_file": str(path), "configs": len(configs), "jobs": jobs})
        mlflow.log_artifact(str(path))
        results, runs = {}, {}
        tasks = (delayed(run_one)(i, config, schema, data, test) for i, config in enumerate(configs))
        bar = tqdm(Parallel(n_jobs=jobs, return_as="generator_unordered")(tasks), total=len(configs),
                   desc="configs", unit="config")
        for result in bar:
            runs[result["index"]] = log_child(result, configs, data, folder)
            results[result["index"]] = result
            failed = sum("error" in r for r in results.values())
            bar.set_postfix(failed=failed)
        failed = sorted(i for i, r in results.items() if "error" in r)
        for i in failed:
            log(f"config {i} failed: {results[i]['error']}")
        summary = {"parent_run_id": parent.info.run_id, "configs": len(configs), "failed": len(failed),
                   "search_seconds": round(time.perf_counter() - started, 1)}
        mlflow.log_metrics({"configs_failed": len(failed), "search_seconds": summary["search_seconds"]})
        candidates = [i for i, r in results.items()
                      if "error" not in r and families.get(configs[i]["model"]["family"]).exportable]
        if candidates:
            best = max(candidates, key=lambda i: tracking.selection_key(results[i]["evaluation"].metrics))
            evaluation = results[best]["evaluation"]
            summary.update(best_run_id=runs[best], best_config=best,
                           **{k: round(v, 4) for k, v in evaluation.metrics.items() if k == tracking.SELECTION_METRIC})
            if outlets:
                outlet_transfer(configs[best], schema, data, folder, jobs)
            if register:
                with mlflow.start_run(run_id=runs[best], nested=True):
                    log_confusions(evaluation, list(schema.topics), folder)
                    summary.update(finalize(configs[best], schema, data, evaluation.metrics, folder, export_dir, log))
        write_report(parent.info.run_id, folder)
    return summary
