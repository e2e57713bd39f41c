"""Training configuration: embedded defaults, overridden by a YAML file (``experiments/*.yaml``)."""
from __future__ import annotations

import copy
from pathlib import Path

import yaml

from ctframe import CtframeError
from ctframe.train import families

DEFAULTS: dict = {
    "corpus": {"path": None},  # null: $CTFRAME_CORPUS, else ../shared/corpora/saudinewsnet
    # null: labels/annotations, labels/schema.yaml, and the test set beside the annotations (labels/test)
    "labels": {"path": None, "schema": None, "test": None, "skip_stale": False},
    "normalize": {"diacritics": True, "tatweel": True, "alef": True, "alef_maqsura": True,
                  "ta_marbuta": False, "digits": True, "whitespace": True},
    "features": {"analyzer": "char_wb", "ngram_range": [2, 5], "hashing": 262144, "min_df": 2, "max_df": 1.0,
                 "sublinear_tf": True, "max_features": None, "word_ngrams": None,
                 "title_weight": 0.5, "context_weight": 0.3},  # the title / neighbours as extra blocks (0: off)
    "model": {"family": "linear_svc", **families.get("linear_svc").defaults()},  # a family's keys: its __init__
    "frames": {"threshold": "tuned"},  # "tuned" on out-of-fold predictions, or a fixed probability
    # The frozen test set's dates (labels/test/) are never in training or selection, whatever this says.
    "evaluation": {"folds": 5, "holdout_dates": ["2015-08-06", "2015-08-07"]},
    "mlflow": {"experiment": "ctframe", "registered_model": "ctframe"},
    "seed": 0,
}

CHOICES = {("features", "analyzer"): ("char", "char_wb")}


def merge(base: dict, override: dict, where: str = "") -> dict:
    """``base`` updated with ``override``; a key ``base`` does not have is an error naming it.
    A ``model`` section naming another family starts from that family's defaults."""
    merged = copy.deepcopy(base)
    for key, value in (override or {}).items():
        path = f"{where}.{key}" if where else key
        if key not in base:
            raise CtframeError(f"unknown config key {path!r} (known: {', '.join(base)})")
        if isinstance(base[key], dict):
            if not isinstance(value, dict):
                raise CtframeError(f"config key {path!r} must be a mapping")
            start = base[key]
            if path == "model" and value.get("family", start["family"]) != start["family"]:
                start = {"family": value["family"], **families.get(value["family"]).defaults()}
            merged[key] = merge(start, value, path)
        else:
            merged[key] = value
    return merged


def validate(config: dict) -> dict:
    families.get(config["model"]["family"])
    for (section, key), allowed in CHOICES.items():
        if config[section][key] not in allowed:
            raise CtframeError(f"config {section}.{key} = {config[section][key]!r}; expected one of {allowed}")
    low, high = config["features"]["ngram_range"]
    if not 1 <= low <= high:
        raise CtframeError(f"config features.ngram_range {[low, high]} is not a range")
    hashing = config["features"]["hashing"]
    if hashing is not None and (not isinstance(hashing, int) or hashing < 16 or hashing & (hashing - 1)):
        raise CtframeError(f"config features.hashing must be null or a power of two ≥ 16, got {hashing!r}")
    threshold = config["frames"]["threshold"]
    if threshold != "tuned" and not (isinstance(threshold, (int, float)) and 0 < threshold < 1):
        raise CtframeError(f"config frames.threshold must be 'tuned' or a probability, got {threshold!r}")
    if config["evaluation"]["folds"] < 2 or config["model"].get("inner_folds", 2) < 2:
        raise CtframeError("config evaluation.folds and model.inner_folds must be at least 2")
    model = config["model"]
    neural = (model.get("neural") or {}) if model["family"] == "stacked" else model
    before = neural.get("pretrain_before", families.get("subword_cnn").defaults()["pretrain_before"]) \
        if model["family"] in ("stacked", "subword_cnn") else None
    first = min(config["evaluation"]["holdout_dates"], default=None)
    if before is not None and first is not None and str(before) > first:
        raise CtframeError(f"config model pretrain_before = {before!r} would learn word vectors from the holdout "
                           f"dates (the first is {first})")
    return config


def read_yaml(path: str | Path) -> dict:
    """A YAML mapping from ``path``, or a CtframeError naming the file."""
    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    except OSError as exc:
        raise CtframeError(f"{path}: cannot read config ({exc.strerror})") from exc
    except yaml.YAMLError as exc:
        raise CtframeError(f"{path}: malformed YAML ({exc})") from exc
    if not isinstance(data, dict):
        raise CtframeError(f"{path}: a config is a YAML mapping")
    return data


def load_config(path: str | Path | dict | None = None, overrides: dict | None = None) -> dict:
    """The embedded defaults, updated by the YAML file at ``path`` (or a mapping) and then by ``overrides``."""
    data = path if isinstance(path, dict) else read_yaml(path) if path is not None else {}
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


def model_params(config: dict) -> dict[str, object]:
    """The flattened params that shape the model of the config's family (what runs are compared on)."""
    sections = families.get(config["model"]["family"]).sections()
    return {k: v for k, v in flatten(config).items() if k.split(".")[0] in sections + ("seed",)}
