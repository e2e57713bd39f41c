"""Models-from-code entry point: MLflow runs this file to build the pyfunc, so no pickle is stored."""
import mlflow

from train.pyfunc import CTFramePyfunc

mlflow.models.set_model(CTFramePyfunc())
