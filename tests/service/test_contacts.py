"""Suggest and log contacts: the stored record, redaction, filters, paging, what joins the review queue."""

from __future__ import annotations

from fastapi.testclient import TestClient
from service_helpers import HEADERS, log_contact, other_than, suggest

PII = "Call me on 07700 900123 or mail jo.bloggs@example.com, my parcel never arrived"


def test_suggest_explains_each_suggestion_when_asked(client: TestClient) -> None:
    r = client.post(
        "/v1/suggest?explain=true",
        json={"text": "My parcel is late again", "top_k": 2},
        headers=HEADERS["logger"],
    )
    assert r.status_code == 200, r.text
    answer = r.json()
    assert [e["id"] for e in answer["explanations"]] == [s["id"] for s in answer["suggestions"]]
    assert all(len(e["examples"]) <= 3 and e["terms"] is not None for e in answer["explanations"])
    assert answer["explanations"][0]["examples"] and answer["explanation_note"] is None


def test_suggest_answers_the_documented_shape(client: TestClient) -> None:
    answer = suggest(client, PII, top_k=2, channel="email")
    assert set(answer) == {
        "suggestion_id",
        "suggestions",
        "descriptions",
        "sentiment",
        "needs_review",
        "redacted_text",
        "model_version",
        "taxonomy_version",
        "explanations",  # issue 18: null unless explain=true
        "explanation_note",
    }
    assert answer["explanations"] is None and answer["explanation_note"] is None
    assert len(answer["suggestions"]) == 2
    assert set(answer["suggestions"][0]) == {"id", "name", "group", "group_id", "owner", "confidence"}
    confidences = [s["confidence"] for s in answer["suggestions"]]
    assert confidences == sorted(confidences, reverse=True) and 0 < confidences[0] <= 1
    assert answer["sentiment"]["label"] in ("negative", "neutral", "positive")
    for d in answer["descriptions"]:  # the multi-label decision (a single-label model: the top one alone)
        assert set(d) == {"id", "name", "group", "group_id", "owner", "confidence", "sentiment"}
        assert 0 < d["confidence"] <= 1 and d["sentiment"]["label"] in ("negative", "neutral", "positive")
    assert "<PHONE>" in answer["redacted_text"] and "<EMAIL>" in answer["redacted_text"]
    assert "07700" not in answer["redacted_text"]
    model = client.app.state.model
    assert answer["model_version"] == model.version and answer["taxonomy_version"] == model.taxonomy.version
    assert len(answer["suggestion_id"]) == 32


def test_needs_review_follows_the_threshold(make_client) -> None:
    always = make_client(review_threshold=1.0)
    assert suggest(always, "My parcel never arrived")["needs_review"] is True
    never = make_client(review_threshold=0.0)
    assert suggest(never, "My parcel never arrived")["needs_review"] is False


def test_default_threshold_is_the_models(client: TestClient) -> None:
    r = client.get("/v1/model", headers=HEADERS["logger"]).json()
    model = client.app.state.model
    assert r["review_threshold"] == model.review_threshold == model.metadata["review_threshold"]
    assert r["metrics"]["validation"]["accuracy"] > 0.5
    assert r["taxonomy_version"] == model.taxonomy.version and r["descriptions"] == len(model.classes)


def test_batch_matches_single(client: TestClient) -> None:
    texts = ["My sofa arrived scratched", "The app keeps crashing at checkout", "Thanks, great service!"]
    r = client.post("/v1/suggest/batch", json={"texts": texts, "top_k": 1}, headers=HEADERS["logger"])
    assert r.status_code == 200
    results = r.json()["results"]
    assert len(results) == 3 and len({x["suggestion_id"] for x in results}) == 3
    for text, result in zip(texts, results, strict=True):
        single = suggest(client, text, top_k=1)
        assert result["suggestions"][0]["id"] == single["suggestions"][0]["id"]
        assert len(result["suggestions"]) == 1


def test_logged_contact_is_stored_redacted(client: TestClient) -> None:
    answer = suggest(client, PII)
    top = answer["suggestions"][0]["id"]
    body = {"text": PII, "channel": "phone", "site": "Leeds", "received_at": "2026-03-01T09:30:00+01:00"}
    created = log_contact(
        client, description=top, sentiment="negative", suggestion_id=answer["suggestion_id"], **body
    )
    assert created["text"] == answer["redacted_text"] and created["text_redacted"] is True
    assert created["received_at"] == "2026-03-01T08:30:00"  # stored as UTC
    assert created["logged_by"] == "bootstrap-logger"
    assert created["current_group"] == client.app.state.model.taxonomy.descriptions[top].group
    assert created["review_status"] in ("none", "pending")
    fetched = client.get(f"/v1/contacts/{created['id']}", headers=HEADERS["reviewer"]).json()
    assert fetched == created


def test_raw_text_is_kept_only_when_configured(make_client) -> None:
    client = make_client(store_raw_text=True)
    created = log_contact(client, text=PII, description="lost_in_transit")
    assert created["text"] == PII and created["text_redacted"] is False


def test_a_suggestion_is_answered_once(client: TestClient) -> None:
    answer = suggest(client, "Parcel is late again")
    first = log_contact(client, description="late_delivery", suggestion_id=answer["suggestion_id"])
    r = client.post(
        "/v1/contacts",
        json={
            "text": "dup",
            "channel": "web",
            "description": "late_delivery",
            "suggestion_id": answer["suggestion_id"],
        },
        headers=HEADERS["logger"],
    )
    assert r.status_code == 409
    assert (
        r.json()["detail"]
        == f"suggestion {answer['suggestion_id']} was already logged as contact {first['id']}"
    )


def test_review_queue_entry_rules(make_client) -> None:
    confident = make_client(review_threshold=0.0)
    followed = suggest(confident, "My parcel never arrived")
    top = followed["suggestions"][0]["id"]
    assert (
        log_contact(confident, description=top, suggestion_id=followed["suggestion_id"])["review_status"]
        == "none"
    )
    ignored = suggest(confident, "My parcel never arrived")
    changed = log_contact(
        confident, description=other_than(confident, [top]), suggestion_id=ignored["suggestion_id"]
    )
    assert changed["review_status"] == "pending"
    assert (
        log_contact(confident, description=top)["review_status"] == "none"
    )  # no suggestion: nothing to doubt

    doubtful = make_client(review_threshold=1.0)
    answer = suggest(doubtful, "My parcel never arrived")
    top = answer["suggestions"][0]["id"]
    assert (
        log_contact(doubtful, description=top, suggestion_id=answer["suggestion_id"])["review_status"]
        == "pending"
    )
    reasons = [i["reason"] for i in confident.get("/v1/review", headers=HEADERS["reviewer"]).json()["items"]]
    reasons += [i["reason"] for i in doubtful.get("/v1/review", headers=HEADERS["reviewer"]).json()["items"]]
    assert reasons == ["disagreement", "low_confidence"]


def test_filters_and_paging(client: TestClient) -> None:
    rows = [
        ("2026-01-05T10:00:00", "late_delivery", "email", "Leeds", "negative"),
        ("2026-01-10T10:00:00", "late_delivery", "phone", "Leeds", "neutral"),
        ("2026-01-31T23:59:00", "damaged_on_arrival", "email", "York", "negative"),
        ("2026-02-01T00:00:00", "lost_in_transit", "letter", "York", None),
        ("2026-02-15T12:00:00", "late_delivery", "email", None, "positive"),
    ]
    ids = [
        log_contact(client, received_at=at, description=d, channel=ch, site=site, sentiment=s)["id"]
        for at, d, ch, site, s in rows
    ]

    def query(params: str) -> dict:
        r = client.get(f"/v1/contacts?{params}", headers=HEADERS["reviewer"])
        assert r.status_code == 200, r.text
        return r.json()

    def found(params: str) -> list[int]:
        return [c["id"] for c in query(params)["items"]]

    assert found("") == ids[::-1]  # newest first
    assert found("from=2026-01-10&to=2026-01-31") == [ids[2], ids[1]]  # a bare `to` date includes that day
    assert found("from=2026-01-10T10:00:01&to=2026-02-01T00:00:00") == [ids[2]]
    assert found("description=late_delivery") == [ids[4], ids[1], ids[0]]
    assert found("group=delivery&channel=email") == [ids[4], ids[2], ids[0]]
    assert found("site=York") == [ids[3], ids[2]]
    assert found("sentiment=negative") == [ids[2], ids[0]]
    assert found("description=late_delivery&site=Leeds&sentiment=neutral") == [ids[1]]
    page = query("limit=2&offset=2")
    assert page["total"] == 5 and page["limit"] == 2 and page["offset"] == 2
    assert [c["id"] for c in page["items"]] == [ids[2], ids[1]]
    assert query("limit=2&offset=10")["items"] == []
    assert query("description=late_delivery&limit=1")["total"] == 3


def test_old_description_ids_are_migrated_on_logging(client: TestClient) -> None:
    tax = client.app.state.model.taxonomy
    old = next(m.source for m in tax.migrations if m.source not in tax.descriptions)
    created = log_contact(client, description=old)
    assert created["description"] == tax.migrate(old) != old
