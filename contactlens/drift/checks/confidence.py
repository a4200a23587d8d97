"""Confidence drift: more suggestions need review than at training time."""

from __future__ import annotations

from typing import Any

import numpy as np

from contactlens.drift import stats as ds
from contactlens.drift.base import Check, DriftConfig, Row, Window, _r, p_text, pct
from contactlens.drift.result import DriftReport


class ConfidenceDrift(Check):
    keys = ("confidence_drift",)

    def compute(self, w: Window, cfg: DriftConfig, corrections: list[tuple[str, str]]) -> dict[str, Any]:
        return {"confidence_drift": confidence_drift(w, cfg)}

    def reasons(self, report: DriftReport) -> list[str]:
        conf = report.section("confidence_drift")
        if not conf["detected"]:
            return []
        return [
            f"{pct(conf['window_review_rate'])} of suggestions need review against "
            f"{pct(conf['reference_review_rate'])} in training ({p_text(conf['p_value'])})"
        ]

    def evidence(self, report: DriftReport) -> Row:
        conf = report.section("confidence_drift")
        return Row(
            "Confidence drift",
            conf["detected"],
            f"{pct(conf['window_review_rate'])} need review, "
            f"{pct(conf['reference_review_rate'])} in training (p {conf['p_value']:.2g})",
        )


def confidence_drift(w: Window, cfg: DriftConfig) -> dict[str, Any]:
    """The share of suggestions needing review against the out-of-fold share at training time."""
    from contactlens.model import needs_review  # the model imports this package (novelty): import late

    ref_rate = float(w.reference["review_rate"][0])
    fits_none = w.fit().fits_none if "novelty_coef" in w.reference else None  # as the reference rate counts
    k = int(needs_review(w.confidence, fits_none, w.review_threshold).sum())
    p = float(ds.binomial_pvalues(np.array([k]), w.n, np.array([ref_rate]), "greater")[0])
    rate = k / w.n
    return {
        "detected": bool(p < cfg.alpha and rate - ref_rate >= max(cfg.min_review_increase, 0.5 * ref_rate)),
        "review_threshold": _r(w.review_threshold),
        "reference_review_rate": _r(ref_rate),
        "window_review_rate": _r(rate),
        "n_needing_review": k,
        "p_value": p,
    }
