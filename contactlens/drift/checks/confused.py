"""Confused descriptions (merge candidates): the model's out-of-fold confusion and reviewers' corrections.

Its reference statistic, the out-of-fold confusion matrix, also gives the mix check the suggestions' shares
at training time (`base.reference_shares`).
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import numpy as np

from contactlens.drift.base import Check, DriftConfig, TrainingData, Window, _r, pct
from contactlens.drift.result import DriftReport


class ConfusedPairs(Check):
    keys = ("confused_pairs",)
    section = "confused.html"

    def fit_reference(self, data: TrainingData) -> dict[str, np.ndarray]:
        k = data.oof.shape[1]
        confusion = np.zeros((k, k), dtype=np.int64)
        np.add.at(confusion, (data.y_idx, data.oof.argmax(axis=1)), 1)
        return {"confusion": confusion}

    def compute(self, w: Window, cfg: DriftConfig, corrections: list[tuple[str, str]]) -> dict[str, Any]:
        return {"confused_pairs": confused_pairs(w, corrections, cfg)}

    def reasons(self, report: DriftReport) -> list[str]:
        out = []
        for pair in report.section("confused_pairs"):
            if pair["confirmed_by_review"]:
                model = " (the model confuses them too)" if "model" in pair["sources"] else ""
                out.append(
                    f"Reviewers moved {pair['review_corrections']} contacts between '{pair['a_name']}' and "
                    f"'{pair['b_name']}' ({pct(pair['review_correction_rate'])} of their reviews){model}: "
                    "consider merging them or sharpening their guidance"
                )
        return out


def confused_pairs(
    w: Window, corrections: list[tuple[str, str]] | None, cfg: DriftConfig
) -> list[dict[str, Any]]:
    """Merge candidates from the model's out-of-fold confusion and from reviewers' corrections."""
    pairs: dict[tuple[str, str], dict[str, Any]] = {}

    def entry(a: str, b: str) -> dict[str, Any]:
        key = (a, b) if a < b else (b, a)
        return pairs.setdefault(
            key, {"a": key[0], "b": key[1], "a_name": w.name(key[0]), "b_name": w.name(key[1]), "sources": []}
        )

    conf = w.reference.get("confusion")
    if conf is not None:
        support = conf.sum(axis=1)
        both = conf + conf.T
        for i, j in zip(*np.triu_indices(len(w.classes), 1), strict=True):
            total = support[i] + support[j]
            rate = both[i, j] / total if total else 0.0
            if both[i, j] >= 3 and rate >= cfg.model_confusion_rate / 2:
                e = entry(w.classes[i], w.classes[j])
                e.update(model_confusions=int(both[i, j]), model_confusion_rate=_r(rate))
                e["sources"].append("model")
    for e in _review_pairs(corrections or []):
        target = entry(e.pop("a"), e.pop("b"))
        target.update(e)
        target["sources"].append("review")
    out = []
    for e in pairs.values():
        by_model = e.get("model_confusion_rate", 0.0) >= cfg.model_confusion_rate
        by_review = e.get("review_corrections", 0) >= cfg.min_corrections and (
            e.get("review_correction_rate", 0.0) >= cfg.min_correction_rate
        )
        e["merge_candidate"] = bool(by_model or by_review)
        e["confirmed_by_review"] = bool(by_review)
        out.append(e)
    out.sort(key=lambda e: (not e["confirmed_by_review"], -e.get("model_confusion_rate", 0.0), e["a"]))
    return out[:20]


def _review_pairs(corrections: list[tuple[str, str]]) -> list[dict[str, Any]]:
    """Pairs that reviewers moved contacts between, with the rate among reviews touching either of them."""
    involved: Counter[str] = Counter()
    moved: Counter[tuple[str, str]] = Counter()
    for suggested, decided in corrections:
        involved.update({suggested, decided})
        if suggested != decided:
            a, b = sorted((suggested, decided))
            moved[(a, b)] += 1
    out = []
    for (a, b), n in moved.items():
        touching = sum(1 for s, d in corrections if {s, d} & {a, b})
        out.append(
            {"a": a, "b": b, "review_corrections": n, "review_correction_rate": _r(n / max(touching, 1))}
        )
    return out
