"""Confidence drift: more suggestions fall below the review threshold than at training time.

The contacts that need review because they fit no description are the novelty check's to judge (with its
fresh-wording safeguards); counting them here too made a month of new wording for known descriptions raise
the alarm through this check alone (the sample's test set: 2.7% under the threshold against 2.3% held out,
but 22.8% needing review against 15.0%, all of the rise from contacts fitting no description). The review rate
is still reported beside it.
"""

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
        if "window_low_confidence_rate" not in conf:  # a reference without held-out confidences
            return [
                f"{pct(conf['window_review_rate'])} of suggestions need review against "
                f"{pct(conf['reference_review_rate'])} in training ({p_text(conf['p_value'])})"
            ]
        window, held_out = conf["window_low_confidence_rate"], conf["reference_low_confidence_rate"]
        return [
            f"{pct(window)} of suggestions are below the review threshold against {pct(held_out)} of "
            f"held-out training contacts ({p_text(conf['p_value'])})"
        ]

    def evidence(self, report: DriftReport) -> Row:
        conf = report.section("confidence_drift")
        low = (
            f"{pct(conf['window_low_confidence_rate'])} below the threshold, "
            f"{pct(conf['reference_low_confidence_rate'])} held out; "
            if "window_low_confidence_rate" in conf
            else ""
        )
        return Row(
            "Confidence drift",
            conf["detected"],
            f"{low}{pct(conf['window_review_rate'])} need review, "
            f"{pct(conf['reference_review_rate'])} in training (p {conf['p_value']:.2g})",
        )


def confidence_drift(w: Window, cfg: DriftConfig) -> dict[str, Any]:
    """The share of suggestions below the review threshold against the held-out (out-of-fold) share at
    training time; significant (binomial test) and up by `min_review_increase` and half the reference share at
    least. References without held-out confidences compare the whole review rate, as before."""
    from contactlens.model import needs_review  # the model imports this package (novelty): import late

    ref_rate = float(w.reference["review_rate"][0])
    fits_none = w.fit().fits_none if "novelty_coef" in w.reference else None  # as the reference rate counts
    reviewed = int(needs_review(w.confidence, fits_none, w.review_threshold).sum())
    out: dict[str, Any] = {
        "review_threshold": _r(w.review_threshold),
        "reference_review_rate": _r(ref_rate),
        "window_review_rate": _r(reviewed / w.n),
        "n_needing_review": reviewed,
    }
    k, ref = reviewed, ref_rate
    if "oof_confidence" in w.reference:
        held_out = np.asarray(w.reference["oof_confidence"], dtype=np.float64)
        ref = float((held_out < w.review_threshold).mean())
        k = int((np.asarray(w.confidence) < w.review_threshold).sum())
        out |= {
            "reference_low_confidence_rate": _r(ref),
            "window_low_confidence_rate": _r(k / w.n),
            "n_below_threshold": k,
        }
    p = float(ds.binomial_pvalues(np.array([k]), w.n, np.array([ref]), "greater")[0])
    rate = k / w.n
    out["detected"] = bool(p < cfg.alpha and rate - ref >= max(cfg.min_review_increase, 0.5 * ref))
    out["p_value"] = p
    return out
