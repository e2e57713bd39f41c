"""The MLflow pyfunc wrapper of an exported model, shared by the CLI, both REST servers and Spark."""
from __future__ import annotations

import math

from ctframe import CtframeError
from ctframe.features.corpus import check_text
from ctframe.train.families import load_model
from ctframe.train.model import as_frame

def inputs_from_frame(model_input):
    """A request's paragraphs: the ``text`` column, checked (present, strings, not blank), with the
    optional ``title`` and ``context`` columns (strings or null). Bad input raises an MlflowException that
    the scoring server answers with HTTP 400."""
    import pandas as pd
    from mlflow.exceptions import MlflowException
    from mlflow.protos.databricks_pb2 import INVALID_PARAMETER_VALUE

    if isinstance(model_input, dict):
        try:
            model_input = pd.DataFrame(model_input)
        except ValueError as exc:
            raise MlflowException(f"input is not a table of columns ({exc})", INVALID_PARAMETER_VALUE) from exc
    if not isinstance(model_input, pd.DataFrame) or "text" not in model_input.columns:
        raise MlflowException("input must have a 'text' column (one paragraph per row)", INVALID_PARAMETER_VALUE)
    try:
        for row, text in enumerate(model_input["text"].tolist()):
            check_text(text, f"row {row}")
        for column in ("title", "context"):
            if column in model_input.columns:
                for row, value in enumerate(model_input[column].tolist()):
                    missing = value is None or (isinstance(value, float) and math.isnan(value))
                    if not missing and not isinstance(value, str):
                        raise CtframeError(f"row {row}: {column!r} must be a string, got {type(value).__name__}")
    except CtframeError as exc:
        raise MlflowException(str(exc), INVALID_PARAMETER_VALUE) from exc
    return as_frame(model_input)


def pyfunc_class():
    """The MLflow pyfunc class (built on first use, so that importing this module needs no MLflow)."""
    import mlflow.pyfunc

    from ctframe.train.model import predict_records, to_frame

    class CTFramePyfunc(mlflow.pyfunc.PythonModel):
        """MLflow pyfunc: DataFrame with a ``text`` column → topic, frames and per-label probabilities."""

        def load_context(self, context):
            self.model = load_model(context.artifacts["model"])

        def predict(self, context, model_input, params=None):
            inputs = inputs_from_frame(model_input)
            out = to_frame(predict_records(self.model, inputs))
            if (params or {}).get("explain"):
                from ctframe.train.evidence import explain

                out["evidence"] = explain(self.model, inputs)
            return out

    return CTFramePyfunc
