"""The training pipeline: fit, evaluate, log, register. Every entry point runs it through these functions.

`contactlens train`, `retrain`, `serve --bootstrap` and the notebooks call them; the CLI modules only parse
arguments and print. `evaluate` is the one way a model is scored on labelled data, so `contactlens evaluate`
and the promotion gate of `retrain` report the same numbers.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from contactlens import data as datamod
from contactlens.data import Columns
from contactlens.model import ContactModel, Scores
from contactlens.registry import alias_version, load_model, set_alias
from contactlens.results import Evaluation
from contactlens.settings import Settings, get_settings
from contactlens.taxonomy import Taxonomy
from training.config import TrainConfig

# Scoring for evaluation uses every core, and always the same number of threads: the encoder's float sums
# depend on how the work is split, and `evaluate` and `retrain` must agree to the last digit.
SCORING_THREADS = os.cpu_count() or 1


def load_for_scoring(uri: str | None, settings: Settings | None = None) -> ContactModel:
    """A model loaded to score files (`evaluate`, `predict`, the gate): every core for the encoder."""
    return load_model(uri, settings, threads=SCORING_THREADS)


def load_for_predict(uri: str | None, settings: Settings | None = None) -> ContactModel:
    """A model loaded to score an archive (`predict`): one encoder thread, since `predict_file` scores parts
    of the file in a thread per core (an encoder of several threads in each would oversubscribe the cores)."""
    return load_model(uri, settings, threads=1)


def load_labelled(path: Path, cols: Columns, taxonomy: Taxonomy) -> pd.DataFrame:
    """A labelled file with every label mapped to its description id; labels outside the taxonomy refused."""
    return datamod.to_taxonomy(datamod.load(path, cols, taxonomy=taxonomy), taxonomy, str(path))


def evaluate(
    model: ContactModel, frame: pd.DataFrame, source: str = "data", scores: Scores | None = None
) -> Evaluation:
    """Every metric of `contactlens evaluate` for a labelled frame (raw labels, ids, or label cells).

    `scores` reuses a scoring pass of the same texts (benchmarks that share embeddings between models).

    Raises:
        DataError: a label the model's taxonomy does not know, naming the row.
    """
    from training.evaluate import evaluate_frame

    return evaluate_frame(model, datamod.to_taxonomy(frame, model.taxonomy, source), scores)


def evaluate_file(model: ContactModel, path: Path, cols: Columns = Columns()) -> Evaluation:
    """`evaluate` on a file, read with the model's taxonomy."""
    return evaluate(model, datamod.load(path, cols, taxonomy=model.taxonomy), str(path))


def choose_alias(settings: Settings, alias: str) -> str:
    """The alias a newly trained model gets: 'auto' makes the first one champion, later ones challenger.

    Raises:
        ModelError: the registry cannot be read; nothing is registered then (never champion by accident).
    """
    if alias != "auto":
        return alias
    return "champion" if alias_version(settings, "champion") is None else "challenger"


@dataclass
class Trained:
    """What one run of the pipeline produced."""

    model: ContactModel
    evaluation: Evaluation | None
    registered: dict[str, str] | None
    lines: list[str] = field(default_factory=list)


def run(
    frame: pd.DataFrame,
    taxonomy: Taxonomy,
    cfg: TrainConfig,
    out: Path,
    test: pd.DataFrame | None = None,
    source: str = "training data",
    register: bool = True,
    alias: str = "auto",
    encoder_dir: Path | None = None,
    settings: Settings | None = None,
    tags: dict[str, str] | None = None,
) -> Trained:
    """Fit, evaluate on held-out data, log to MLflow and register under `alias` ('none': no alias)."""
    from training.fit import train as fit

    settings = settings or get_settings()
    chosen = choose_alias(settings, alias) if register else None  # before minutes of training
    model, frame, oof = fit(frame, taxonomy, cfg, out, source=source, encoder_dir=encoder_dir)
    val = model.metadata["metrics"]["validation"]
    evaluation = evaluate(model, test, "held-out data") if test is not None else None
    if evaluation is not None:
        model.metadata["metrics"]["test"] = evaluation.to_dict()
    lines = [
        f"trained on {len(frame)} rows, {len(model.classes)} descriptions "
        f"in {model.metadata['train_seconds']} s",
        metrics_line("validation (cross-validated)", val),
    ]
    if evaluation is not None:
        lines.append(metrics_line("test", evaluation.to_dict()))
    thr, cov = model.metadata["review_threshold"], model.metadata["review_threshold_coverage"]
    lines.append(f"review threshold {thr:.3f}: {cov:.1%} auto-accepted at {cfg.target_accuracy:.0%} accuracy")
    registered = None
    if register and chosen is not None:
        from training.tracking import log_training

        registered = log_training(model, settings, figures(model, frame, oof), evaluation, tags)
        model.metadata["registered"] = {"name": settings.registered_model_name, **registered}
        if chosen != "none":
            set_alias(settings, chosen, registered["version"])
        lines.append(
            f"registered {settings.registered_model_name} version {registered['version']} as {chosen}"
        )
    model.write_metadata()  # now with the test metrics and registry details
    lines.append(f"artifact: {out}")
    return Trained(model, evaluation, registered, lines)


def fit_and_log(frame, tax, cfg, out, test, source, register, alias, encoder_dir) -> list[str]:  # noqa: ANN001
    """`run`, returning only the summary lines (the older entry point, kept for notebooks and scripts)."""
    return run(frame, tax, cfg, out, test, source, register, alias, encoder_dir).lines


def figures(model: ContactModel, frame: pd.DataFrame, oof: np.ndarray) -> dict[str, Any]:
    """The figures logged with a training run, from its out-of-fold predictions."""
    from training import plots

    labels = frame["description"].tolist()
    pred = list(np.asarray(model.classes)[oof.argmax(axis=1)])
    val = model.metadata["metrics"]["validation"]
    return {
        "confusion_matrix": plots.confusion_figure(labels, pred, model.classes),
        "reliability": plots.reliability_figure(val["reliability"]),
        "risk_coverage": plots.risk_coverage_figure(oof.max(axis=1), np.asarray(pred) == np.asarray(labels)),
    }


def metrics_line(name: str, m: Mapping[str, Any]) -> str:
    """One line of the headline metrics of an evaluation's JSON (`Evaluation.to_dict()`) or of the
    cross-validated figures in an artifact's metadata (a subset of its keys)."""
    sent = f", sentiment {m['sentiment_accuracy']:.3f}" if "sentiment_accuracy" in m else ""
    multi = ""
    if "multilabel_micro_f1" in m:
        multi = (
            f"; multi-label micro F1 {m['multilabel_micro_f1']:.3f}, "
            f"macro F1 {m['multilabel_macro_f1']:.3f}, exact match {m['exact_match']:.3f}"
        )
        if m.get("sentiment_per_description_accuracy") is not None:
            multi += f", sentiment per description {m['sentiment_per_description_accuracy']:.3f}"
    return (
        f"{name}: accuracy {m['accuracy']:.3f}, macro F1 {m['macro_f1']:.3f}, "
        f"top-3 {m['top3_accuracy']:.3f}, "
        f"ECE {m['ece']:.3f}, accuracy@80% {m['accuracy_at_coverage_80']:.3f}{sent}{multi}"
    )
