"""MLflow: one run per training, with params, metrics, figures and the model registered as a pyfunc."""

from __future__ import annotations

import json
import logging
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from contactlens.model import ContactModel
from contactlens.pyfunc import log_pyfunc
from contactlens.registry import client
from contactlens.settings import Settings
from training import plots

log = logging.getLogger(__name__)
EXPERIMENT = "contactlens"


def _flat(prefix: str, value: Any, out: dict[str, Any]) -> dict[str, Any]:
    if isinstance(value, dict):
        for k, v in value.items():
            _flat(f"{prefix}.{k}" if prefix else str(k), v, out)
    else:
        out[prefix] = value
    return out


def scalar_metrics(metrics: dict[str, Any], prefix: str) -> dict[str, float]:
    """The top-level numbers of a metrics dict, as MLflow metric names."""
    return {
        f"{prefix}_{k}": float(v)
        for k, v in metrics.items()
        if isinstance(v, int | float) and not isinstance(v, bool) and np.isfinite(v)
    }


def log_training(
    model: ContactModel,
    settings: Settings,
    figures: dict[str, Any],
    evaluation: dict[str, Any] | None,
    tags: dict[str, str] | None = None,
) -> dict[str, str]:
    """Log a trained artifact as an MLflow run and register it. Returns run id and registered version."""
    import mlflow

    assert model.path is not None
    os.environ.setdefault("MLFLOW_ENABLE_ASYNC_LOGGING", "false")
    mc = client(settings)
    if mc.get_experiment_by_name(EXPERIMENT) is None:
        # Keep run artifacts beside the tracking store, not in whatever folder the command ran from.
        location = (settings.home / "mlartifacts").resolve().as_uri()
        mc.create_experiment(EXPERIMENT, artifact_location=location)
    mlflow.set_experiment(EXPERIMENT)
    meta = model.metadata
    with mlflow.start_run(tags=tags) as run, tempfile.TemporaryDirectory() as tmp:
        params = _flat("", meta["config"], {})
        params |= {"n_train": meta["n_train"], "data_hash": meta["data_hash"]}
        params |= {"taxonomy_version": meta["taxonomy_version"], "review_threshold": meta["review_threshold"]}
        mlflow.log_params({k: str(v)[:500] for k, v in params.items()})
        mlflow.log_metrics(scalar_metrics(meta["metrics"]["validation"], "val"))
        if evaluation:
            mlflow.log_metrics(scalar_metrics(evaluation, "test"))
        mlflow.log_metric("train_seconds", meta["train_seconds"])
        for name, fig in figures.items():
            mlflow.log_artifact(str(plots.save(fig, Path(tmp) / f"{name}.png")), "figures")
        report = {"validation": meta["metrics"]["validation"], "test": evaluation}
        (Path(tmp) / "report.json").write_text(json.dumps(report, indent=2))
        mlflow.log_artifact(str(Path(tmp) / "report.json"), "report")
        info = log_pyfunc(model.path, settings.registered_model_name)
        version = str(info.registered_model_version)
        run_id = run.info.run_id
    mc.set_model_version_tag(settings.registered_model_name, version, "data_hash", meta["data_hash"])
    return {"run_id": run_id, "version": version}


def set_alias(settings: Settings, alias: str, version: str) -> None:
    client(settings).set_registered_model_alias(settings.registered_model_name, alias, version)


def alias_version(settings: Settings, alias: str) -> str | None:
    """The version an alias points at, or None."""
    try:
        return str(client(settings).get_model_version_by_alias(settings.registered_model_name, alias).version)
    except Exception:
        return None
