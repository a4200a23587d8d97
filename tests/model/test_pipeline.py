"""One gate, right numbers: `retrain` judges models with exactly the code and numbers of `evaluate`."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
from typer.testing import CliRunner

from contactlens.cli import app
from contactlens.data import Columns
from tests.conftest import DATA
from training import pipeline
from training.promotion import GatePolicy
from training.retrain import Prepared, _frame, judge


def test_retrain_and_evaluate_agree_to_the_last_digit_on_multi_description_rows(
    sample_model_dir: Path, tmp_path: Path
):
    raw = pd.read_csv(DATA / "test.csv", dtype=str, keep_default_na=False)
    assert raw["description"].str.contains(":").any() and raw["description"].str.contains(";").any()
    result = CliRunner().invoke(
        app,
        [
            "evaluate",
            "--data",
            str(DATA / "test.csv"),
            "--model",
            str(sample_model_dir),
            "--json",
            str(tmp_path / "e.json"),
        ],
    )
    assert result.exit_code == 0, result.output
    reported = json.loads((tmp_path / "e.json").read_text())

    model = pipeline.load_for_scoring(str(sample_model_dir))
    heldout = _frame(
        pipeline.load_labelled(DATA / "test.csv", Columns(), model.taxonomy)
    )  # as retrain builds it
    assert heldout["description"].str.contains(";").any(), "the held-out set keeps every description of a row"
    record = judge(
        model,
        model,
        Prepared(heldout.head(0), heldout, None, {}),
        GatePolicy(),
        {"version": "2", "run_id": "r"},
        "1",
    )
    for who in ("champion", "challenger"):
        assert json.loads(json.dumps(record["metrics"]["heldout"][who])) == reported
    assert reported["accuracy"] > 0.8 and reported["macro_f1"] > 0.8
    assert f"accuracy {reported['accuracy']:.3f}, macro F1 {reported['macro_f1']:.3f}" in result.output
