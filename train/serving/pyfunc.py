"""The MLflow pyfunc wrapper of an exported model, shared by the CLI, both REST servers and Spark."""
from __future__ import annotations

from ctframe import CtframeError
from ctframe.features.corpus import check_text
from ctframe.train.families import load_model

def texts_from_frame(model_input) -> list[str]:
    """The ``text`` column of a request, checked: present, strings, not blank. Bad input raises an
    MlflowException that the scoring server answers with HTTP 400."""
    import pandas as pd
    from mlflow.exceptions import MlflowException
    from mlflow.protos.databricks_pb2 import INVALID_PARAMETER_VALUE

    if isinstance(model_input, dict):
        model_input = pd.DataFrame(model_input)
    if not isinstance(model_input, pd.DataFrame) or "text" not in model_input.columns:
        raise MlflowException("input must have a 'text' column (one paragraph per row)", INVALID_PARAMETER_VALUE)
    texts = model_input["text"].tolist()
    try:
        return [check_text(text, f"row {row}") for row, text in enumerate(texts)]
    except CtframeError as exc:
        raise MlflowException(str(exc), INVALID_PARAMETER_VALUE) from exc


def pyfunc_class():
    """The MLflow pyfunc class (built on first use, so that importing this module needs no MLflow)."""
    import mlflow.pyfunc

    from ctframe.train.model import predict_records, to_frame

    class CTFramePyfunc(mlflow.pyfunc.PythonModel):
        """MLflow pyfunc: DataFrame with a ``text`` column → topic, frames and per-label probabilities."""

        def load_context(self, context):
            self.model = load_model(context.artifacts["model"])

        def predict(self, context, model_input, params=None):
            return to_frame(predict_records(self.model, texts_from_frame(model_input)))

    return CTFramePyfunc
