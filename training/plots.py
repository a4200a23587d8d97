"""Figures for the MLflow run and the notebook: confusion matrix, reliability diagram, risk-coverage curve."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.figure import Figure
from sklearn.metrics import confusion_matrix

from training.evaluate import risk_coverage

# Figures are built without pyplot: no global backend, safe in threads and servers, shown inline in notebooks.


def confusion_figure(y_true: list[str], y_pred: list[str], labels: list[str]) -> Any:
    """A row-normalised confusion matrix."""
    cm = confusion_matrix(y_true, y_pred, labels=labels).astype(float)
    cm /= np.clip(cm.sum(axis=1, keepdims=True), 1, None)
    size = max(6.0, 0.22 * len(labels))
    fig = Figure(figsize=(size, size))
    ax = fig.subplots()
    ax.imshow(cm, cmap="Blues", vmin=0, vmax=1)
    ticks = np.arange(len(labels))
    ax.set_xticks(ticks, labels, rotation=90, fontsize=6)
    ax.set_yticks(ticks, labels, fontsize=6)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title("Confusion matrix (row-normalised)")
    fig.tight_layout()
    return fig


def reliability_figure(bins: list[dict[str, float]]) -> Any:
    """Accuracy against mean confidence per bin, with the diagonal of perfect calibration."""
    fig = Figure(figsize=(5, 5))
    ax = fig.subplots()
    ax.plot([0, 1], [0, 1], "--", color="grey", label="perfect calibration")
    conf = [b["confidence"] for b in bins]
    acc = [b["accuracy"] for b in bins]
    sizes = [20 + 200 * b["count"] / max(1, max(x["count"] for x in bins)) for b in bins]
    ax.plot(conf, acc, "-", color="tab:blue")
    ax.scatter(conf, acc, s=sizes, color="tab:blue", label="model (size = count)")
    ax.set_xlabel("confidence")
    ax.set_ylabel("accuracy")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_title("Reliability diagram")
    ax.legend(loc="upper left")
    fig.tight_layout()
    return fig


def risk_coverage_figure(confidence: np.ndarray, correct: np.ndarray, target: float = 0.97) -> Any:
    """Accuracy of the auto-accepted share as the confidence threshold falls."""
    cov, acc, _ = risk_coverage(confidence, correct)
    fig = Figure(figsize=(6, 4))
    ax = fig.subplots()
    ax.plot(cov, acc)
    ax.axhline(target, color="grey", ls="--", label=f"{target:.0%} accuracy")
    ax.set_xlabel("coverage (share auto-accepted)")
    ax.set_ylabel("accuracy on covered")
    ax.set_title("Risk-coverage")
    ax.legend()
    fig.tight_layout()
    return fig


def save(fig: Any, path: Path) -> Path:
    fig.savefig(path, dpi=110)
    return path
