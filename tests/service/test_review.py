"""The review queue: ordering, decisions with reviewer and time, the audit trail, conflicts and overrides."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from service_helpers import HEADERS, log_contact, other_than, suggest

REVIEWER = HEADERS["reviewer"]
LOGGER = HEADERS["logger"]


@pytest.fixture
def queued(make_client) -> tuple[TestClient, list[int]]:
    """Three contacts in the queue (every suggestion needs review), logged on different days."""
    client = make_client(review_threshold=1.0)
    ids = []
    for day in ("2026-01-03", "2026-01-01", "2026-01-02"):
        answer = suggest(client, f"My parcel was due on {day} and never came")
        top = answer["suggestions"][0]["id"]
        ids.append(
            log_contact(client, description=top, suggestion_id=answer["suggestion_id"], received_at=day)["id"]
        )
    return client, ids


def queue(client: TestClient, params: str = "") -> dict:
    r = client.get(f"/v1/review?{params}", headers=REVIEWER)
    assert r.status_code == 200, r.text
    return r.json()


def test_pending_first_then_oldest_first(queued) -> None:
    client, contact_ids = queued
    items = queue(client)["items"]
    assert [i["contact"]["id"] for i in items] == contact_ids  # queued in logging order
    assert all(i["status"] == "pending" and i["reason"] == "low_confidence" for i in items)
    assert len(items[0]["suggestions"]) >= 3 and items[0]["decisions"] == []
    first = items[0]["id"]
    r = client.post(f"/v1/review/{first}", json={"description": "late_delivery"}, headers=REVIEWER)
    assert r.status_code == 200
    after = queue(client)
    assert after["pending"] == 2 and after["total"] == 3
    assert [i["id"] for i in after["items"]] == [items[1]["id"], items[2]["id"], first]
    assert [i["id"] for i in queue(client, "status=pending")["items"]] == [items[1]["id"], items[2]["id"]]
    assert [i["id"] for i in queue(client, "status=decided")["items"]] == [first]
    page = queue(client, "limit=1&offset=1")
    assert [i["id"] for i in page["items"]] == [items[2]["id"]] and page["total"] == 3


def test_decision_is_recorded_with_reviewer_and_time(queued) -> None:
    client, contact_ids = queued
    item = queue(client)["items"][0]
    new = other_than(client, [item["contact"]["description"]])
    body = {"description": new, "sentiment": "positive", "note": "customer rang back"}
    r = client.post(f"/v1/review/{item['id']}", json=body, headers=REVIEWER)
    assert r.status_code == 200, r.text
    decided = r.json()
    assert decided["status"] == "decided" and decided["decided_by"] == "bootstrap-reviewer"
    assert decided["decided_at"] is not None
    [decision] = decided["decisions"]
    assert (decision["reviewer"], decision["description"], decision["sentiment"], decision["note"]) == (
        "bootstrap-reviewer",
        new,
        "positive",
        "customer rang back",
    )
    assert decision["override"] is False
    contact = client.get(f"/v1/contacts/{contact_ids[0]}", headers=REVIEWER).json()
    assert contact["description"] == item["contact"]["description"]  # as logged: kept
    assert contact["current_description"] == new and contact["current_sentiment"] == "positive"
    assert contact["current_group"] == client.app.state.model.taxonomy.descriptions[new].group
    assert contact["review_status"] == "decided"


def test_second_decision_conflicts_unless_override(queued) -> None:
    client, contact_ids = queued
    item_id = queue(client)["items"][0]["id"]
    assert (
        client.post(
            f"/v1/review/{item_id}", json={"description": "late_delivery"}, headers=REVIEWER
        ).status_code
        == 200
    )
    analyst = HEADERS["analyst"]
    again = client.post(f"/v1/review/{item_id}", json={"description": "lost_in_transit"}, headers=analyst)
    assert again.status_code == 409
    detail = again.json()["detail"]
    assert f"review item {item_id} was already decided by bootstrap-reviewer at 20" in detail
    assert "override: true" in detail
    trail = client.get(f"/v1/review/{item_id}", headers=REVIEWER).json()
    assert [d["description"] for d in trail["decisions"]] == [
        "late_delivery"
    ]  # the refused one left no trace

    body = {"description": "lost_in_transit", "note": "tracking shows lost", "override": True}
    r = client.post(f"/v1/review/{item_id}", json=body, headers=analyst)
    assert r.status_code == 200
    trail = r.json()
    assert [(d["reviewer"], d["description"], d["override"]) for d in trail["decisions"]] == [
        ("bootstrap-reviewer", "late_delivery", False),
        ("bootstrap-analyst", "lost_in_transit", True),
    ]
    assert trail["decided_by"] == "bootstrap-analyst"
    contact = client.get(f"/v1/contacts/{contact_ids[0]}", headers=REVIEWER).json()
    assert contact["current_description"] == "lost_in_transit"


def test_sentiment_is_kept_when_the_decision_keeps_the_description(queued) -> None:
    client, contact_ids = queued
    item = queue(client)["items"][0]
    client.post(
        f"/v1/review/{item['id']}",
        json={"description": "late_delivery", "sentiment": "neutral"},
        headers=REVIEWER,
    )
    body = {"description": "late_delivery", "override": True}
    client.post(f"/v1/review/{item['id']}", json=body, headers=REVIEWER)
    contact = client.get(f"/v1/contacts/{contact_ids[0]}", headers=REVIEWER).json()
    assert (contact["current_description"], contact["current_sentiment"]) == ("late_delivery", "neutral")


def test_an_override_to_another_description_rescores_the_sentiment(queued) -> None:
    # Behaviour changed in issue 18: the old description's sentiment is not carried to a new description.
    client, contact_ids = queued
    item = queue(client)["items"][0]
    client.post(
        f"/v1/review/{item['id']}",
        json={"description": "late_delivery", "sentiment": "positive"},
        headers=REVIEWER,
    )
    body = {"description": "lost_in_transit", "override": True}
    client.post(f"/v1/review/{item['id']}", json=body, headers=REVIEWER)
    contact = client.get(f"/v1/contacts/{contact_ids[0]}", headers=REVIEWER).json()
    scored = client.post("/v1/suggest", json={"text": contact["text"]}, headers=LOGGER).json()
    assert contact["current_description"] == "lost_in_transit"
    assert contact["current_sentiment"] == scored["sentiment"]["label"]
    # ... unless the reviewer gives one
    body = {"description": "late_delivery", "sentiment": "positive", "override": True}
    client.post(f"/v1/review/{item['id']}", json=body, headers=REVIEWER)
    contact = client.get(f"/v1/contacts/{contact_ids[0]}", headers=REVIEWER).json()
    assert contact["current_sentiment"] == "positive"


def test_a_note_without_a_decision_is_kept_as_a_comment(queued) -> None:
    client, _ = queued
    item = queue(client)["items"][0]
    r = client.post(f"/v1/review/{item['id']}/comments", json={"note": "ask the depot"}, headers=REVIEWER)
    assert r.status_code == 201
    assert r.json()["status"] == "pending"
    assert [(c["author"], c["note"]) for c in r.json()["comments"]] == [
        ("bootstrap-reviewer", "ask the depot")
    ]
    assert client.post("/v1/review/99999/comments", json={"note": "x"}, headers=REVIEWER).status_code == 404
    assert (
        client.post(f"/v1/review/{item['id']}/comments", json={"note": ""}, headers=REVIEWER).status_code
        == 422
    )


def test_a_decision_routes_the_contact_to_the_new_owner(queued) -> None:
    client, contact_ids = queued
    item = queue(client)["items"][0]
    owners = {
        d["id"]: d["owner"]
        for g in client.get("/v1/taxonomy", headers=REVIEWER).json()["groups"]
        for d in g["descriptions"]
    }
    before = client.get(f"/v1/contacts/{contact_ids[0]}", headers=REVIEWER).json()
    assert before["owner"] == before["current_owner"] == (owners[before["description"]] or None)
    target = next(d for d, o in owners.items() if o and o != before["current_owner"])
    client.post(f"/v1/review/{item['id']}", json={"description": target}, headers=REVIEWER)
    after = client.get(f"/v1/contacts/{contact_ids[0]}", headers=REVIEWER).json()
    assert (after["owner"], after["current_owner"]) == (before["owner"], owners[target])
    routed = client.get(f"/v1/owners/{owners[target]}/contacts", headers=REVIEWER).json()
    assert contact_ids[0] in [c["id"] for c in routed["items"]]
    assert all(c["current_owner"] == owners[target] for c in routed["items"])
    listed = client.get("/v1/contacts", params={"owner": owners[target]}, headers=REVIEWER).json()
    assert listed["total"] == routed["total"]
    assert client.get(f"/v1/owners/{owners[target]}/contacts", headers=LOGGER).status_code == 403


def test_queue_depth_is_exported(queued) -> None:
    client, _ = queued
    text = client.get("/metrics").text
    assert "contactlens_review_queue_depth 3.0" in text
    item_id = queue(client)["items"][0]["id"]
    client.post(f"/v1/review/{item_id}", json={"description": "late_delivery"}, headers=REVIEWER)
    assert "contactlens_review_queue_depth 2.0" in client.get("/metrics").text
