"""Models-from-code entry point: MLflow runs this file to build the pyfunc, so no pickle is stored."""
import mlflow

from ctframe.train.serving.pyfunc import pyfunc_class

mlflow.models.set_model(pyfunc_class()())
