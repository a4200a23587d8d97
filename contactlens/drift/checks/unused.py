"""Descriptions falling out of use: (almost) no contacts where the reference share expects several."""

from __future__ import annotations

from typing import Any

import numpy as np

from contactlens.drift import stats as ds
from contactlens.drift.base import Check, DriftConfig, Window, _r, reference_shares
from contactlens.drift.result import DriftReport


class UnusedDescriptions(Check):
    keys = ("unused_descriptions",)
    section = "unused.html"

    def compute(self, w: Window, cfg: DriftConfig, corrections: list[tuple[str, str]]) -> dict[str, Any]:
        return {"unused_descriptions": unused_descriptions(w, cfg)}

    def reasons(self, report: DriftReport) -> list[str]:
        return [
            f"'{u['name']}' is falling out of use: {u['count']} contacts where "
            f"{u['expected']:.0f} were expected"
            for u in report.section("unused_descriptions")
        ]


def unused_descriptions(w: Window, cfg: DriftConfig) -> list[dict[str, Any]]:
    """Descriptions with (almost) no contacts in the window where the reference share expects several."""
    shares = reference_shares(w.reference)
    counts = np.bincount(w.predicted, minlength=len(w.classes))
    expected = shares * w.n
    tested = np.nonzero(expected >= 5)[0]
    if len(tested) == 0:
        return []
    p = ds.binomial_pvalues(counts[tested], w.n, shares[tested], "less")
    adjusted = ds.benjamini_hochberg(p)
    out = []
    for i, pa in zip(tested, adjusted, strict=True):
        if pa < cfg.alpha and counts[i] <= 0.2 * expected[i]:
            out.append(
                {
                    "id": w.classes[i],
                    "name": w.name(w.classes[i]),
                    "count": int(counts[i]),
                    "expected": _r(expected[i], 1),
                    "reference_share": _r(shares[i]),
                    "p_adjusted": float(pa),
                }
            )
    return out
