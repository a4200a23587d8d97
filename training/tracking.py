"""MLflow: one run per training, with params, metrics, figures and the model registered as a pyfunc."""

from __future__ import annotations

import contextlib
import io
import json
import logging
import os
import re
import sys
import tempfile
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from contactlens.model import ContactModel
from contactlens.pyfunc import log_pyfunc
from contactlens.registry import client, quiet_mlflow
from contactlens.results import Evaluation
from contactlens.settings import Settings
from training import plots

log = logging.getLogger(__name__)
EXPERIMENT = "contactlens"
# MLflow's advice when a pyfunc is defined and logged, as coloured UserWarnings: about MLflow's own signature
# inference, not about this model, so a CLI user cannot act on them. Other warnings pass through.
_ADVICE = (
    r".*Add type hints to the `predict` method",
    r".*An input example was not provided when logging the model",
)


# What MLflow prints on stderr while registering: our own line says it once ("registered NAME version N as").
_CHATTER = re.compile(
    r"^(Successfully registered model|Registered model .* already exists|Created version '"
    r"|🏃 View run|🧪 View experiment)"
)


def _not_cloudpickle_advice(record: logging.LogRecord) -> bool:
    # MLflow's warning that a Python object is logged with CloudPickle: our pyfunc is a plain class of the
    # installed package, pinned in the requirements; the warning is about MLflow, not about this model.
    return not str(record.msg).startswith("Passing a Python object as `python_model`")


@contextmanager
def registration_chatter_dropped() -> Iterator[None]:
    """Hold back stderr inside the block and write it out again without MLflow's registration chatter."""
    held = io.StringIO()
    pyfunc_log = logging.getLogger("mlflow.pyfunc")
    pyfunc_log.addFilter(_not_cloudpickle_advice)
    try:
        with contextlib.redirect_stderr(held):
            yield
    finally:
        pyfunc_log.removeFilter(_not_cloudpickle_advice)
        kept = [line for line in held.getvalue().splitlines(keepends=True) if not _CHATTER.match(line)]
        sys.stderr.write("".join(kept))


@contextmanager
def mlflow_advice_silenced() -> Iterator[None]:
    """Hide MLflow's advice warnings (see `_ADVICE`) and its artifact progress bars inside the block.

    MLflow resets the warning filters around the calls that warn (`simplefilter("once")`), so a filter cannot
    reach them: the display is filtered instead.
    """
    with warnings.catch_warnings(), quiet_mlflow():
        show = warnings.showwarning

        def show_unless_advice(message: Any, category: Any, *args: Any, **kwargs: Any) -> None:
            if not any(re.match(p, str(message)) for p in _ADVICE):
                show(message, category, *args, **kwargs)

        warnings.showwarning = show_unless_advice
        yield


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
    evaluation: Evaluation | None,
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
    with mlflow_advice_silenced(), mlflow.start_run(tags=tags) as run, tempfile.TemporaryDirectory() as tmp:
        params = _flat("", meta["config"], {})
        params |= {"n_train": meta["n_train"], "data_hash": meta["data_hash"]}
        params |= {"taxonomy_version": meta["taxonomy_version"], "review_threshold": meta["review_threshold"]}
        mlflow.log_params({k: str(v)[:500] for k, v in params.items()})
        mlflow.log_metrics(scalar_metrics(meta["metrics"]["validation"], "val"))
        test = evaluation.to_dict() if evaluation is not None else None
        if test:
            mlflow.log_metrics(scalar_metrics(test, "test"))
        mlflow.log_metric("train_seconds", meta["train_seconds"])
        for name, fig in figures.items():
            mlflow.log_artifact(str(plots.save(fig, Path(tmp) / f"{name}.png")), "figures")
        report = {"validation": meta["metrics"]["validation"], "test": test}
        (Path(tmp) / "report.json").write_text(json.dumps(report, indent=2))
        mlflow.log_artifact(str(Path(tmp) / "report.json"), "report")
        with registration_chatter_dropped():
            info = log_pyfunc(model.path, settings.registered_model_name)
        version = str(info.registered_model_version)
        run_id = run.info.run_id
    mc.set_model_version_tag(settings.registered_model_name, version, "data_hash", meta["data_hash"])
    return {"run_id": run_id, "version": version}
