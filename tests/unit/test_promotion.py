"""The promotion gate on hand-made evaluations: each bound blocks on its own, and passes at its edge."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from contactlens.results import Evaluation
from training.promotion import GatePolicy, description_table, f1_changes, gate, summary_table

# A whole evaluate JSON (the sample model on data/test.csv, tables cut short); each test sets what it judges.
BASE = Evaluation.from_dict(json.loads((Path(__file__).parent / "golden_evaluation.json").read_text()))


def metrics(accuracy: float, ece: float = 0.05, **f1: tuple[float, int]) -> Evaluation:
    """An evaluation with per-description F1 given as name=(f1, support)."""
    per = {d: {"precision": f, "recall": f, "f1": f, "support": s} for d, (f, s) in f1.items()}
    return replace(BASE, n=100, accuracy=accuracy, macro_f1=accuracy, ece=ece, per_description=per)


CHAMPION = metrics(0.80, late=(0.80, 30), lost=(0.70, 30), rare=(0.90, 3))


def test_a_better_challenger_passes_and_says_why():
    passed, reasons = gate(CHAMPION, metrics(0.85, late=(0.85, 30), lost=(0.72, 30), rare=(0.90, 3)))
    assert passed
    assert any("gain +0.0500" in r for r in reasons)
    assert any(r.startswith("ECE") for r in reasons)


def test_no_gain_is_refused_even_with_a_zero_margin():
    passed, reasons = gate(CHAMPION, metrics(0.80, late=(0.80, 30), lost=(0.70, 30)))
    assert not passed
    assert reasons == ["held-out accuracy 0.8000 -> 0.8000 (gain +0.0000, required > 0 and >= 0.0000)"]


@pytest.mark.parametrize(("gain", "ok"), [(0.019, False), (0.02, True), (0.03, True)])
def test_the_accuracy_margin_is_configurable(gain: float, ok: bool):
    challenger = metrics(0.80 + gain, late=(0.80, 30), lost=(0.70, 30))
    passed, _ = gate(CHAMPION, challenger, GatePolicy(min_gain=0.02 - 1e-9))
    assert passed is ok


def test_a_description_losing_too_much_f1_blocks_promotion():
    challenger = metrics(0.90, late=(0.95, 30), lost=(0.55, 30))
    passed, reasons = gate(CHAMPION, challenger, GatePolicy(max_f1_drop=0.10))
    assert not passed
    assert reasons == ["description lost F1 0.700 -> 0.550 (drop 0.150 > 0.100, support 30)"]
    assert gate(CHAMPION, challenger, GatePolicy(max_f1_drop=0.20))[0]


def test_descriptions_with_little_support_are_not_judged_one_by_one():
    challenger = metrics(0.90, late=(0.85, 30), lost=(0.75, 30), rare=(0.0, 3))
    assert gate(CHAMPION, challenger, GatePolicy(min_support=10))[0]
    passed, reasons = gate(CHAMPION, challenger, GatePolicy(min_support=3))
    assert not passed and "description rare F1 0.900 -> 0.000" in reasons[0]


def test_a_description_the_challenger_never_predicts_counts_as_f1_zero():
    challenger = metrics(0.90, late=(0.85, 30))
    passed, reasons = gate(CHAMPION, challenger)
    assert not passed and "description lost F1 0.700 -> 0.000" in reasons[0]


def test_calibration_may_not_worsen_beyond_the_bound():
    worse = metrics(0.85, ece=0.08, late=(0.85, 30), lost=(0.70, 30))
    passed, reasons = gate(CHAMPION, worse, GatePolicy(max_ece_increase=0.02))
    assert not passed
    assert reasons == ["ECE 0.0500 -> 0.0800 (increase +0.0300, allowed 0.0200)"]
    assert gate(CHAMPION, worse, GatePolicy(max_ece_increase=0.031))[0]


def test_the_golden_set_guards_against_regressions():
    better = metrics(0.85, late=(0.85, 30), lost=(0.70, 30))
    passed, reasons = gate(CHAMPION, better, GatePolicy(), metrics(0.95), metrics(0.90))
    assert not passed and reasons == ["golden accuracy 0.9500 -> 0.9000 (drop +0.0500, allowed 0.0200)"]
    assert gate(CHAMPION, better, GatePolicy(), metrics(0.95), metrics(0.94))[0]


def test_every_failed_check_is_listed():
    bad = metrics(0.70, ece=0.20, late=(0.50, 30), lost=(0.40, 30))
    passed, reasons = gate(CHAMPION, bad)
    assert not passed
    assert [r.split(" ")[0] for r in reasons] == ["held-out", "description", "description", "ECE"]


def test_f1_changes_are_sorted_largest_drop_first():
    after = metrics(0.9, late=(0.95, 30), lost=(0.60, 30), rare=(1.0, 3))
    rows = f1_changes(CHAMPION.per_description, after.per_description, min_support=1)
    assert [r["description"] for r in rows] == ["lost", "rare", "late"]
    assert rows[0]["change"] == pytest.approx(-0.10)


def test_notebook_tables_from_a_record():
    record = {
        "metrics": {
            "heldout": {
                "champion": CHAMPION.to_dict(),
                "challenger": metrics(0.85, late=(0.85, 30), lost=(0.60, 30)).to_dict(),
            },
            "golden": None,
        }
    }
    summary = summary_table(record)
    assert set(summary["set"]) == {"heldout"}
    acc = summary[summary["metric"] == "accuracy"].iloc[0]
    assert acc["change"] == pytest.approx(0.05)
    table = description_table(record, "heldout", min_support=10)
    assert table["description"].tolist() == ["lost", "late"]
    assert description_table(record, "golden").empty
