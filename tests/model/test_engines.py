"""`predict --engine spark|ray` gives the rows and values of local `predict` (200 rows; 14-22 s fixed)."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import pandas as pd
import pytest

from tests.conftest import DATA

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> Path:
    frame = pd.read_csv(DATA / "test.csv").head(200)
    frame.insert(0, "row", range(len(frame)))
    path = tmp_path_factory.mktemp("archive") / "archive.parquet"
    frame.to_parquet(path, index=False)
    return path


@pytest.fixture(scope="module")
def local(archive: Path, sample_model) -> pd.DataFrame:
    from training.predict import predict_file

    out = archive.with_name("local.parquet")
    predict_file(sample_model, archive, out)
    return pd.read_parquet(out)


def _same_as_local(local: pd.DataFrame, out: Path) -> None:
    other = pd.read_parquet(out).sort_values("row").reset_index(drop=True)
    assert list(other.columns) == list(local.columns)
    assert len(other) == len(local) == 200
    assert other["top1_id"].tolist() == local["top1_id"].tolist()
    assert other["top1_confidence"].to_numpy() == pytest.approx(local["top1_confidence"].to_numpy(), abs=1e-4)
    assert other["needs_review"].tolist() == local["needs_review"].tolist()


@pytest.mark.skipif(
    importlib.util.find_spec("pyspark") is None and not os.environ.get("CI"),
    reason="the spark extra is not installed (CI installs it: make install)",
)
def test_spark_local_1_matches_local_predict(archive: Path, local: pd.DataFrame, sample_model) -> None:
    from training.engines import predict_spark

    out = archive.with_name("spark.parquet")
    assert predict_spark(sample_model, archive, out, master="local[1]") == 200
    _same_as_local(local, out)


@pytest.mark.skipif(
    importlib.util.find_spec("ray") is None and not os.environ.get("CI"),
    reason="the ray extra is not installed (CI installs it: make install)",
)
def test_ray_matches_local_predict(archive: Path, local: pd.DataFrame, sample_model) -> None:
    from training.engines import predict_ray

    out = archive.with_name("ray.parquet")
    assert predict_ray(sample_model, archive, out, workers=1) == 200
    _same_as_local(local, out)
