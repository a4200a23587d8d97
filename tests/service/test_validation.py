"""Bad input never gets a 500: each gets 422 with a message naming the field."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from service_helpers import HEADERS, log_contact, suggest

LONG = "parcel late " * 834  # 10,008 characters
CONTACT = {"text": "Sofa is late", "channel": "phone", "description": "late_delivery"}

# (case id, method, path, JSON body or raw string, role, the field the message must name)
CASES = [
    ("empty text", "POST", "/v1/suggest", {"text": ""}, "logger", "text"),
    ("whitespace text", "POST", "/v1/suggest", {"text": " \n\t  "}, "logger", "text"),
    ("text over 10,000 chars", "POST", "/v1/suggest", {"text": LONG}, "logger", "text"),
    ("NUL in text", "POST", "/v1/suggest", {"text": "late\x00parcel"}, "logger", "text"),
    ("bell control char", "POST", "/v1/suggest", {"text": "late \x07 parcel"}, "logger", "text"),
    ("C1 control char", "POST", "/v1/suggest", {"text": "late \x85\x9b parcel"}, "logger", "text"),
    ("missing text", "POST", "/v1/suggest", {"channel": "email"}, "logger", "text"),
    ("text not a string", "POST", "/v1/suggest", {"text": 123}, "logger", "text"),
    ("top_k not a number", "POST", "/v1/suggest", {"text": "late", "top_k": "many"}, "logger", "top_k"),
    ("top_k 0", "POST", "/v1/suggest", {"text": "late", "top_k": 0}, "logger", "top_k"),
    ("top_k 11", "POST", "/v1/suggest", {"text": "late", "top_k": 11}, "logger", "top_k"),
    ("unknown channel", "POST", "/v1/suggest", {"text": "late", "channel": "pigeon"}, "logger", "channel"),
    ("unknown field", "POST", "/v1/suggest", {"text": "late", "topk": 3}, "logger", "topk"),
    ("invalid JSON", "POST", "/v1/suggest", '{"text": "late",', "logger", "body"),
    ("JSON not an object", "POST", "/v1/suggest", "[1, 2]", "logger", "body"),
    ("batch over 256", "POST", "/v1/suggest/batch", {"texts": ["late"] * 257}, "logger", "texts"),
    ("empty batch", "POST", "/v1/suggest/batch", {"texts": []}, "logger", "texts"),
    ("batch not a list", "POST", "/v1/suggest/batch", {"texts": "late"}, "logger", "texts"),
    ("batch item NUL", "POST", "/v1/suggest/batch", {"texts": ["ok", "a\x00b"]}, "logger", "texts.1"),
    ("batch item blank", "POST", "/v1/suggest/batch", {"texts": ["ok", "ok", " "]}, "logger", "texts.2"),
    ("batch item too long", "POST", "/v1/suggest/batch", {"texts": ["ok", LONG]}, "logger", "texts.1"),
    (
        "unknown description",
        "POST",
        "/v1/contacts",
        CONTACT | {"description": "alien_abduction"},
        "logger",
        "description",
    ),
    (
        "contact unknown channel",
        "POST",
        "/v1/contacts",
        CONTACT | {"channel": "carrier_pigeon"},
        "logger",
        "channel",
    ),
    (
        "contact missing channel",
        "POST",
        "/v1/contacts",
        {"text": "late", "description": "late_delivery"},
        "logger",
        "channel",
    ),
    (
        "contact unknown sentiment",
        "POST",
        "/v1/contacts",
        CONTACT | {"sentiment": "furious"},
        "logger",
        "sentiment",
    ),
    ("contact empty text", "POST", "/v1/contacts", CONTACT | {"text": "  "}, "logger", "text"),
    ("contact text too long", "POST", "/v1/contacts", CONTACT | {"text": LONG}, "logger", "text"),
    ("contact NUL", "POST", "/v1/contacts", CONTACT | {"text": "x\x00"}, "logger", "text"),
    (
        "unparseable received_at",
        "POST",
        "/v1/contacts",
        CONTACT | {"received_at": "31/31/2026"},
        "logger",
        "received_at",
    ),
    (
        "received_at wrong type",
        "POST",
        "/v1/contacts",
        CONTACT | {"received_at": [2026]},
        "logger",
        "received_at",
    ),
    (
        "unknown suggestion_id",
        "POST",
        "/v1/contacts",
        CONTACT | {"suggestion_id": "0" * 32},
        "logger",
        "suggestion_id",
    ),
    ("contact invalid JSON", "POST", "/v1/contacts", "{text: late}", "logger", "body"),
    ("unparseable from", "GET", "/v1/contacts?from=yesterday", None, "logger", "from"),
    ("impossible to", "GET", "/v1/contacts?to=2026-02-30", None, "logger", "to"),
    ("filter unknown channel", "GET", "/v1/contacts?channel=pigeon", None, "logger", "channel"),
    ("filter unknown sentiment", "GET", "/v1/contacts?sentiment=meh", None, "logger", "sentiment"),
    ("limit too big", "GET", "/v1/contacts?limit=100000", None, "logger", "limit"),
    ("negative offset", "GET", "/v1/contacts?offset=-1", None, "logger", "offset"),
    ("contact id not a number", "GET", "/v1/contacts/abc", None, "logger", "contact_id"),
    ("report unknown by", "GET", "/v1/reports/summary?by=weather", None, "analyst", "by"),
    ("report unparseable from", "GET", "/v1/reports/summary?from=2026-1-1x", None, "analyst", "from"),
    (
        "review id not a number",
        "POST",
        "/v1/review/first",
        {"description": "late_delivery"},
        "reviewer",
        "item_id",
    ),
    ("review unknown status", "GET", "/v1/review?status=maybe", None, "reviewer", "status"),
]


@pytest.mark.parametrize(
    ("method", "path", "body", "role", "field"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_bad_input_is_422_naming_the_field(client: TestClient, method, path, body, role, field) -> None:
    headers = {**HEADERS[role], "Content-Type": "application/json"}
    if isinstance(body, str):
        r = client.request(method, path, content=body, headers=headers)
    else:
        r = client.request(method, path, json=body, headers=headers)
    assert r.status_code == 422, r.text
    payload = r.json()
    assert payload["message"].startswith(f"field '{field}'"), payload["message"]
    assert isinstance(payload["detail"], list) and payload["detail"]
    assert LONG not in r.text  # verbatims are personal data: never echoed back


def test_messages_say_what_is_wrong(client: TestClient) -> None:
    def message(body) -> str:
        return client.post("/v1/suggest", json=body, headers=HEADERS["logger"]).json()["message"]

    assert "must not be empty" in message({"text": "   "})
    assert "control character (U+0000 at position 4)" in message({"text": "late\x00"})
    assert "10008 characters long, at most 10000" in message({"text": LONG})
    bad_json = client.post(
        "/v1/suggest", content="{oops", headers={**HEADERS["logger"], "Content-Type": "application/json"}
    )
    assert "invalid JSON at position 1" in bad_json.json()["message"]


def test_exactly_10000_chars_and_256_texts_are_accepted(client: TestClient) -> None:
    r = client.post("/v1/suggest", json={"text": "x" * 10_000}, headers=HEADERS["logger"])
    assert r.status_code == 200
    r = client.post(
        "/v1/suggest/batch", json={"texts": ["late parcel"] * 256, "top_k": 1}, headers=HEADERS["logger"]
    )
    assert r.status_code == 200 and len(r.json()["results"]) == 256


def test_text_limit_is_a_setting(make_client) -> None:
    client = make_client(max_text_chars=100)
    r = client.post("/v1/suggest", json={"text": "y" * 101}, headers=HEADERS["logger"])
    assert r.status_code == 422 and "at most 100 are allowed" in r.json()["message"]


def test_review_decision_with_unknown_description(client: TestClient) -> None:
    answer = suggest(client, "Where is my parcel, it is a week late")
    wrong = next(
        d
        for d in client.app.state.model.taxonomy.active_ids
        if d not in {s["id"] for s in answer["suggestions"]}
    )
    log_contact(client, description=wrong, suggestion_id=answer["suggestion_id"])
    item = client.get("/v1/review", headers=HEADERS["reviewer"]).json()["items"][0]
    r = client.post(f"/v1/review/{item['id']}", json={"description": "nope"}, headers=HEADERS["reviewer"])
    assert r.status_code == 422
    version = client.app.state.model.taxonomy.version
    assert r.json()["message"] == f"field 'description': unknown description id 'nope' (taxonomy {version})"
    r = client.post(
        f"/v1/review/{item['id']}",
        json={"description": wrong, "sentiment": "angry"},
        headers=HEADERS["reviewer"],
    )
    assert r.status_code == 422 and r.json()["message"].startswith("field 'sentiment'")
    assert client.get(f"/v1/review/{item['id']}", headers=HEADERS["reviewer"]).json()["decisions"] == []


def test_unknown_ids_are_404(client: TestClient) -> None:
    r = client.get("/v1/contacts/999", headers=HEADERS["logger"])
    assert r.status_code == 404 and r.json()["detail"] == "no contact with id 999"
    r = client.post("/v1/review/999", json={"description": "late_delivery"}, headers=HEADERS["reviewer"])
    assert r.status_code == 404 and r.json()["detail"] == "no review item with id 999"


# ------------------------------------------------------------------------------- several descriptions

# (case id, the body's label fields, the exact one-line message); {v} is the taxonomy version
DESCRIPTION_CASES = [
    (
        "unknown id",
        {"descriptions": [{"id": "late_delivery"}, {"id": "xyz"}]},
        "field 'descriptions.1.id': unknown description id 'xyz' (taxonomy {v})",
    ),
    (
        "retired id",
        {"descriptions": [{"id": "late_delivery"}, {"id": "promotion_query"}]},
        "field 'descriptions.1.id': description 'promotion_query' is retired in taxonomy {v}",
    ),
    (
        "repeated id",
        {"descriptions": [{"id": "late_delivery"}, {"id": "till_queues"}, {"id": "late_delivery"}]},
        "field 'descriptions.2.id': 'late_delivery' is already listed as descriptions.0: "
        "list each description once",
    ),
    (
        "repeated once migrated",
        {"descriptions": [{"id": "lost_in_transit"}, {"id": "parcel_lost"}]},
        "field 'descriptions.1.id': 'parcel_lost' (now 'lost_in_transit') is already listed as "
        "descriptions.0: list each description once",
    ),
    (
        "empty list",
        {"descriptions": []},
        "field 'descriptions': is empty: list at least one description, the primary first",
    ),
    (
        "unknown sentiment",
        {"descriptions": [{"id": "late_delivery"}, {"id": "till_queues", "sentiment": "furious"}]},
        "field 'descriptions.1.sentiment': Input should be 'negative', 'neutral' or 'positive'",
    ),
    (
        "item not an object",
        {"descriptions": ["late_delivery"]},
        "field 'descriptions.0': Input should be a valid dictionary or object to extract fields from",
    ),
    (
        "unknown item field",
        {"descriptions": [{"id": "late_delivery", "sentimnet": "negative"}]},
        "field 'descriptions.0.sentimnet': Extra inputs are not permitted",
    ),
    (
        "description is not the first",
        {"description": "till_queues", "descriptions": [{"id": "late_delivery"}, {"id": "till_queues"}]},
        "field 'description': 'till_queues' is not the first of descriptions ('late_delivery'): the first "
        "is the primary; send one of them or make them agree",
    ),
    (
        "primary sentiment twice",
        {"sentiment": "positive", "descriptions": [{"id": "late_delivery", "sentiment": "negative"}]},
        "field 'sentiment': 'positive' differs from descriptions.0.sentiment 'negative' (both are the "
        "primary's)",
    ),
    (
        "neither",
        {"sentiment": "positive"},
        "field 'description': give the description id, or a list of them as descriptions",
    ),
]


@pytest.fixture
def retired_without_migration(make_client, monkeypatch: pytest.MonkeyPatch) -> TestClient:
    """Every contact with a suggestion queued; the served taxonomy without the promotion_query migration,
    so that id is plainly retired."""
    client = make_client(review_threshold=1.0)
    tax = client.app.state.model.taxonomy
    monkeypatch.setattr(tax, "migrations", [m for m in tax.migrations if m.source != "promotion_query"])
    return client


def stored_counts(client: TestClient) -> tuple[int, ...]:
    from sqlalchemy import func, select

    from contactlens.store import Contact, ContactDescription, ReviewDecision

    with client.app.state.sessions() as session:
        return tuple(
            session.scalar(select(func.count()).select_from(t)) or 0
            for t in (Contact, ContactDescription, ReviewDecision)
        )


@pytest.mark.parametrize(
    ("labels", "message"), [c[1:] for c in DESCRIPTION_CASES], ids=[c[0] for c in DESCRIPTION_CASES]
)
def test_bad_descriptions_are_422_and_nothing_is_stored(retired_without_migration, labels, message) -> None:
    client = retired_without_migration
    expected = message.format(v=client.app.state.model.taxonomy.version)
    answer = suggest(client, "Parcel late and the queue was long")
    before = stored_counts(client)
    body = {
        "text": "Parcel late and the queue was long",
        "channel": "web",
        "suggestion_id": answer["suggestion_id"],
    }
    r = client.post("/v1/contacts", json=body | labels, headers=HEADERS["logger"])
    assert r.status_code == 422, r.text
    assert r.json()["message"] == expected and r.json()["detail"]
    assert stored_counts(client) == before
    # The same rules for a review decision; the item stays pending and the contact keeps its labels.
    contact = log_contact(client, description="till_queues", suggestion_id=answer["suggestion_id"])
    items = client.get("/v1/review?status=pending", headers=HEADERS["reviewer"]).json()["items"]
    item = next(i for i in items if i["contact"]["id"] == contact["id"])
    before = stored_counts(client)
    r = client.post(f"/v1/review/{item['id']}", json=labels, headers=HEADERS["reviewer"])
    assert r.status_code == 422, r.text
    assert r.json()["message"] == expected
    assert stored_counts(client) == before
    after = client.get(f"/v1/contacts/{contact['id']}", headers=HEADERS["reviewer"]).json()
    assert after == contact and after["current_descriptions"] == [{"id": "till_queues", "sentiment": None}]
    assert after["review_status"] == "pending"


def test_too_many_descriptions(client: TestClient) -> None:
    ids = client.app.state.model.taxonomy.active_ids[:21]
    r = client.post(
        "/v1/contacts",
        json={"text": "x", "channel": "web", "descriptions": [{"id": d} for d in ids]},
        headers=HEADERS["logger"],
    )
    assert r.status_code == 422 and r.json()["message"].startswith(
        "field 'descriptions': List should have at most 20"
    )
