"""Shared fixtures. The expensive parts (encoder export, a trained model) are built once per session."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "data"
SHARED = ROOT.parent / "shared" / "datasets"

# Never reach for a hub: everything runs offline.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("MLFLOW_ENABLE_ASYNC_LOGGING", "false")


# Session fixtures that export the encoder (and so everything built on it: a trained model, the app serving
# it). A test that uses one, directly or through another fixture, is marked `slow`: `make test-fast` leaves
# it out. Tests that are slow another way (training through the CLI, a server) carry the mark themselves.
MODEL_FIXTURES = {"encoder_dir", "sample_model", "sample_model_dir"}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if MODEL_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)


def shared_dataset(name: str) -> Path:
    """A data set under ../shared/datasets; skipped when absent, except in CI where it is a failure."""
    path = SHARED / name
    if not path.is_dir():
        if os.environ.get("CI"):
            pytest.fail(f"{path} is missing in CI")
        pytest.skip(f"{path} is absent (the shared data sets live beside the project)")
    return path


def cli_error_line(result) -> str:
    """The one `error:` line a failed CLI command printed (exit 2, no traceback)."""
    assert result.exit_code == 2, result.output
    lines = [x for x in result.output.splitlines() if x.startswith("error:")]
    assert len(lines) == 1 and "Traceback" not in result.output, result.output
    return lines[0]


@pytest.fixture(scope="session")
def encoder_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The encoder exported to ONNX once per test session."""
    from training.export import export_encoder

    out = tmp_path_factory.mktemp("encoder")
    export_encoder(out)
    return out


@pytest.fixture(scope="session")
def fast_config():
    """A quicker training config for tests: fewer folds, one C per member."""
    from training.config import load_config

    cfg = load_config()
    cfg.cv_folds = 3
    for head in (cfg.description, cfg.sentiment, cfg.multilabel):
        for m in head.members:
            m.C = [m.C[-1]]
    return cfg


@pytest.fixture(scope="session")
def sample_model(tmp_path_factory: pytest.TempPathFactory, encoder_dir: Path, fast_config):
    """A model trained on the sample data (data/train.csv), saved to a temporary artifact directory."""
    from contactlens import data, taxonomy
    from contactlens.model import ContactModel
    from training.fit import train

    tax = taxonomy.load(DATA / "taxonomy.yaml")
    frame = data.load(DATA / "train.csv")
    out = tmp_path_factory.mktemp("model")
    train(frame, tax, fast_config, out, encoder_dir=encoder_dir)
    return ContactModel.load(out)


@pytest.fixture(scope="session")
def sample_model_dir(sample_model) -> Path:
    return sample_model.path
