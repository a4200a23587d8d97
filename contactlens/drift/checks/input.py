"""Input drift: do the window's contacts read differently from the training data (domain classifier, MMD)?"""

from __future__ import annotations

from typing import Any

from contactlens.drift import stats as ds
from contactlens.drift.base import Check, DriftConfig, Row, Window, p_text
from contactlens.drift.result import DriftReport


class InputDrift(Check):
    keys = ("input_drift",)

    def compute(self, w: Window, cfg: DriftConfig, corrections: list[tuple[str, str]]) -> dict[str, Any]:
        return {"input_drift": input_drift(w, cfg)}

    def reasons(self, report: DriftReport) -> list[str]:
        inp = report.section("input_drift")
        if not inp["detected"]:
            return []
        dc, mmd = inp["domain_classifier"], inp["mmd"]
        evidence = []
        if dc["detected"]:
            evidence.append(
                f"a classifier tells them apart with AUC {dc['auc']:.2f}, "
                f"chance gives up to {dc['auc_threshold']:.2f}"
            )
        if mmd["detected"]:
            evidence.append(f"maximum mean discrepancy {p_text(mmd['p_value'])}")
        return [f"The contacts read differently from the training data ({'; '.join(evidence)})"]

    def evidence(self, report: DriftReport) -> Row:
        inp = report.section("input_drift")
        dc, mmd = inp["domain_classifier"], inp["mmd"]
        return Row(
            "Input drift",
            inp["detected"],
            f"domain classifier AUC {dc['auc']:.3f} (alarm above {dc['auc_threshold']:.3f}, permutation p "
            f"{dc['p_value']:.3f}); MMD² {mmd['mmd2']:.5f}, p {mmd['p_value']:.3f}",
        )


def input_drift(w: Window, cfg: DriftConfig) -> dict[str, Any]:
    """Domain classifier AUC against its permutation threshold, and MMD with a permutation p-value."""
    ref = w.reference["sample_embeddings"]
    common = {"max_n": min(cfg.max_reference, cfg.max_window), "seed": cfg.seed}
    clf = ds.domain_classifier_test(
        ref, w.embeddings, n_permutations=cfg.classifier_permutations, alpha=cfg.alpha / 2, **common
    )
    mmd = ds.mmd_test(ref, w.embeddings, n_permutations=cfg.mmd_permutations, **common)
    clf["min_auc"], mmd["min_mmd2"] = cfg.min_auc, cfg.min_mmd2
    clf["detected"] = bool(clf["detected"] and clf["auc"] >= cfg.min_auc)
    significant = mmd["p_value"] <= cfg.alpha / 2 + 1e-12 and cfg.mmd_permutations >= 2 / cfg.alpha
    mmd["detected"] = bool(significant and mmd["mmd2"] >= cfg.min_mmd2)
    return {"detected": bool(clf["detected"] or mmd["detected"]), "domain_classifier": clf, "mmd": mmd}
