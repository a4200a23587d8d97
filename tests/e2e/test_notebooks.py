"""The analysis notebooks run top to bottom against the package (make test executes them)."""

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from tests.conftest import ROOT


def execute(path: Path, env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> nbformat.NotebookNode:
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    nb = nbformat.read(path, as_version=4)
    NotebookClient(
        nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}
    ).execute()
    return nb


def outputs(nb: nbformat.NotebookNode, kind: str) -> list:
    return [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.output_type == kind]


def test_model_report_notebook(sample_model_dir: Path, monkeypatch: pytest.MonkeyPatch):
    nb = execute(
        ROOT / "notebooks" / "01_model_report.ipynb",
        {"CONTACTLENS_MODEL_URI": str(sample_model_dir)},
        monkeypatch,
    )
    assert not outputs(nb, "error")
    images = [
        o
        for o in outputs(nb, "display_data") + outputs(nb, "execute_result")
        if "image/png" in o.get("data", {})
    ]
    assert len(images) >= 3, "confusion matrix, reliability diagram and risk-coverage curve"
    text = "".join(o.get("data", {}).get("text/plain", "") for o in outputs(nb, "execute_result"))
    assert "accuracy" in text and "ece" in text
    assert "multilabel_micro_f1" in text and "sentiment_per_description_accuracy" in text


@pytest.fixture
def retrain_home(tmp_path: Path, sample_model, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A tiny MLflow store with one retrain decision: the sample model judged against itself (no training)."""
    from contactlens import data
    from contactlens.registry import alias_version, set_alias
    from contactlens.settings import get_settings
    from tests.conftest import DATA
    from training.promotion import GatePolicy
    from training.retrain import Prepared, decide, judge
    from training.tracking import log_training

    home = tmp_path / "home"
    monkeypatch.setenv("CONTACTLENS_HOME", str(home))
    monkeypatch.delenv("CONTACTLENS_MLFLOW_TRACKING_URI", raising=False)
    get_settings.cache_clear()
    settings = get_settings()
    champion = log_training(sample_model, settings, {}, None)["version"]
    set_alias(settings, "champion", champion)
    challenger = log_training(sample_model, settings, {}, None)
    set_alias(settings, "challenger", challenger["version"])
    heldout = data.load(DATA / "test.csv").head(150)
    prepared = Prepared(heldout.head(0), heldout, None, {"heldout_rows": len(heldout), "conflicts": []})
    record = judge(sample_model, sample_model, prepared, GatePolicy(), challenger, champion)
    decide(settings, record)
    assert record["decision"] == "kept as challenger", "no gain: the gate keeps the champion"
    assert alias_version(settings, "champion") == champion
    yield home
    get_settings.cache_clear()


def test_retraining_notebook(retrain_home: Path, monkeypatch: pytest.MonkeyPatch):
    nb = execute(
        ROOT / "notebooks" / "02_retraining.ipynb", {"CONTACTLENS_HOME": str(retrain_home)}, monkeypatch
    )
    assert not outputs(nb, "error")
    printed = "".join(o.get("text", "") for o in outputs(nb, "stream"))
    assert "kept as challenger: challenger version 2 vs champion version 1" in printed
    assert "held-out accuracy" in printed and "gain +0.0000" in printed
    results = outputs(nb, "execute_result")
    text = "".join(o.get("data", {}).get("text/plain", "") for o in results)
    assert "f1_champion" in text and "late_delivery" in text, "the per-description table"
    assert any("image/png" in o.get("data", {}) for o in results), "the F1 change figure"
