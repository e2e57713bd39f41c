"""Safe (skops) persistence of CTFrameModel and its MLflow pyfunc wrapper, shared by CLI, REST and Spark."""
from __future__ import annotations

from pathlib import Path

import mlflow.pyfunc
import numpy as np
import pandas as pd
import skops.io as sio
from mlflow.exceptions import MlflowException
from mlflow.protos.databricks_pb2 import INVALID_PARAMETER_VALUE

from features.errors import CtframeError

# Every type a CTFrameModel built from any valid config contains. Loading refuses a file holding anything
# else, so a tampered model cannot smuggle in an arbitrary callable.
TRUSTED_TYPES = frozenset({
    "features.normalize.ArabicNormalizer",
    "train.model.CTFrameModel",
    "train.model.PlattCalibrated",
    "features.hashing.CharNgramHasher",
    "sklearn.pipeline.Pipeline",
    "sklearn.pipeline.FeatureUnion",
    "sklearn.feature_extraction.text.TfidfVectorizer",
    "sklearn.feature_extraction.text.TfidfTransformer",
    "sklearn.svm._classes.LinearSVC",
    "sklearn.linear_model._logistic.LogisticRegression",
    "builtins.slice",
    "numpy.float32",
    "numpy.float64",
    "numpy.int64",
    "numpy.str_",
})


def save_model(model, path: str | Path) -> Path:
    sio.dump(model, path)
    return Path(path)


def load_model(path: str | Path):
    """Load a skops model file, refusing any type outside TRUSTED_TYPES."""
    try:
        found = set(sio.get_untrusted_types(file=path))
    except Exception as exc:  # a corrupt archive surfaces as many exception types
        raise CtframeError(f"{path}: not a readable skops model ({exc})") from exc
    refused = sorted(found - TRUSTED_TYPES)
    if refused:
        raise CtframeError(f"{path}: refusing to load untrusted type(s) {', '.join(refused)}")
    return sio.load(path, trusted=sorted(found))


def invalid(message: str) -> MlflowException:
    """An error the MLflow scoring server answers with HTTP 400."""
    return MlflowException(message, error_code=INVALID_PARAMETER_VALUE)


def texts_from_frame(model_input) -> list[str]:
    """The ``text`` column of a request, checked: present, strings, not blank."""
    if isinstance(model_input, dict):
        model_input = pd.DataFrame(model_input)
    if not isinstance(model_input, pd.DataFrame) or "text" not in model_input.columns:
        raise invalid("input must have a 'text' column (one paragraph per row)")
    texts = model_input["text"].tolist()
    for row, text in enumerate(texts):
        if not isinstance(text, str):
            raise invalid(f"row {row}: 'text' must be a string, got {type(text).__name__}")
        if not text.strip():
            raise invalid(f"row {row}: 'text' is empty")
    return texts


def predict_frame(model, texts: list[str]) -> pd.DataFrame:
    """One row per text: ``topic``, ``frames`` (list) and ``p_topic_<label>`` / ``p_frame_<label>``."""
    topic_p, frame_p = model.predict_proba(texts)
    topics, frames = model.decide(topic_p, frame_p)
    out = pd.DataFrame({"topic": topics.astype(str),
                        "frames": [[f for f, on in zip(model.frames, row) if on] for row in frames]})
    for k, label in enumerate(model.topics):
        out[f"p_topic_{label}"] = topic_p[:, k].astype(np.float64)
    for j, frame in enumerate(model.frames):
        out[f"p_frame_{frame}"] = frame_p[:, j].astype(np.float64)
    return out





class CTFramePyfunc(mlflow.pyfunc.PythonModel):
    """MLflow pyfunc: DataFrame with a ``text`` column → topic, frames and per-label probabilities."""

    def load_context(self, context):
        self.model = load_model(context.artifacts["model"])

    def predict(self, context, model_input, params=None):
        return predict_frame(self.model, texts_from_frame(model_input))
