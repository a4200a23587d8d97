"""Scoring an archive on Spark or Ray: the same `score_chunk` as local `predict`, per partition or batch.

Each Spark Python worker or Ray actor loads the artifact once (one encoder thread each: one copy per core) and
scores pandas batches with `training.predict.score_chunk`, so the output columns and values are those of local
`predict`. Both write a folder of Parquet files (`pandas.read_parquet(folder)` reads it whole).

Spark and Ray are optional extras (`pip install 'contactlens[spark]'`, `'contactlens[ray]'`).
"""

from __future__ import annotations

import os
import sys
from functools import partial
from pathlib import Path
from typing import Any

import pandas as pd

from contactlens.data import FORMATS
from contactlens.errors import ContactLensError, DataError
from contactlens.model import ContactModel
from training.predict import score_chunk

ENGINES = ("local", "spark", "ray")
_MODELS: dict[str, ContactModel] = {}  # one loaded copy per Python worker process


def _model(path: str) -> ContactModel:
    if path not in _MODELS:
        _MODELS[path] = ContactModel.load(path, encoder_threads=1)
    return _MODELS[path]


def _clean(chunk: pd.DataFrame, text_col: str) -> pd.DataFrame:
    chunk[text_col] = chunk[text_col].map(
        lambda v: "" if v is None or v != v else str(v)
    )  # as iter_raw_chunks
    return chunk


def _fmt(data: Path) -> str:
    fmt = FORMATS.get(data.suffix.lower())
    if fmt is None:
        raise DataError(f"{data}: unknown input type '{data.suffix}', use .csv, .jsonl or .parquet")
    if not data.exists():
        raise DataError(f"{data}: no such file")
    return fmt


def _need(module: str, extra: str) -> None:
    import importlib.util

    if importlib.util.find_spec(module) is None:
        raise ContactLensError(f"--engine {extra} needs {module}: pip install 'contactlens[{extra}]'")


def _check_out(out: Path) -> None:
    if out.suffix.lower() not in ("", ".parquet"):
        raise DataError(f"{out}: Spark and Ray write a folder of Parquet files; name it NAME.parquet")


def _probe(model: ContactModel, text_col: str, top_k: int) -> pd.DataFrame:
    """The columns scoring adds, from one row scored on the driver."""
    out = score_chunk(model, pd.DataFrame({text_col: ["probe"]}), text_col, top_k)
    return out.drop(columns=[text_col])


# ------------------------------------------------------------------------------------------------- Spark


def _spark_batches(model_dir: str, text_col: str, top_k: int, columns: list[str], batches: Any) -> Any:
    from pyspark import SparkFiles

    local = Path(model_dir)
    path = str(local) if local.is_dir() else SparkFiles.get(local.name)  # shipped with addFile on a cluster
    model = _model(path)
    for chunk in batches:
        if len(chunk):
            yield score_chunk(model, _clean(chunk, text_col), text_col, top_k)[columns]


def predict_spark(
    model: ContactModel,
    data: Path,
    out: Path,
    text_col: str = "text",
    top_k: int = 3,
    master: str = "local[*]",
) -> int:
    """Score `data` with Spark (`master` as for spark-submit); returns the number of rows written."""
    _need("pyspark", "spark")
    _check_out(out)
    fmt = _fmt(data)
    from pyspark.sql import SparkSession

    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    spark = (
        SparkSession.builder.master(master)
        .appName("contactlens-predict")
        .config("spark.sql.execution.arrow.pyspark.enabled", "true")
        .config("spark.ui.enabled", "false")
        .getOrCreate()
    )
    try:
        spark.sparkContext.setLogLevel("ERROR")
        reader = spark.read
        if fmt == "csv":
            frame = reader.csv(str(data), header=True, inferSchema=True, multiLine=True, escape='"')
        elif fmt == "jsonl":
            frame = reader.json(str(data))
        else:
            frame = reader.parquet(str(data))
        if text_col not in frame.columns:
            found = ", ".join(frame.columns[:12])
            raise DataError(f"{data}: missing column '{text_col}' (found: {found}); map it with --text-col")
        parallelism = spark.sparkContext.defaultParallelism
        if frame.rdd.getNumPartitions() < parallelism:
            # One small file reads as one partition, which would keep all but one core idle; rows then come
            # out in another order (each keeps its input columns to join on).
            frame = frame.repartition(parallelism)
        assert model.path is not None
        if not master.startswith("local"):
            spark.sparkContext.addFile(str(model.path), recursive=True)
        added = spark.createDataFrame(_probe(model, text_col, top_k)).schema
        from pyspark.sql.types import StringType, StructField, StructType

        fields = [StructField(text_col, StringType()) if f.name == text_col else f for f in frame.schema]
        schema = StructType(fields + list(added.fields))
        scorer = partial(_spark_batches, str(model.path), text_col, top_k, schema.fieldNames())
        frame.mapInPandas(scorer, schema).write.mode("overwrite").parquet(str(out))
        return int(spark.read.parquet(str(out)).count())
    finally:
        spark.stop()


# --------------------------------------------------------------------------------------------------- Ray


class _RayScorer:
    """A Ray Data actor: loads the model once, scores pandas batches."""

    def __init__(self, model_dir: str, text_col: str, top_k: int) -> None:
        self.model = _model(model_dir)
        self.text_col, self.top_k = text_col, top_k

    def __call__(self, batch: pd.DataFrame) -> pd.DataFrame:
        return score_chunk(self.model, _clean(batch, self.text_col), self.text_col, self.top_k)


def predict_ray(
    model: ContactModel,
    data: Path,
    out: Path,
    text_col: str = "text",
    top_k: int = 3,
    workers: int | None = None,
    address: str | None = None,
) -> int:
    """Score `data` with Ray Data (a local Ray, or the cluster at `address`); returns rows written."""
    _need("ray", "ray")
    _check_out(out)
    fmt = _fmt(data)
    import pyarrow.dataset as pads
    import ray

    workers = workers or os.cpu_count() or 1
    if address:
        ray.init(address=address, ignore_reinit_error=True, log_to_driver=False)
    else:
        # Logical CPUs above the actors' share: two 1-CPU actors on 2 cores deadlocked on a backpressured read
        ray.init(
            num_cpus=max(4, 2 * workers),
            include_dashboard=False,
            ignore_reinit_error=True,
            log_to_driver=False,
        )
    try:
        ctx = ray.data.DataContext.get_current()
        ctx.execution_options.preserve_order = True
        reader = {"csv": ray.data.read_csv, "jsonl": ray.data.read_json, "parquet": ray.data.read_parquet}[
            fmt
        ]
        ds = reader(str(data))
        if text_col not in ds.columns():
            found = ", ".join(ds.columns()[:12])
            raise DataError(f"{data}: missing column '{text_col}' (found: {found}); map it with --text-col")
        assert model.path is not None
        scored = ds.map_batches(
            _RayScorer,
            fn_constructor_args=(str(model.path), text_col, top_k),
            batch_format="pandas",
            batch_size=512,
            concurrency=workers,
            num_cpus=1,
        )
        scored.write_parquet(str(out))
        return int(pads.dataset(str(out), format="parquet").count_rows())
    finally:
        ray.shutdown()
