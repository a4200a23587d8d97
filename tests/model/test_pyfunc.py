"""The MLflow model: typed signature, `top_k` param, models-from-code, the wheel in its requirements."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import yaml

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def logged(tmp_path_factory: pytest.TempPathFactory, sample_model_dir: Path):
    """The sample model logged (not registered) into a fresh MLflow store: its URI and local folder."""
    import mlflow

    from contactlens.pyfunc import log_pyfunc

    root = tmp_path_factory.mktemp("mlflow")
    mlflow.set_tracking_uri(f"sqlite:///{root / 'mlflow.db'}")
    experiment = mlflow.create_experiment("pyfunc", artifact_location=(root / "artifacts").as_uri())
    with mlflow.start_run(experiment_id=experiment):
        info = log_pyfunc(sample_model_dir, None)
    local = Path(mlflow.artifacts.download_artifacts(info.model_uri, dst_path=str(root / "local")))
    return info.model_uri, local


def test_logged_from_code_with_a_signature_params_and_an_example(logged) -> None:
    _, local = logged
    mlmodel = yaml.safe_load((local / "MLmodel").read_text())
    pyfunc = mlmodel["flavors"]["python_function"]
    assert "model_code_path" in pyfunc and not (local / "python_model.pkl").exists()  # nothing pickled
    assert pyfunc["config"] == {"encoder_threads": 1}
    inputs = yaml.safe_load(mlmodel["signature"]["inputs"])
    assert [(c["name"], c["type"], c.get("required", True)) for c in inputs] == [
        ("text", "string", True),
        ("channel", "string", False),
    ]
    outputs = {c["name"]: c for c in yaml.safe_load(mlmodel["signature"]["outputs"])}
    assert outputs["suggestions"]["type"] == "array" and outputs["suggestions"]["items"]["type"] == "object"
    assert outputs["confidence"]["type"] == "double" and outputs["needs_review"]["type"] == "boolean"
    params = yaml.safe_load(mlmodel["signature"]["params"])
    assert params == [{"name": "top_k", "type": "long", "default": 3, "shape": None}]
    assert (local / mlmodel["saved_input_example_info"]["artifact_path"]).is_file()


def test_requirements_name_the_wheel_logged_with_the_model(logged) -> None:
    _, local = logged
    requirements = (local / "requirements.txt").read_text().split()
    wheel = next(r for r in requirements if r.endswith(".whl"))
    assert wheel.startswith("artifacts/contactlens-") and (local / wheel).is_file()
    assert not any(r.startswith(("contactlens", "torch")) for r in requirements if r != wheel)


def test_load_model_predicts_typed_rows_and_honours_top_k(logged) -> None:
    import mlflow

    uri, _ = logged
    model = mlflow.pyfunc.load_model(uri)
    frame = pd.DataFrame({"text": ["my parcel is late", "charged twice"], "channel": ["email", None]})
    out = model.predict(frame, params={"top_k": 1})
    assert list(out["description"])[1] == "charged_twice"
    assert [len(s) for s in out["suggestions"]] == [1, 1]
    best = out.loc[1, "suggestions"][0]
    assert best["id"] == "charged_twice" and best["confidence"] == pytest.approx(out.loc[1, "confidence"])
    assert "charged_twice" in {d["id"] for d in out.loc[1, "descriptions"]}
    assert len(model.predict(pd.DataFrame({"text": ["where is my parcel"]}))["suggestions"][0]) == 3


def test_a_frame_without_text_is_refused_with_a_clear_error(logged) -> None:
    import mlflow

    from contactlens.errors import ContactLensError
    from contactlens.pyfunc import ContactLensPyfunc

    uri, _ = logged
    with pytest.raises(Exception, match="text"):
        mlflow.pyfunc.load_model(uri).predict(pd.DataFrame({"body": ["my parcel is late"]}))
    direct = ContactLensPyfunc()
    direct.model = None  # the column is checked before the model is used
    with pytest.raises(ContactLensError, match="no 'text' column \\(columns: body\\)"):
        direct.predict(None, pd.DataFrame({"body": ["x"]}))
