"""`predict --engine` refuses what it cannot do with one line, before any model is loaded."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from contactlens.cli import app
from contactlens.errors import DataError
from tests.conftest import cli_error_line


def test_an_unknown_engine_is_refused(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["predict", "--data", "x.csv", "--out", "y.parquet", "--engine", "dask"])
    assert "--engine must be one of local, spark, ray, not 'dask'" in cli_error_line(result)


def test_spark_and_ray_write_parquet_folders_only() -> None:
    from training.engines import _check_out

    _check_out(Path("scored.parquet"))
    with pytest.raises(DataError, match="name it NAME.parquet"):
        _check_out(Path("scored.csv"))
