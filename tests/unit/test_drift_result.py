"""The typed drift report: `to_dict()` gives exactly the drift JSON's keys, in order, and reads back."""

from __future__ import annotations

import json
from dataclasses import FrozenInstanceError, replace
from typing import Any

import numpy as np
import pytest

from contactlens.drift import REPORT_KEYS, DriftReport, NoveltySummary, WindowInfo, to_jsonable

# The drift JSON's top level, key for key and in order: the README's contract, then the novelty summary, the
# window and the mix over time (`contactlens drift --json`, `GET /v1/drift`).
DRIFT_KEYS = [
    "revisit_taxonomy",
    "reasons",
    "input_drift",
    "mix_drift",
    "confidence_drift",
    "novel_clusters",
    "unused_descriptions",
    "confused_pairs",
    "split_candidates",
    "novelty",
    "window",
    "mix_by_month",
]
NOVELTY_KEYS = [
    "detected",
    "detected_by",
    "n_novel",
    "share",
    "reference_share",
    "p_value",
    "distance_test",
    "min_cluster_size",
    "examples",
    "baseline",  # None unless the window was compared with a baseline period
]
WINDOW_KEYS = ["n_contacts", "model_version", "taxonomy_version", "n_reference"]


def novelty(**changes: object) -> NoveltySummary:
    base = NoveltySummary(
        detected=True,
        detected_by=["rate", "clusters"],
        n_novel=np.int64(40),  # type: ignore[arg-type]  # as the checks compute it
        share=0.1,
        reference_share=0.04,
        p_value=1e-6,
        distance_test={"p_value": np.float64(0.02), "novel_share_estimate": float("nan")},
        min_cluster_size=8,
        examples=["my gift card shows no balance"],
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def report(**changes: object) -> DriftReport:
    base = DriftReport(
        revisit_taxonomy=True,
        reasons=["10.0% of contacts fit no description"],
        window=WindowInfo(400, "3", "2026.1", 1752),
        input_drift={"detected": False, "domain_classifier": {"auc": 0.55}, "mmd": {"p_value": 0.4}},
        mix_drift={"detected": False, "descriptions": [], "groups": []},
        confidence_drift={"detected": False, "p_value": 0.3},
        novelty=novelty(),
        novel_clusters=[{"proposed_name": "Gift card balance", "size": 12, "rows": [3, 7]}],
        unused_descriptions=[],
        confused_pairs=[],
        split_candidates=[],
        mix_by_month=None,
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def test_the_drift_json_has_the_contract_keys_in_order() -> None:
    out: dict[str, Any] = report().to_dict()
    assert list(out) == DRIFT_KEYS
    assert list(out)[: len(REPORT_KEYS)] == list(REPORT_KEYS) == DRIFT_KEYS[:9]
    assert list(out["novelty"]) == NOVELTY_KEYS
    assert list(out["window"]) == WINDOW_KEYS
    assert out["mix_by_month"] is None  # a window without dates: null, not left out
    # Plain JSON: numpy scalars become Python numbers, NaN becomes null.
    text = json.dumps(out, allow_nan=False)
    assert json.loads(text)["novelty"]["n_novel"] == 40
    assert out["novelty"]["distance_test"] == {"p_value": 0.02, "novel_share_estimate": None}
    assert type(out["novelty"]["n_novel"]) is int


def test_the_window_names_its_dates_from_and_to_and_leaves_out_what_it_lacks() -> None:
    window = WindowInfo(400, "3", "2026.1", 1752, "2026-10-01", "2026-10-31", 450, 2)
    assert window.to_dict() == {
        "n_contacts": 400,
        "model_version": "3",
        "taxonomy_version": "2026.1",
        "n_reference": 1752,
        "from": "2026-10-01",
        "to": "2026-10-31",
        "n_in_window": 450,
        "reviewer_no_fit": 2,
    }
    assert WindowInfo.from_dict(window.to_dict()) == window
    assert list(WindowInfo(5, "3", "2026.1", 10, n_in_window=9).to_dict()) == [*WINDOW_KEYS, "n_in_window"]


def test_a_check_that_did_not_run_is_left_out_and_extra_sections_follow_novelty() -> None:
    extra = {"long_contacts": {"x": 1}}
    custom = report(split_candidates=None, novelty=None, novel_clusters=None, extra=extra)
    out = custom.to_dict()
    assert "split_candidates" not in out and "novelty" not in out and "novel_clusters" not in out
    assert list(out)[-3:] == ["long_contacts", "window", "mix_by_month"]
    assert custom.section("long_contacts") == {"x": 1}
    assert custom.section("confused_pairs") == []  # an empty table is a finding of none, not missing
    with pytest.raises(KeyError, match="split_candidates"):
        custom.section("split_candidates")
    with pytest.raises(KeyError, match="nothing_like_it"):
        custom.section("nothing_like_it")
    assert list(report(extra={"long_contacts": {}}).to_dict())[-4:-2] == ["novelty", "long_contacts"]


def test_a_report_reads_back_from_its_json_and_is_frozen() -> None:
    original = report(mix_by_month={"months": ["2026-09", "2026-10"], "contacts": [200, 200]})
    plain = json.loads(json.dumps(original.to_dict()))
    back = DriftReport.from_dict(plain)
    assert back.to_dict() == plain and list(back.to_dict()) == DRIFT_KEYS
    assert isinstance(back.novelty, NoveltySummary) and back.novelty.detected_by == ["rate", "clusters"]
    assert back.window.n_contacts == 400 and back.section("novel_clusters")[0]["rows"] == [3, 7]
    with pytest.raises(ValueError, match="missing keys .*window"):
        DriftReport.from_dict({k: v for k, v in plain.items() if k != "window"})
    with pytest.raises(FrozenInstanceError):
        original.revisit_taxonomy = False  # type: ignore[misc]


def test_the_verdict_is_whether_there_are_reasons() -> None:
    calm = report().with_reasons([])
    assert calm.revisit_taxonomy is False and calm.reasons == []
    assert report(revisit_taxonomy=False).with_reasons(["one"]).revisit_taxonomy is True
    assert to_jsonable(calm) == calm.to_dict()
