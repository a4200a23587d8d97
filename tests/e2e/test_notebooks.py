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
    NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}).execute()
    return nb


def outputs(nb: nbformat.NotebookNode, kind: str) -> list:
    return [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.output_type == kind]


def test_model_report_notebook(sample_model_dir: Path, monkeypatch: pytest.MonkeyPatch):
    nb = execute(ROOT / "notebooks" / "01_model_report.ipynb", {"CONTACTLENS_MODEL_URI": str(sample_model_dir)}, monkeypatch)
    assert not outputs(nb, "error")
    images = [o for o in outputs(nb, "display_data") + outputs(nb, "execute_result") if "image/png" in o.get("data", {})]
    assert len(images) >= 3, "confusion matrix, reliability diagram and risk-coverage curve"
    text = "".join(o.get("data", {}).get("text/plain", "") for o in outputs(nb, "execute_result"))
    assert "accuracy" in text and "ece" in text
