"""The model-family registry: every module in this package registers one or more families.

A family is a ``FrameModel`` subclass plus what the rest of ctframe needs to know about it. Its config
defaults are read from the estimator's ``__init__`` (one copy), its config sections from the shared
parameters it accepts, and its skops allow-list from ``trusted_types``. Adding a family is adding a file
here that calls ``register``; configs then name it in ``model.family``.
"""
from __future__ import annotations

import importlib
import inspect
import pkgutil
from dataclasses import dataclass
from pathlib import Path

from ctframe import CtframeError

# Parameters every family may take that do not come from the ``model`` section: the label schema, and
# the other config sections (``normalize``, ``features``, ``corpus``, ``frames.threshold``, ``seed``).
SCHEMA_PARAMS = ("topics", "frames", "frames_topic", "keywords")
SECTION_PARAMS = {"normalize": "normalize", "features": "features", "corpus": "corpus", "threshold": "frames"}
SHARED_PARAMS = (*SCHEMA_PARAMS, *SECTION_PARAMS, "seed")


@dataclass(frozen=True)
class Family:
    """A registered model family. ``exportable`` families can become the champion and be served; the
    others are peers kept for comparison. ``trusted_types`` are the types (beyond the feature pipeline's
    and numpy's) its fitted models hold, for the skops allow-list."""

    name: str
    estimator: type
    exportable: bool
    trusted_types: frozenset[str] = frozenset()
    description: str = ""

    def parameters(self) -> dict[str, inspect.Parameter]:
        return dict(inspect.signature(self.estimator.__init__).parameters)

    def defaults(self) -> dict:
        """The ``model`` section's keys and defaults: the estimator's own ``__init__`` parameters."""
        return {name: p.default for name, p in self.parameters().items()
                if name != "self" and name not in SHARED_PARAMS}

    def sections(self) -> tuple[str, ...]:
        """The config sections this family reads (what runs of it are compared on)."""
        accepted = self.parameters()
        return ("model", *dict.fromkeys(section for param, section in SECTION_PARAMS.items() if param in accepted))

    def build(self, config: dict, schema):
        """The unfitted estimator for ``config`` (its ``model`` section plus the shared sections it takes)."""
        accepted = self.parameters()
        shared = {"topics": list(schema.topics), "frames": list(schema.frames), "frames_topic": schema.frames_topic,
                  "keywords": schema.lexicon(),
                  "normalize": config["normalize"], "features": config["features"], "corpus": config["corpus"],
                  "threshold": config["frames"]["threshold"], "seed": config["seed"]}
        params = {k: v for k, v in config["model"].items() if k != "family"}
        return self.estimator(**params, **{k: v for k, v in shared.items() if k in accepted})


_REGISTRY: dict[str, Family] = {}


def register(family: Family) -> Family:
    if family.name in _REGISTRY and _REGISTRY[family.name].estimator is not family.estimator:
        raise CtframeError(f"model family {family.name!r} is registered twice")
    _REGISTRY[family.name] = family
    return family


def _load_all() -> dict[str, Family]:
    """Import every module of this package once, so each registers its families."""
    for module in pkgutil.iter_modules(__path__):
        importlib.import_module(f"{__name__}.{module.name}")
    return _REGISTRY


def families() -> dict[str, Family]:
    """Every registered family, by name (in registration order)."""
    return dict(_load_all())


def get(name: str) -> Family:
    registry = _load_all()
    if name not in registry:
        raise CtframeError(f"config model.family = {name!r}; expected one of {tuple(registry)}")
    return registry[name]


def exportable() -> tuple[str, ...]:
    return tuple(name for name, family in _load_all().items() if family.exportable)


def build_model(config: dict, schema):
    """The unfitted model of the config's family (``model.family``)."""
    return get(config["model"]["family"]).build(config, schema)


# Where an exported model directory keeps the fitted model (the pyfunc's ``model`` artifact).
MODEL_FILE = Path("artifacts") / "ctframe.skops"
# Types any saved model may hold besides its family's and its feature pipeline's.
BASE_TYPES = frozenset({"builtins.slice", "numpy.float32", "numpy.float64", "numpy.int64", "numpy.str_"})


def trusted_types() -> frozenset[str]:
    """The allow-list: every type a model of an exportable family can hold. Loading refuses a file holding
    anything else, so a tampered model cannot smuggle in an arbitrary callable."""
    from ctframe.features.vectorize import PIPELINE_TYPES

    registered = families().values()
    return BASE_TYPES | PIPELINE_TYPES | frozenset().union(*(f.trusted_types for f in registered if f.exportable))


def load_model(path: str | Path):
    """Load a skops model file, refusing any type outside the allow-list."""
    import skops.io as sio

    if not Path(path).is_file():
        raise CtframeError(f"{path}: model file missing")
    try:
        found = set(sio.get_untrusted_types(file=path))
    except Exception as exc:  # a corrupt archive surfaces as many exception types
        raise CtframeError(f"{path}: not a readable skops model ({exc})") from exc
    refused = sorted(found - trusted_types())
    if refused:
        raise CtframeError(f"{path}: refusing to load untrusted type(s) {', '.join(refused)}")
    try:
        return sio.load(path, trusted=sorted(found))
    except Exception as exc:
        raise CtframeError(f"{path}: not a readable skops model ({exc})") from exc


def require_exported(model_dir: str | Path) -> None:
    """A clear error unless ``model_dir`` is an exported model directory."""
    if not (Path(model_dir) / "MLmodel").is_file():
        raise CtframeError(f"no MLflow model at {model_dir} (run `make train`, or pass --model DIR)")


def load_exported(model_dir: str | Path):
    """The fitted model inside an exported model directory (no MLflow needed)."""
    require_exported(model_dir)
    return load_model(Path(model_dir) / MODEL_FILE)
