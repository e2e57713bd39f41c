"""`ctframe score-spark`: score a Parquet or JSONL archive of paragraphs with Spark, writing Parquet.

The champion runs inside Spark through ``mlflow.pyfunc.spark_udf``: the same pyfunc as the CLI and REST.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

from ctframe import CtframeError
from ctframe.train.families import require_exported


def score_spark(source: str, dest: str, *, model_dir, text_column: str = "text", master: str = "local[*]") -> int:
    """Score every row of ``source`` (``.parquet`` or ``.jsonl``, a file or a folder) into Parquet at
    ``dest``: the input columns plus ``topic``, ``frames`` and ``p_topic_*`` / ``p_frame_*``."""
    require_exported(model_dir)
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)  # workers use this interpreter and its packages
    import mlflow
    from pyspark.sql import SparkSession
    from pyspark.sql import functions as F

    spark = (SparkSession.builder.master(master).appName("ctframe-score")
             .config("spark.driver.bindAddress", "127.0.0.1").config("spark.driver.host", "127.0.0.1")
             .config("spark.ui.enabled", "false").getOrCreate())
    try:
        reader = spark.read.parquet if ".parquet" in source or Path(source).is_dir() else spark.read.json
        frame = reader(source)
        if text_column not in frame.columns:
            raise CtframeError(f"{source}: no {text_column!r} column (columns: {', '.join(frame.columns)})")
        udf = mlflow.pyfunc.spark_udf(spark, str(Path(model_dir).resolve()), env_manager="local")
        scored = frame.withColumn("_scores", udf(F.struct(F.col(text_column).alias("text"))))
        scored = scored.select(*frame.columns, "_scores.*")
        scored.write.mode("errorifexists").parquet(dest)
        return spark.read.parquet(dest).count()
    finally:
        spark.stop()
