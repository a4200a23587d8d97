"""The review queue: ordering, decisions with reviewer and time, the audit trail, conflicts and overrides."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from service_helpers import HEADERS, log_contact, other_than, suggest

REVIEWER = HEADERS["reviewer"]


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
    # Each is queued for low confidence; a contact may also fit no description (issue 13).
    assert all(i["status"] == "pending" and i["reason"].startswith("low_confidence") for i in items)
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


def test_sentiment_is_kept_when_the_decision_leaves_it_out(queued) -> None:
    client, contact_ids = queued
    item = queue(client)["items"][0]
    client.post(
        f"/v1/review/{item['id']}",
        json={"description": "late_delivery", "sentiment": "neutral"},
        headers=REVIEWER,
    )
    body = {"description": "lost_in_transit", "override": True}
    client.post(f"/v1/review/{item['id']}", json=body, headers=REVIEWER)
    contact = client.get(f"/v1/contacts/{contact_ids[0]}", headers=REVIEWER).json()
    assert (contact["current_description"], contact["current_sentiment"]) == ("lost_in_transit", "neutral")


def test_queue_depth_is_exported(queued) -> None:
    client, _ = queued
    text = client.get("/metrics").text
    assert "contactlens_review_queue_depth 3.0" in text
    item_id = queue(client)["items"][0]["id"]
    client.post(f"/v1/review/{item_id}", json={"description": "late_delivery"}, headers=REVIEWER)
    assert "contactlens_review_queue_depth 2.0" in client.get("/metrics").text
