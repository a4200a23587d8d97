"""The typed results: `to_dict()` gives exactly the JSON keys of the contract, and the one review rule."""

from __future__ import annotations

import json
from dataclasses import FrozenInstanceError, fields, replace
from pathlib import Path

import numpy as np
import pytest

from contactlens import results
from contactlens.model import needs_review as model_needs_review
from contactlens.model import review_reasons as model_review_reasons

# The README's suggest answer, key for key and in order (the service adds suggestion_id and the versions).
SUGGESTION_KEYS = [
    "suggestions",
    "descriptions",
    "sentiment",
    "needs_review",
    "fits_no_description",
    "novelty_score",
    "review_reasons",
    "redacted_text",
]
RANKED_KEYS = ["id", "name", "group", "group_id", "owner", "confidence"]
DECIDED_KEYS = [*RANKED_KEYS, "sentiment"]


def ranked(did: str = "late_delivery", confidence: float = 0.8) -> results.RankedDescription:
    return results.RankedDescription(did, "Late delivery", "Delivery", "delivery", "Logistics", confidence)


def answer(**changes: object) -> results.Suggestion:
    tone = results.Sentiment("negative", 0.9)
    decided = results.DecidedDescription(
        "late_delivery", "Late delivery", "Delivery", "delivery", "Logistics", 0.8, tone
    )
    base = results.Suggestion(
        suggestions=(ranked(), ranked("lost_in_transit", 0.1)),
        descriptions=(decided,),
        sentiment=tone,
        needs_review=False,
        fits_no_description=False,
        novelty_score=0.12,
        review_reasons=(),
        redacted_text="my parcel is late",
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def test_a_suggestion_gives_the_contract_keys_in_order() -> None:
    out = answer().to_dict()
    assert list(out) == SUGGESTION_KEYS
    assert [list(s) for s in out["suggestions"]] == [RANKED_KEYS, RANKED_KEYS]  # type: ignore[union-attr]
    assert [list(d) for d in out["descriptions"]] == [DECIDED_KEYS]  # type: ignore[union-attr]
    assert out["descriptions"][0]["sentiment"] == {"label": "negative", "confidence": 0.9}  # type: ignore[index]
    assert out["sentiment"] == {"label": "negative", "confidence": 0.9}
    assert out["review_reasons"] == [] and out["novelty_score"] == 0.12
    assert json.loads(json.dumps(out)) == out  # plain JSON: no tuples, no numpy


def test_explanations_and_an_absent_decision_change_the_keys_as_before() -> None:
    why = results.Explanation(
        "late_delivery",
        (results.ExplanationExample("parcel still not here", 0.91),),
        (results.ExplanationTerm("parcel", 0.3),),
    )
    explained = answer(explanations=(why,), explanation_note=None).to_dict()
    assert list(explained) == [*SUGGESTION_KEYS, "explanations", "explanation_note"]
    assert explained["explanations"] == [
        {
            "id": "late_delivery",
            "examples": [{"text": "parcel still not here", "similarity": 0.91}],
            "terms": [{"term": "parcel", "weight": 0.3}],
        }
    ]
    undecided = answer(descriptions=None, sentiment=None)
    assert list(undecided.to_dict()) == [k for k in SUGGESTION_KEYS if k != "descriptions"]
    assert undecided.to_dict()["sentiment"] is None and undecided.brief_decision() is None


def test_the_stored_decision_keeps_id_confidence_and_sentiment_label() -> None:
    assert answer().brief_decision() == [{"id": "late_delivery", "confidence": 0.8, "sentiment": "negative"}]
    silent = replace(answer().descriptions[0], sentiment=None)  # type: ignore[index]
    assert silent.brief() == {"id": "late_delivery", "confidence": 0.8, "sentiment": None}


def test_results_are_frozen() -> None:
    with pytest.raises(FrozenInstanceError):
        answer().needs_review = True  # type: ignore[misc]


def test_the_api_schema_holds_exactly_the_suggestion_keys() -> None:
    from service.schemas import SuggestResponse

    added_by_the_service = {"suggestion_id", "model_version", "taxonomy_version"}
    explained = set(SUGGESTION_KEYS) | {"explanations", "explanation_note"}
    assert set(SuggestResponse.model_fields) == explained | added_by_the_service


# ----------------------------------------------------------------------------------- the one review rule


@pytest.mark.parametrize(
    ("confidence", "fits_none", "review", "reasons"),
    [
        (0.9, False, False, []),
        (0.5, False, False, []),  # at the threshold: confident enough
        (0.49, False, True, ["low_confidence"]),
        (0.9, True, True, ["fits_no_description"]),
        (0.1, True, True, ["low_confidence", "fits_no_description"]),
    ],
)
def test_the_review_rule_and_its_reasons(
    confidence: float, fits_none: bool, review: bool, reasons: list
) -> None:
    flags, why = results.review_decisions(np.array([confidence]), np.array([fits_none]), 0.5)
    assert bool(flags[0]) is review and why == [reasons]
    assert bool(results.needs_review(np.array([confidence]), np.array([fits_none]), 0.5)[0]) is review


def test_without_novelty_evidence_only_confidence_counts() -> None:
    conf = np.array([0.2, 0.7])
    assert results.needs_review(conf, None, 0.5).tolist() == [True, False]
    assert results.review_decisions(conf, None, 0.5)[1] == [["low_confidence"], []]


def test_the_rule_is_the_one_the_model_module_exports() -> None:
    assert model_needs_review is results.needs_review and model_review_reasons is results.review_reasons


# ---------------------------------------------------------------------------------------------- evaluate

# The evaluate JSON's keys in order (README "evaluate"); the ones in brackets only when they apply.
EVALUATION_KEYS = [
    "n",
    "accuracy",
    "macro_f1",
    "top3_accuracy",
    "ece",
    "accuracy_at_coverage_80",
    "coverage_at_accuracy_97",
    "per_description",
    "confused_pairs",
    "reliability",
    "group_accuracy",
    "per_group",
    "review_threshold",
    "review_rate",
    "fits_no_description_rate",
    "accuracy_when_not_reviewed",
    "accuracy_when_not_reviewed_target",
    "slice_short_texts",  # [texts of 5 words or fewer]
    "per_channel",  # [a channel column]
    "sentiment_accuracy",  # [labelled sentiment], with the next two
    "sentiment_macro_f1",
    "sentiment_ece",
    "multilabel_micro_f1",
    "multilabel_macro_f1",
    "exact_match",
    "labels_per_contact",
    "multilabel_per_description",
    "multilabel_ece",  # [any decision]
    "sentiment_per_description_accuracy",
    "sentiment_per_description_n",
    "sentiment_per_description_accuracy_multi",
    "sentiment_per_description_multi_n",
    "label_audit",
]
SOMETIMES = {
    "group_accuracy",
    "per_group",
    "slice_short_texts",
    "per_channel",
    "sentiment_accuracy",
    "sentiment_macro_f1",
    "sentiment_ece",
    "multilabel_ece",
}
GOLDEN = Path(__file__).parent / "golden_evaluation.json"


def test_an_evaluation_round_trips_its_json_key_for_key() -> None:
    golden = json.loads(GOLDEN.read_text())  # written by evaluate before the typed result
    evaluation = results.Evaluation.from_dict(golden)
    assert evaluation.to_dict() == golden
    assert list(evaluation.to_dict()) == [k for k in EVALUATION_KEYS if k in golden]
    assert evaluation.label_audit.rows[0]["given"] == "service_compliment"
    assert [f.name for f in fields(results.Evaluation)] == EVALUATION_KEYS
    assert results.Evaluation.OPTIONAL == SOMETIMES


def test_sections_that_do_not_apply_are_left_out_but_null_figures_stay() -> None:
    evaluation = results.Evaluation.from_dict(json.loads(GOLDEN.read_text()))
    bare = replace(
        evaluation,
        per_channel=None,
        sentiment_accuracy=None,
        sentiment_macro_f1=None,
        sentiment_ece=None,
        accuracy_when_not_reviewed=None,
        label_audit=results.LabelAudit(0, [], "fewer than 2 of the model's descriptions in the file"),
    )
    out = bare.to_dict()
    assert not {"per_channel", "sentiment_accuracy", "slice_short_texts"} & set(out)
    assert out["accuracy_when_not_reviewed"] is None  # a figure with no value is written as null
    assert out["label_audit"] == {
        "label_issues": 0,
        "rows": [],
        "note": "fewer than 2 of the model's descriptions in the file",
    }
    assert results.Evaluation.from_dict(out) == bare


def test_a_dict_that_is_not_an_evaluation_is_refused() -> None:
    golden = json.loads(GOLDEN.read_text())
    with pytest.raises(ValueError, match="unknown keys \\['accuracy_typo'\\]"):
        results.Evaluation.from_dict({**golden, "accuracy_typo": 1.0})
    with pytest.raises(ValueError, match="missing keys \\['ece'\\]"):
        results.Evaluation.from_dict({k: v for k, v in golden.items() if k != "ece"})
