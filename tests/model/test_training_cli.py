"""train / evaluate / suggest / predict from the command line, MLflow registry included."""

import json
from pathlib import Path

import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from contactlens.cli import app
from contactlens.settings import get_settings
from tests.conftest import DATA, cli_error_line

runner = CliRunner()


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("CONTACTLENS_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("CONTACTLENS_MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.delenv("CONTACTLENS_MODEL_URI", raising=False)
    get_settings.cache_clear()
    yield tmp_path / "home"
    get_settings.cache_clear()


def run(*args) -> object:
    return runner.invoke(app, [str(a) for a in args])


@pytest.mark.parametrize(
    ("csv", "message"),
    [
        ("text,description\na,late\nb,late\nc,late\n", "only one label ('late')"),
        ("text,description\na,late\nb,late\nc,lost\n", "1 labels have fewer than 2 examples, first: lost"),
        ("", "the file is empty"),
        ("text,description\n", "header but no rows"),
    ],
    ids=["single-label", "one-example", "empty", "header-only"],
)
def test_train_refuses_unusable_data(home, tmp_path: Path, csv, message):
    (tmp_path / "d.csv").write_text(csv)
    assert message in cli_error_line(run("train", "--data", tmp_path / "d.csv", "--no-register"))


def test_train_refuses_labels_outside_the_taxonomy(home, tmp_path: Path):
    (tmp_path / "d.csv").write_text(
        "text,description\na,late_delivery\nb,late_delivery\nc,teleported\nd,teleported\n"
    )
    line = cli_error_line(run("train", "--data", tmp_path / "d.csv", "--taxonomy", DATA / "taxonomy.yaml"))
    assert "d.csv: row 3: 'teleported' is not a description of taxonomy 2026.1" in line


def test_model_dir_that_is_not_an_artifact(home, tmp_path: Path):
    line = cli_error_line(run("evaluate", "--model", tmp_path, "--data", DATA / "test.csv"))
    assert "not a ContactLens model directory" in line
    line = cli_error_line(run("suggest", "--model", "models:/nothing@champion", "parcel late"))
    assert "cannot resolve models:/nothing@champion" in line


def test_bad_config_names_the_field(home, tmp_path: Path):
    (tmp_path / "c.yaml").write_text("cv_folds: 1\ndescription: {members: []}\nsentiment: {members: []}\n")
    line = cli_error_line(run("train", "--data", DATA / "train.csv", "--config", tmp_path / "c.yaml"))
    assert "field 'cv_folds'" in line


@pytest.fixture(scope="module")
def registered(tmp_path_factory, encoder_dir, fast_config):
    """Train through the CLI once, registering into a fresh MLflow store."""
    root = tmp_path_factory.mktemp("cli")
    mp = pytest.MonkeyPatch()
    mp.setenv("CONTACTLENS_HOME", str(root / "home"))
    mp.delenv("CONTACTLENS_MODEL_URI", raising=False)
    get_settings.cache_clear()
    cfg = root / "fast.yaml"
    cfg.write_text(yaml.safe_dump(fast_config.model_dump(mode="json")))
    out = root / "artifact"
    result = run(
        "train",
        "--data",
        DATA / "train.csv",
        "--eval-data",
        DATA / "test.csv",
        "--taxonomy",
        DATA / "taxonomy.yaml",
        "--config",
        cfg,
        "--out",
        out,
        "--encoder",
        encoder_dir,
    )
    yield root, out, result
    mp.undo()
    get_settings.cache_clear()


def test_train_writes_artifact_run_and_registry(registered):
    root, out, result = registered
    assert result.exit_code == 0, result.output
    assert "registered contactlens version 1 as champion" in result.output
    meta = json.loads((out / "metadata.json").read_text())
    assert meta["registered"]["version"] == "1"
    assert meta["metrics"]["test"]["accuracy"] > 0.8
    assert (out / "encoder" / "encoder.onnx").is_file()


def test_pyfunc_from_the_registry_predicts_one_row_per_input(registered):
    import mlflow

    root, _, _ = registered
    mlflow.set_tracking_uri(get_settings().tracking_uri)
    model = mlflow.pyfunc.load_model("models:/contactlens@champion")
    frame = pd.DataFrame({"text": ["my parcel is late", "charged twice", "lovely staff"]})
    out = model.predict(frame)
    assert len(out) == 3
    assert out.loc[1, "description"] == "charged_twice"
    decided = out.loc[1, "descriptions"]  # a list of records (the signature's array of structs)
    assert "charged_twice" in {d["id"] for d in decided}
    assert all(d["sentiment"] in ("negative", "neutral", "positive") for d in decided)
    figures = [a.path for a in mlflow.MlflowClient().list_artifacts(_run_id(), "figures")]
    assert {"figures/confusion_matrix.png", "figures/reliability.png"} <= set(figures)


def _run_id() -> str:
    import mlflow

    return mlflow.MlflowClient().get_model_version_by_alias("contactlens", "champion").run_id


def test_evaluate_suggest_predict(registered, tmp_path: Path):
    root, out, _ = registered
    r = run(
        "evaluate", "--data", DATA / "test.csv", "--json", tmp_path / "e.json"
    )  # the champion, by default
    assert r.exit_code == 0, r.output
    report = json.loads((tmp_path / "e.json").read_text())
    for key in (
        "accuracy",
        "macro_f1",
        "top3_accuracy",
        "ece",
        "accuracy_at_coverage_80",
        "coverage_at_accuracy_97",
        "per_description",
        "per_group",
        "per_channel",
        "confused_pairs",
        "sentiment_accuracy",
        "sentiment_macro_f1",
    ):
        assert key in report, key
    r = run("suggest", "--model", out, "--json", "--top-k", "2", "I was charged twice for one order")
    assert r.exit_code == 0, r.output
    payload = json.loads(r.output)
    assert len(payload["suggestions"]) == 2 and payload["suggestions"][0]["id"] == "charged_twice"
    src = tmp_path / "archive.csv"
    pd.DataFrame({"body": ["parcel late", "", "refund please"] * 3, "ref": range(9)}).to_csv(src, index=False)
    r = run(
        "predict",
        "--model",
        out,
        "--data",
        src,
        "--out",
        tmp_path / "scored.jsonl",
        "--text-col",
        "body",
        "--chunk-size",
        "4",
    )
    assert r.exit_code == 0, r.output
    scored = pd.read_json(tmp_path / "scored.jsonl", lines=True)
    assert len(scored) == 9 and list(scored["ref"]) == list(range(9))
    assert {"top1_id", "top3_confidence", "needs_review", "sentiment_pred"} <= set(scored.columns)
    assert bool(scored.loc[1, "needs_review"]) is True  # an empty text always needs a person
