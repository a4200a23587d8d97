"""Confidence drift judges low confidence; contacts fitting no description are the novelty check's."""

from __future__ import annotations

import numpy as np

from contactlens.drift import DriftConfig
from contactlens.drift.base import Window
from contactlens.drift.checks.confidence import confidence_drift
from contactlens.drift.novelty import Evidence
from contactlens.taxonomy import Taxonomy

N = 400
THRESHOLD = 0.5


def _window(confidence: np.ndarray, fits_none: np.ndarray, reference: dict[str, np.ndarray]) -> Window:
    tax = Taxonomy.from_labels(["a", "b"], "t")
    n = len(confidence)
    ev = Evidence(
        nearest=np.zeros(n, dtype=int),
        distance=np.zeros(n),
        centroid_percentile=np.zeros(n),
        neighbour_percentile=None,
        score=fits_none.astype(float),
        fits_none=fits_none,
    )
    emb = np.zeros((n, 4), dtype=np.float32)
    return Window(
        emb, confidence, np.zeros(n, dtype=int), ["x"] * n, tax.active_ids, reference, tax, THRESHOLD, ev
    )


def _reference(low_share: float, review_rate: float) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    held_out = np.where(rng.random(2000) < low_share, 0.3, 0.9).astype(np.float32)
    return {
        "review_rate": np.array([review_rate]),
        "oof_confidence": held_out,
        "novelty_coef": np.zeros(5),  # a rule-tuned reference: the review rate counts misfits too
    }


def test_more_contacts_fitting_no_description_alone_is_not_confidence_drift() -> None:
    """The sample's held-out month: confidence as in training, many more misfits (the novelty check's)."""
    ref = _reference(low_share=0.03, review_rate=0.15)
    rng = np.random.default_rng(1)
    confidence = np.where(rng.random(N) < 0.03, 0.3, 0.95)
    fits_none = rng.random(N) < 0.30  # twice the training share, all of them confidently filed
    out = confidence_drift(_window(confidence, fits_none, ref), DriftConfig())
    assert out["window_review_rate"] > 0.25  # reported: the review rate did rise ...
    assert out["window_low_confidence_rate"] < 0.06 and out["reference_low_confidence_rate"] < 0.05
    assert not out["detected"]  # ... but not because confidence fell


def test_many_more_contacts_below_the_threshold_is_confidence_drift() -> None:
    ref = _reference(low_share=0.03, review_rate=0.15)
    rng = np.random.default_rng(2)
    confidence = np.where(rng.random(N) < 0.20, 0.3, 0.95)
    out = confidence_drift(_window(confidence, np.zeros(N, dtype=bool), ref), DriftConfig())
    assert out["detected"] and out["n_below_threshold"] > 50 and out["p_value"] < 1e-6


def test_a_reference_without_held_out_confidences_compares_the_review_rate_as_before() -> None:
    ref = {"review_rate": np.array([0.05])}
    confidence = np.where(np.arange(N) < 100, 0.3, 0.95)  # 25% below the threshold
    out = confidence_drift(_window(confidence, np.zeros(N, dtype=bool), ref), DriftConfig())
    assert out["detected"] and "window_low_confidence_rate" not in out
    assert out["window_review_rate"] == 0.25
