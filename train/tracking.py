"""MLflow: tracking store, run logging, model registry, the champion rule and the exported champion."""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import mlflow
import pandas as pd
from mlflow import MlflowClient
from mlflow.models import ModelSignature, infer_signature
from mlflow.types import ColSpec, ParamSchema, ParamSpec, Schema

from ctframe import CHAMPION_DIR, PROJECT_ROOT, CtframeError, locked

CHAMPION_ALIAS = "champion"
SELECTION_METRIC = "holdout.frames.macro_f1"
TIE_BREAK_METRIC = "cv.topic.macro_f1"
INPUT_EXAMPLE = pd.DataFrame({"text": ["أحبطت الأجهزة الأمنية مخططا إرهابيا وقبضت على أفراد الخلية."]})
# One paragraph per row; its article's title and its neighbouring paragraphs are optional evidence.
INPUT_SCHEMA = Schema([ColSpec("string", "text"), ColSpec("string", "title", required=False),
                       ColSpec("string", "context", required=False)])
# A request may ask for evidence: {"inputs": ..., "params": {"explain": true}}.
PARAMS_SCHEMA = ParamSchema([ParamSpec("explain", "boolean", False)])
# The pyfunc's entry file, in the serving wing (named by path: the spine imports no front end).
PYFUNC_ENTRY = Path(__file__).parent / "serving" / "pyfunc_entry.py"
REQUIREMENTS = ["mlflow", "scikit-learn", "skops", "pyarabic", "numpy", "pandas", "pyyaml", "tqdm", "matplotlib"]


STORE_TIMEOUT = 60  # seconds a process waits for another one's write to the embedded sqlite store


def tracking_uri() -> str:
    """``$MLFLOW_TRACKING_URI``, else the embedded store ``sqlite:///<project>/mlflow.db`` (waiting up to
    ``STORE_TIMEOUT`` s for a concurrent writer instead of failing with "database is locked")."""
    return os.environ.get("MLFLOW_TRACKING_URI") or f"sqlite:///{PROJECT_ROOT / 'mlflow.db'}?timeout={STORE_TIMEOUT}"


def start(experiment: str) -> None:
    """Point MLflow at the tracking store and the experiment (created with a project-local artifact root).
    Creating the store and the experiment is serialized, so commands started together do not race."""
    uri = tracking_uri()
    mlflow.set_tracking_uri(uri)
    with locked(PROJECT_ROOT / ".mlflow-setup.lock", 10 * STORE_TIMEOUT, "the tracking store's setup"):
        if mlflow.get_experiment_by_name(experiment) is None and "MLFLOW_TRACKING_URI" not in os.environ:
            mlflow.create_experiment(experiment, artifact_location=(PROJECT_ROOT / "mlruns").as_uri())
        mlflow.set_experiment(experiment)


def git_commit() -> str:
    """The checked-out commit, with ``-dirty`` when the work tree has uncommitted changes."""
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=PROJECT_ROOT, capture_output=True, text=True,
                                check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=PROJECT_ROOT,
                               capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return commit + ("-dirty" if dirty else "")


def requirements() -> list[str]:
    from importlib.metadata import version

    return [f"{name}=={version(name)}" for name in REQUIREMENTS]


def staged_code(folder: Path) -> Path:
    """The ``ctframe`` package as it is installed (``ctframe/``, ``features/`` → ``ctframe/features``,
    ``train/`` → ``ctframe/train``), copied into ``folder`` for the model's code path."""
    package = Path(folder) / "ctframe"
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    shutil.copytree(PROJECT_ROOT / "ctframe", package, ignore=ignore)
    for name in ("features", "train"):
        shutil.copytree(PROJECT_ROOT / name, package / name, ignore=ignore)
    return package


def log_model(model_files: list[Path], registered_model: str, example_output: pd.DataFrame):
    """Log the skops model (and its array form, when ``model.save`` wrote one) as a pyfunc (models-from-code,
    no pickle) and register a new version."""
    with tempfile.TemporaryDirectory() as tmp:
        info = mlflow.pyfunc.log_model(
            name="model",
            python_model=str(PYFUNC_ENTRY),
            artifacts={"model": str(model_files[0]), **{"arrays": str(f) for f in model_files[1:2]}},
            code_paths=[str(staged_code(Path(tmp)))],
            signature=ModelSignature(INPUT_SCHEMA, infer_signature(INPUT_EXAMPLE, example_output).outputs,
                                     params=PARAMS_SCHEMA),
            input_example=INPUT_EXAMPLE,
            pip_requirements=requirements(),
            registered_model_name=registered_model,
        )
    return info.registered_model_version


def selection_key(metrics: dict) -> tuple[float, float]:
    """What the champion rule ranks runs by (higher is better; a missing metric ranks last)."""
    def value(name):
        found = metrics.get(name)
        return float("-inf") if found is None else found
    return value(SELECTION_METRIC), value(TIE_BREAK_METRIC)


def champion_version(client: MlflowClient, name: str):
    try:
        return client.get_model_version_by_alias(name, CHAMPION_ALIAS)
    except mlflow.exceptions.MlflowException:
        return None


def should_promote(client: MlflowClient, name: str, run_metrics: dict, fingerprint: str) -> tuple[bool, str]:
    """The champion rule. A new run becomes champion when there is none; when the champion was
    evaluated on other data (labels or corpus changed, so its figures no longer compare); or when its
    holdout frames macro-F1 is at least the champion's, CV topic macro-F1 breaking a tie."""
    current = champion_version(client, name)
    if current is None:
        return True, "no champion yet"
    run = client.get_run(current.run_id)
    if run.data.tags.get("data_fingerprint") != fingerprint:
        return True, "champion was evaluated on other data"
    new, old = selection_key(run_metrics), selection_key(run.data.metrics)
    if new >= old:
        return True, f"{SELECTION_METRIC} {new[0]:.4f} ≥ champion's {old[0]:.4f}"
    return False, f"{SELECTION_METRIC} {new[0]:.4f} < champion's {old[0]:.4f} (version {current.version})"


def champion_lock(dest: Path):
    """The lock that serializes promotions and exports to ``dest`` (a file beside it)."""
    dest = Path(dest)
    return locked(dest.parent / f".{dest.name}.lock", 10 * STORE_TIMEOUT, "the champion")


def promote_if_better(name: str, version: str, run_metrics: dict, fingerprint: str, dest: Path = CHAMPION_DIR,
                      current_fingerprint=None) -> tuple[bool, str]:
    """The champion rule as a compare-and-set: under one lock, the rule is checked against the champion
    *as it is now* and the alias moved and exported only if the run still wins. A slower, worse run never
    overwrites a better champion that landed while it was fitting, and a run whose data changed while it
    ran (``current_fingerprint()`` differs from ``fingerprint``) is not promoted. → (promoted, why)."""
    dest = Path(dest)
    with champion_lock(dest):
        if current_fingerprint is not None and current_fingerprint() != fingerprint:
            promoted, why = False, "the labels or the corpus changed while the run was fitting; train again"
        else:
            promoted, why = should_promote(MlflowClient(), name, run_metrics, fingerprint)
        if promoted:
            promote(name, version, dest)
        elif not dest.exists():
            export_champion(name, dest)
    return promoted, why


def promote(name: str, version: str, dest: Path = CHAMPION_DIR) -> Path:
    """Move the champion alias to ``version`` and re-export it to ``dest``."""
    with champion_lock(dest):
        MlflowClient().set_registered_model_alias(name, CHAMPION_ALIAS, version)
        return export_champion(name, dest)


def registered_version(name: str, run_id: str) -> str | None:
    """The version of model ``name`` registered from ``run_id``, if any."""
    versions = MlflowClient().search_model_versions(f"name='{name}' and run_id='{run_id}'")
    return versions[0].version if versions else None


def export_champion(name: str, dest: Path = CHAMPION_DIR) -> Path:
    """Write ``models:/<name>@champion`` to ``dest``, swapped in whole: the model is written to a folder of
    its own beside ``dest`` (``.<dest>-v<version>-…``), then ``dest``, a symbolic link, is repointed to it
    with one atomic rename. A reader that opens ``dest`` during an export sees the old model or the new
    one, never a mix; a crash at any point leaves the old one in place. The previous export is kept for
    readers still loading it; older ones are removed."""
    dest = Path(dest)
    root = dest.parent
    root.mkdir(parents=True, exist_ok=True)
    with champion_lock(dest):
        version = champion_version(MlflowClient(), name)
        if version is None:
            raise CtframeError(f"model {name!r} has no {CHAMPION_ALIAS!r} alias yet; run `ctframe train` first")
        staging = Path(tempfile.mkdtemp(prefix=f".{dest.name}-v{version.version}-", dir=root))
        staging.chmod(0o755)
        link = root / f".{dest.name}.link-{os.getpid()}"
        legacy = root / f".{dest.name}-v0-legacy"
        try:
            local = Path(mlflow.artifacts.download_artifacts(f"models:/{name}@{CHAMPION_ALIAS}", dst_path=str(staging)))
            fingerprint = MlflowClient().get_run(version.run_id).data.tags.get("data_fingerprint")
            (local / "champion.json").write_text(json.dumps({"name": name, "version": version.version,
                                                             "run_id": version.run_id,
                                                             "data_fingerprint": fingerprint}, indent=2) + "\n")
            previous = root.resolve() / dest.resolve().relative_to(root.resolve()).parts[0] \
                if dest.is_symlink() else None
            link.unlink(missing_ok=True)
            link.symlink_to(os.path.relpath(local, root))
            if dest.exists() and not dest.is_symlink():  # a folder written by an older ctframe: set it aside
                dest.rename(legacy)
            try:
                os.replace(link, dest)
            except BaseException:
                if legacy.exists() and not dest.exists():
                    legacy.rename(dest)
                raise
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            link.unlink(missing_ok=True)
            raise
        keep = {staging.resolve(), *((previous,) if previous else ())}
        export = re.compile(rf"^\.{re.escape(dest.name)}-v\d+-")
        for old in root.iterdir():
            if export.match(old.name) and old.is_dir() and old.resolve() not in keep:
                shutil.rmtree(old, ignore_errors=True)
    return dest
