"""The MLflow pyfunc wrapper of an exported model: what `mlflow models serve` and Spark run (on the skops file)."""
from __future__ import annotations

from ctframe import CtframeError
from ctframe.train.families import load_model
from ctframe.train.model import as_frame
from ctframe.train.predictions import checked_columns

def inputs_from_frame(model_input):
    """A request's paragraphs, checked as ``ctframe serve`` checks them (``checked_columns``), as a frame.
    Bad input raises an MlflowException that the scoring server answers with HTTP 400."""
    import pandas as pd
    from mlflow.exceptions import MlflowException
    from mlflow.protos.databricks_pb2 import INVALID_PARAMETER_VALUE

    try:
        frame = pd.DataFrame(model_input) if isinstance(model_input, dict) else model_input
    except ValueError as exc:
        raise MlflowException(f"input is not a table of columns ({exc})", INVALID_PARAMETER_VALUE) from exc
    if not isinstance(frame, pd.DataFrame):
        raise MlflowException("input must be a table with a 'text' column", INVALID_PARAMETER_VALUE)
    try:
        return as_frame(checked_columns({c: frame[c].tolist() for c in frame.columns if isinstance(c, str)}))
    except CtframeError as exc:
        raise MlflowException(str(exc), INVALID_PARAMETER_VALUE) from exc


def pyfunc_class():
    """The MLflow pyfunc class (built on first use, so that importing this module needs no MLflow)."""
    import mlflow.pyfunc

    from ctframe.train.predictions import predict_records, to_frame

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
