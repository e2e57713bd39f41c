"""Training configuration: embedded defaults, overridden by a YAML file (``experiments/*.yaml``)."""
from __future__ import annotations

import copy
from pathlib import Path

import yaml

from features.errors import CtframeError

DEFAULTS: dict = {
    "corpus": {"path": None},  # null: $CTFRAME_CORPUS, else ../shared/corpora/saudinewsnet
    "labels": {"path": None, "skip_stale": False},  # null: labels/annotations
    "normalize": {"diacritics": True, "tatweel": True, "alef": True, "alef_maqsura": True,
                  "ta_marbuta": False, "digits": True, "whitespace": True},
    "features": {"analyzer": "char_wb", "ngram_range": [2, 5], "min_df": 2, "max_df": 1.0,
                 "sublinear_tf": True, "max_features": None, "word_ngrams": None},
    "model": {"family": "linear_svc", "C": 0.5, "class_weight": "balanced",
              "calibration": "sigmoid", "calibration_folds": 3},
    "frames": {"threshold": "tuned"},  # "tuned" on out-of-fold predictions, or a fixed probability
    "evaluation": {"folds": 5, "holdout_dates": ["2015-08-08", "2015-08-09"]},
    "mlflow": {"experiment": "ctframe", "registered_model": "ctframe"},
    "seed": 0,
}

CHOICES = {
    ("features", "analyzer"): ("char", "char_wb"),
    ("model", "family"): ("linear_svc", "logreg"),
    ("model", "calibration"): ("sigmoid", "isotonic"),
}


def merge(base: dict, override: dict, where: str = "") -> dict:
    """``base`` updated with ``override``; a key ``base`` does not have is an error naming it."""
    merged = copy.deepcopy(base)
    for key, value in (override or {}).items():
        path = f"{where}.{key}" if where else key
        if key not in base:
            raise CtframeError(f"unknown config key {path!r} (known: {', '.join(base)})")
        if isinstance(base[key], dict):
            if not isinstance(value, dict):
                raise CtframeError(f"config key {path!r} must be a mapping")
            merged[key] = merge(base[key], value, path)
        else:
            merged[key] = value
    return merged


def validate(config: dict) -> dict:
    for (section, key), allowed in CHOICES.items():
        if config[section][key] not in allowed:
            raise CtframeError(f"config {section}.{key} = {config[section][key]!r}; expected one of {allowed}")
    low, high = config["features"]["ngram_range"]
    if not 1 <= low <= high:
        raise CtframeError(f"config features.ngram_range {[low, high]} is not a range")
    threshold = config["frames"]["threshold"]
    if threshold != "tuned" and not (isinstance(threshold, (int, float)) and 0 < threshold < 1):
        raise CtframeError(f"config frames.threshold must be 'tuned' or a probability, got {threshold!r}")
    if config["evaluation"]["folds"] < 2:
        raise CtframeError("config evaluation.folds must be at least 2")
    return config


def load_config(path: str | Path | None = None, overrides: dict | None = None) -> dict:
    """The embedded defaults, updated by the YAML file at ``path`` and then by ``overrides``."""
    data = {}
    if path is not None:
        try:
            data = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
        except OSError as exc:
            raise CtframeError(f"{path}: cannot read config ({exc.strerror})") from exc
        except yaml.YAMLError as exc:
            raise CtframeError(f"{path}: malformed YAML ({exc})") from exc
        if not isinstance(data, dict):
            raise CtframeError(f"{path}: a config is a YAML mapping")
    return validate(merge(merge(DEFAULTS, data), overrides or {}))


def flatten(config: dict, prefix: str = "") -> dict[str, object]:
    """``{"features.min_df": 2, ...}``: the form logged as MLflow params."""
    flat = {}
    for key, value in config.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(flatten(value, f"{name}."))
        else:
            flat[name] = value
    return flat
