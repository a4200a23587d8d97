"""Several descriptions per contact: the model's decision in /v1/suggest, logging, review, the stored sets."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pytest
from fastapi.testclient import TestClient
from service_helpers import HEADERS, log_contact, suggest, written_suggestions
from sqlalchemy import select

from contactlens import results
from contactlens.store import ContactDescription, ReviewDecision, Suggestion

REVIEWER = HEADERS["reviewer"]


def rows(client: TestClient, model: type, *where: Any) -> list[Any]:
    written_suggestions(client)  # suggestion logs are written behind the answer
    with client.app.state.sessions() as session:
        return list(session.scalars(select(model).where(*where)))


def stored_sets(client: TestClient, contact_id: int) -> dict[str, list[tuple[str, str | None, str | None]]]:
    found = rows(client, ContactDescription, ContactDescription.contact_id == contact_id)
    out: dict[str, list[tuple[str, str | None, str | None]]] = {}
    for r in sorted(found, key=lambda r: (r.kind, r.position)):
        out.setdefault(r.kind, []).append((r.description_id, r.group_id, r.sentiment))
    return out


@pytest.fixture
def decide_as(monkeypatch: pytest.MonkeyPatch) -> Callable[..., None]:
    """Make the served model's multi-label decision `ids` (with sentiments), or drop it (None)."""

    def patch(client: TestClient, decided: list[tuple[str, str | None]] | None) -> None:
        model = client.app.state.model
        real = type(model).suggest

        def suggest(texts: list[str], *args: Any, **kwargs: Any) -> list[results.Suggestion]:
            chosen = None
            if decided is not None:
                chosen = tuple(
                    results.DecidedDescription(
                        id=did,
                        name=model.taxonomy.descriptions[did].name,
                        group="g",
                        group_id=model.taxonomy.descriptions[did].group,
                        owner=model.taxonomy.descriptions[did].owner,
                        confidence=0.9 - 0.1 * i,
                        sentiment=results.Sentiment(s, 0.8) if s else None,
                    )
                    for i, (did, s) in enumerate(decided)
                )
            return [replace(item, descriptions=chosen) for item in real(model, texts, *args, **kwargs)]

        monkeypatch.setattr(model, "suggest", suggest)

    return patch


def test_suggest_gives_the_models_decision_and_stores_it(client: TestClient) -> None:
    text = "The sofa came two weeks late and the driver was rude to my mother"
    answer = suggest(client, text, top_k=1)
    model = client.app.state.model
    [expected] = model.suggest([text], top_k=3)
    wanted = expected.descriptions or ()
    assert [(d["id"], d["confidence"]) for d in answer["descriptions"]] == [
        (d.id, d.confidence) for d in wanted
    ]
    if expected.descriptions is not None and not model.multilabel:  # single-label: its top suggestion alone
        assert [d["id"] for d in answer["descriptions"]] == [answer["suggestions"][0]["id"]]
    for d in answer["descriptions"]:
        assert d["name"] == model.taxonomy.descriptions[d["id"]].name and 0 < d["confidence"] <= 1
    [row] = rows(client, Suggestion, Suggestion.id == answer["suggestion_id"])
    kept = [
        {
            "id": d["id"],
            "confidence": d["confidence"],
            "sentiment": d["sentiment"]["label"] if d["sentiment"] else None,
        }
        for d in answer["descriptions"]
    ]
    assert row.descriptions == (kept if expected.descriptions is not None else None)


def test_a_model_without_a_decision_gives_an_empty_list(client: TestClient, decide_as) -> None:
    decide_as(client, None)
    answer = suggest(client, "Parcel is late")
    assert answer["descriptions"] == []
    [row] = rows(client, Suggestion, Suggestion.id == answer["suggestion_id"])
    assert row.descriptions is None
    batch = client.post("/v1/suggest/batch", json={"texts": ["a", "b"]}, headers=HEADERS["logger"]).json()
    assert [r["descriptions"] for r in batch["results"]] == [[], []]


def test_batch_carries_each_decision(client: TestClient, decide_as) -> None:
    decide_as(client, [("late_delivery", "negative"), ("driver_conduct", None)])
    r = client.post("/v1/suggest/batch", json={"texts": ["late", "rude"]}, headers=HEADERS["logger"])
    for result in r.json()["results"]:
        assert [(d["id"], d["sentiment"]) for d in result["descriptions"]] == [
            ("late_delivery", {"label": "negative", "confidence": 0.8}),
            ("driver_conduct", None),
        ]


def test_a_contact_logged_with_several_descriptions(client: TestClient) -> None:
    tax = client.app.state.model.taxonomy
    created = log_contact(
        client,
        text="Sofa two weeks late, but the driver was lovely",
        descriptions=[{"id": "late_delivery", "sentiment": "negative"}, {"id": "driver_conduct"}],
        sentiment="negative",
        description="late_delivery",
    )
    assert (created["description"], created["sentiment"]) == ("late_delivery", "negative")
    both = [{"id": "late_delivery", "sentiment": "negative"}, {"id": "driver_conduct", "sentiment": None}]
    assert created["descriptions"] == both and created["current_descriptions"] == both
    assert created["current_group"] == "delivery"
    stored = stored_sets(client, created["id"])
    groups = [tax.descriptions[d].group for d in ("late_delivery", "driver_conduct")]
    expected = [("late_delivery", groups[0], "negative"), ("driver_conduct", groups[1], None)]
    assert stored == {"current": expected, "logged": expected}
    assert client.get(f"/v1/contacts/{created['id']}", headers=REVIEWER).json() == created
    # The description filter finds a contact by any of its descriptions.
    found = client.get("/v1/contacts?description=driver_conduct", headers=REVIEWER).json()["items"]
    assert [c["id"] for c in found] == [created["id"]]


def test_sentiment_of_the_primary_and_old_ids(client: TestClient) -> None:
    created = log_contact(
        client,
        descriptions=[{"id": "parcel_lost"}, {"id": "staff_compliment", "sentiment": "positive"}],
        sentiment="negative",
    )
    assert created["descriptions"] == [
        {"id": "lost_in_transit", "sentiment": "negative"},  # migrated; `sentiment` is the primary's
        {"id": "staff_compliment", "sentiment": "positive"},
    ]
    assert (created["description"], created["sentiment"]) == ("lost_in_transit", "negative")
    alone = log_contact(client, descriptions=[{"id": "till_queues", "sentiment": "neutral"}])
    assert (alone["description"], alone["sentiment"], alone["review_status"]) == (
        "till_queues",
        "neutral",
        "none",
    )


def test_review_reasons_for_several_descriptions(make_client, decide_as) -> None:
    """Queued when the logged set differs from the model's decision; a single description as before."""
    client = make_client(review_threshold=0.0)

    def logged(ids: list[str], decided: list[str] | None) -> dict[str, Any]:
        decide_as(client, None if decided is None else [(d, None) for d in decided])
        answer = suggest(client, "My parcel came late and the box was crushed")
        top = answer["suggestions"][0]["id"]
        chosen = [top if d == "TOP" else d for d in ids]
        body = [{"id": d} for d in chosen]
        return log_contact(client, descriptions=body, suggestion_id=answer["suggestion_id"])

    top_id = suggest(client, "My parcel came late and the box was crushed")["suggestions"][0]["id"]
    other = next(d for d in ("damaged_on_arrival", "late_delivery") if d != top_id)
    third = "driver_conduct"
    same = logged(["TOP", other], [top_id, other])
    reordered_in_model = logged(["TOP", other], [other, top_id])  # a set: order aside
    extra = logged(["TOP", other, third], [top_id, other])
    missing = logged(["TOP"], [top_id, other])  # one description: the primary rules alone
    unknown = logged(["TOP", third], None)  # no decision stored: nothing to compare
    swapped = logged([other, "TOP"], [top_id, other])  # same set, but the primary is not the top one
    statuses = [c["review_status"] for c in (same, reordered_in_model, extra, missing, unknown, swapped)]
    assert statuses == ["none", "none", "pending", "none", "none", "pending"]
    reasons = {
        i["contact"]["id"]: i["reason"] for i in client.get("/v1/review", headers=REVIEWER).json()["items"]
    }
    assert reasons == {extra["id"]: "descriptions_differ", swapped["id"]: "disagreement"}


def test_a_review_decision_with_several_descriptions(make_client) -> None:
    client = make_client(review_threshold=1.0)
    answer = suggest(client, "Refund still not here and the returns desk was rude")
    created = log_contact(
        client, description="refund_not_received", sentiment="negative", suggestion_id=answer["suggestion_id"]
    )
    [item] = client.get("/v1/review", headers=REVIEWER).json()["items"]
    [stored] = rows(client, Suggestion, Suggestion.id == answer["suggestion_id"])
    assert item["model_descriptions"] == (stored.descriptions or [])
    body = {
        "descriptions": [{"id": "refund_not_received"}, {"id": "staff_rude", "sentiment": "negative"}],
        "note": "two things",
    }
    r = client.post(f"/v1/review/{item['id']}", json=body, headers=REVIEWER)
    assert r.status_code == 200, r.text
    [decision] = r.json()["decisions"]
    assert (decision["description"], decision["sentiment"]) == ("refund_not_received", None)
    assert decision["descriptions"] == [
        {"id": "refund_not_received", "sentiment": None},
        {"id": "staff_rude", "sentiment": "negative"},
    ]
    contact = client.get(f"/v1/contacts/{created['id']}", headers=REVIEWER).json()
    assert contact["descriptions"] == [{"id": "refund_not_received", "sentiment": "negative"}]  # as logged
    assert contact["current_descriptions"] == [
        {"id": "refund_not_received", "sentiment": "negative"},  # the primary keeps the contact's sentiment
        {"id": "staff_rude", "sentiment": "negative"},
    ]
    assert contact["current_group"] == "returns"

    again = {"descriptions": [{"id": "staff_rude", "sentiment": "negative"}], "override": True}
    r = client.post(f"/v1/review/{item['id']}", json=again, headers=HEADERS["analyst"])
    assert r.status_code == 200, r.text
    trail = r.json()["decisions"]
    assert [[d["id"] for d in t["descriptions"]] for t in trail] == [
        ["refund_not_received", "staff_rude"],
        ["staff_rude"],
    ]
    contact = client.get(f"/v1/contacts/{created['id']}", headers=REVIEWER).json()
    assert contact["current_descriptions"] == [{"id": "staff_rude", "sentiment": "negative"}]
    assert (contact["current_description"], contact["current_group"]) == ("staff_rude", "store")
    assert stored_sets(client, created["id"])["current"] == [("staff_rude", "store", "negative")]
    audit = rows(client, ReviewDecision, ReviewDecision.review_item_id == item["id"])
    assert [a.description_id for a in audit] == ["refund_not_received", "staff_rude"]
