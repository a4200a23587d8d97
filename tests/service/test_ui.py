"""The review pages: sign-in and the session cookie, roles, CSRF, and the bad input a reviewer can meet."""

from __future__ import annotations

import base64
import hashlib
import json
import re
import zlib

import pytest
from fastapi.testclient import TestClient
from service_helpers import ANALYST, HEADERS, LOGGER, REVIEWER, log_contact, suggest

CSRF = re.compile(r'name="csrf" value="([^"]+)"')
JSON = {"Accept": "application/json"}


def csrf_of(html: str) -> str:
    found = CSRF.search(html)
    assert found, "no CSRF field on the page"
    return found.group(1)


def cookie_payload(value: str) -> dict:
    """What an itsdangerous cookie carries: signed, readable by anyone (a leading '.' means zlib)."""
    body = value.lstrip(".").split(".")[0]
    raw = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
    return json.loads(zlib.decompress(raw) if value.startswith(".") else raw)


def sign_in(client: TestClient, key: str) -> str:
    """Sign in through the form; returns the session's CSRF token (as the queue page carries it)."""
    r = client.post(
        "/ui/login", data={"key": key, "csrf": csrf_of(client.get("/ui/login").text)}, follow_redirects=False
    )
    assert r.status_code == 303 and r.headers["location"] == "/ui/queue", r.text
    return csrf_of(client.get("/ui/queue").text)


@pytest.fixture
def queued(make_client) -> tuple[TestClient, list[int]]:
    """Three pending review items (every suggestion needs review), oldest first; returns their ids."""
    client = make_client(review_threshold=1.0)
    for text in ("Parcel never came, mail me at jo@example.com", "The till queue was huge", "No refund yet"):
        answer = suggest(client, text)
        top = answer["suggestions"][0]["id"]
        log_contact(client, text=text, description=top, suggestion_id=answer["suggestion_id"], site="Leeds")
    items = client.get("/v1/review?status=pending", headers=HEADERS["reviewer"]).json()["items"]
    return client, [i["id"] for i in items]


def item_ids(html: str) -> list[int]:
    return [int(i) for i in re.findall(r'data-item="(\d+)"', html)]


def decide(client: TestClient, item: int, csrf: str | None, description: str, **extra: str):
    data = {"description": description, **({"csrf": csrf} if csrf else {}), **extra}
    return client.post(f"/ui/review/{item}", data=data, headers=JSON, follow_redirects=False)


def test_sign_in_sets_a_hardened_cookie_without_the_key(client: TestClient) -> None:
    page = client.get("/ui/login")
    assert page.status_code == 200 and 'name="key"' in page.text
    assert (
        page.headers["cache-control"] == "no-store"
        and "frame-ancestors 'none'" in page.headers["content-security-policy"]
    )
    r = client.post("/ui/login", data={"key": REVIEWER, "csrf": csrf_of(page.text)}, follow_redirects=False)
    assert r.status_code == 303
    cookie = r.headers["set-cookie"]
    flags = {part.strip().split("=")[0].lower(): part.strip() for part in cookie.split(";")}
    assert "httponly" in flags and flags["path"] == "Path=/ui"
    assert flags["samesite"].lower() == "samesite=strict"
    data = cookie_payload(cookie.split(";")[0].split("=", 1)[1])
    assert data["n"] == "bootstrap-reviewer" and set(data) == {"n", "f", "c"}
    carried = json.dumps(data)  # neither the key nor its SHA-256 (what the key store holds)
    assert REVIEWER not in carried and hashlib.sha256(REVIEWER.encode()).hexdigest() not in carried
    queue = client.get("/ui/queue")
    assert queue.status_code == 200 and "Review queue" in queue.text and "bootstrap-reviewer" in queue.text
    assert client.get("/ui/login", follow_redirects=False).headers["location"] == "/ui/queue"


def test_sign_out_ends_the_session(client: TestClient) -> None:
    csrf = sign_in(client, ANALYST)
    assert client.get("/ui/logout").status_code == 200  # a page with the sign-out button
    r = client.post("/ui/logout", data={"csrf": csrf}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/ui/login"
    assert 'cl_session=""' in r.headers["set-cookie"] and "Max-Age=0" in r.headers["set-cookie"]
    assert client.get("/ui/queue", follow_redirects=False).headers["location"] == "/ui/login"


def test_not_signed_in_goes_to_the_sign_in_page(client: TestClient) -> None:
    assert client.get("/ui", follow_redirects=False).headers["location"] == "/ui/queue"
    for path in ("/ui/queue", "/ui/taxonomy", "/ui/insights"):
        r = client.get(path, follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"] == "/ui/login", path
    r = client.post("/ui/review/1", data={"description": "late_delivery"}, headers=JSON)
    assert r.status_code == 401 and "not signed in" in r.json()["message"]
    client.cookies.set("cl_session", "forged.value.sig", path="/ui")
    assert client.get("/ui/queue", follow_redirects=False).headers["location"] == "/ui/login"


def test_wrong_key_shows_a_message(client: TestClient) -> None:
    r = client.post("/ui/login", data={"key": "not-a-key", "csrf": csrf_of(client.get("/ui/login").text)})
    assert r.status_code == 401
    assert "That key is not valid, or it has been revoked" in r.text and 'role="alert"' in r.text
    assert "set-cookie" not in r.headers  # still signed out
    assert client.get("/ui/queue", follow_redirects=False).status_code == 303


def test_logger_key_is_refused_at_sign_in(client: TestClient) -> None:
    r = client.post("/ui/login", data={"key": LOGGER, "csrf": csrf_of(client.get("/ui/login").text)})
    assert r.status_code == 403
    assert "has the logger role. The review pages need a reviewer or analyst key" in r.text
    assert client.get("/ui/queue", follow_redirects=False).status_code == 303


def test_a_revoked_key_ends_the_session_at_once(client: TestClient) -> None:
    from service.auth import create_key, revoke_key

    sessions = client.app.state.sessions
    with sessions.begin() as session:
        key = create_key(session, "alice", "reviewer")
    sign_in(client, key)
    assert "alice" in client.get("/ui/queue").text
    with sessions.begin() as session:
        revoke_key(session, "alice")
    r = client.get("/ui/queue", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/ui/login?ended=1"
    assert "Your session ended" in client.get(r.headers["location"]).text
    again = client.post("/ui/login", data={"key": key, "csrf": csrf_of(client.get("/ui/login").text)})
    assert again.status_code == 401 and "revoked" in again.text


def test_insights_are_for_analysts_only(queued, monkeypatch: pytest.MonkeyPatch) -> None:
    from service.ui import views as ui_views

    monkeypatch.setattr(ui_views, "DRIFT_WAIT", 60.0)  # the checks run in a thread: wait for their answer
    client, _ = queued
    sign_in(client, REVIEWER)
    assert 'href="/ui/insights"' not in client.get("/ui/queue").text
    r = client.get("/ui/insights")
    assert r.status_code == 403 and "Analysts only" in r.text and "bootstrap-reviewer (reviewer)" in r.text
    client.cookies.clear()
    sign_in(client, ANALYST)
    page = client.get("/ui/insights")
    assert page.status_code == 200, page.text
    for part in ("Review rate", "Top suggestion accepted", "Contacts per month by group", "drift findings"):
        assert part in page.text, part
    assert "<svg" in page.text and "<td>3</td></tr>" in page.text  # one month, three contacts in all
    # Three contacts are too few for drift checks: the page says so instead of showing findings.
    assert "No drift findings yet:" in page.text
    assert "contacts" in page.text.split("No drift findings yet:")[1]


def test_insights_show_the_latest_drift_findings(queued, monkeypatch: pytest.MonkeyPatch) -> None:
    import contactlens.drift
    from contactlens.drift import DriftReport, WindowInfo
    from service.ui import views as ui_views

    windows, baselines = [], []

    def fake_run_drift(model, frame, baseline=None):
        windows.append(frame)
        baselines.append(baseline)
        cluster = {
            "proposed_name": "Gift card balance",
            "size": 12,
            "share": 0.08,
            "keywords": ["gift", "card", "balance"],
            "examples": ["my gift card shows no balance"],
            "filed_as": {"id": "charged_twice", "name": "Charged twice"},
        }
        reasons = ["8.0% of contacts fit no description", "Possible new description 'Gift card balance'"]
        window = WindowInfo(3, "1", "2026.1", 1752)
        return DriftReport(True, reasons, window, novel_clusters=[cluster])

    monkeypatch.setattr(contactlens.drift, "run_drift", fake_run_drift)
    monkeypatch.setattr(ui_views, "DRIFT_WAIT", 60.0)
    client, _ = queued
    sign_in(client, ANALYST)
    page = client.get("/ui/insights").text
    for part in (
        "Revisit the taxonomy.",
        "Possible new description: Gift card balance",
        "12 contacts (8.0%)",
        "now filed mostly as “Charged twice”",
        "gift, card, balance",
        "my gift card shows no balance",
    ):
        assert part in page, part
    [frame] = windows  # the latest contacts, oldest first, with their dates
    assert (
        list(frame.columns) == ["text", "received_at"]
        and len(frame) == 3
        and frame["received_at"].is_monotonic_increasing
    )
    assert baselines == [None]  # no 100 contacts before them: the training reference alone
    client.get("/ui/insights")
    assert len(windows) == 1  # nothing new since: the findings are kept, not recomputed


def test_every_post_needs_the_csrf_token(queued) -> None:
    client, items = queued
    r = client.post("/ui/login", data={"key": REVIEWER})
    assert r.status_code == 403 and "security token is missing or out of date" in r.text
    csrf = sign_in(client, REVIEWER)
    assert decide(client, items[0], None, "late_delivery").status_code == 403
    form = client.post(f"/ui/review/{items[0]}", data={"description": "late_delivery", "csrf": "wrong"})
    assert form.status_code == 403 and "Request refused" in form.text
    header = client.post(
        f"/ui/review/{items[0]}", data={"description": "late_delivery"}, headers={**JSON, "X-CSRF-Token": "x"}
    )
    assert header.status_code == 403
    assert client.post("/ui/logout", data={"csrf": "wrong"}).status_code == 403
    trail = client.get(f"/v1/review/{items[0]}", headers=HEADERS["reviewer"]).json()
    assert trail["status"] == "pending" and trail["decisions"] == []  # nothing was stored
    with_header = {**JSON, "X-CSRF-Token": csrf}
    ok = client.post(f"/ui/review/{items[0]}", data={"description": "late_delivery"}, headers=with_header)
    assert ok.status_code == 200, ok.text


def test_queue_lists_pending_items_oldest_first_and_a_decision_saves(queued) -> None:
    client, items = queued
    csrf = sign_in(client, REVIEWER)
    page = client.get("/ui/queue").text
    assert item_ids(page) == items
    assert "&lt;EMAIL&gt;" in page and "jo@example.com" not in page  # the redacted verbatim
    assert page.count('class="suggestion"') == 9 and 'data-rank="3"' in page and "Leeds" in page
    assert re.search(r'id="pending-count">3<', page) and re.search(r'id="done-count">0<', page)
    r = decide(client, items[1], csrf, "late_delivery", note="checked the tracking")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["message"] == f'Saved item {items[1]} as "Goods not delivered on time".'
    assert (body["pending"], body["done_today"], body["mine_today"]) == (2, 1, 1)
    [decision] = client.get(f"/v1/review/{items[1]}", headers=HEADERS["reviewer"]).json()["decisions"]
    assert (decision["reviewer"], decision["description"], decision["note"]) == (
        "bootstrap-reviewer",
        "late_delivery",
        "checked the tracking",
    )
    assert item_ids(client.get("/ui/queue").text) == [items[0], items[2]]
    plain = client.post(
        f"/ui/review/{items[0]}", data={"description": "late_delivery", "csrf": csrf}, follow_redirects=False
    )
    assert plain.status_code == 303 and plain.headers["location"] == "/ui/queue"  # without JavaScript


def test_unknown_description_is_refused_with_a_message(queued) -> None:
    client, items = queued
    csrf = sign_in(client, REVIEWER)
    r = decide(client, items[0], csrf, "no_such_thing")
    assert r.status_code == 422
    assert r.json()["message"].startswith("Unknown description id 'no_such_thing' (taxonomy ")
    page = client.post(f"/ui/review/{items[0]}", data={"description": "no_such_thing", "csrf": csrf})
    assert page.status_code == 422 and "Decision not saved" in page.text and "no_such_thing" in page.text
    assert decide(client, items[0], csrf, "  ").json()["message"].startswith("No description chosen")
    assert decide(client, 999, csrf, "late_delivery").status_code == 404
    assert client.get(f"/v1/review/{items[0]}", headers=HEADERS["reviewer"]).json()["status"] == "pending"


def test_already_decided_item_says_who_and_keeps_both_only_on_override(queued) -> None:
    client, items = queued
    csrf = sign_in(client, REVIEWER)
    body = {"description": "lost_in_transit"}
    first = client.post(f"/v1/review/{items[0]}", json=body, headers=HEADERS["analyst"])
    assert first.status_code == 200
    r = decide(client, items[0], csrf, "late_delivery", note="tracking moving")
    assert r.status_code == 409
    conflict = r.json()
    assert conflict["decided_by"] == "bootstrap-analyst" and conflict["decided_at"].endswith(" UTC")
    assert f"Item {items[0]} was already decided by bootstrap-analyst at 20" in conflict["message"]
    assert '"Parcel lost in transit"' in conflict["message"] and "was not saved" in conflict["message"]
    assert conflict["yours"]["id"] == "late_delivery" and conflict["note"] == "tracking moving"
    assert [d["reviewer"] for d in conflict["decisions"]] == ["bootstrap-analyst"]
    page = client.post(f"/ui/review/{items[0]}", data={"description": "late_delivery", "csrf": csrf})
    assert page.status_code == 409 and "already decided by bootstrap-analyst" in page.text
    assert 'name="override" value="true"' in page.text  # the form to keep both
    assert len(client.get(f"/v1/review/{items[0]}", headers=HEADERS["reviewer"]).json()["decisions"]) == 1

    kept = decide(client, items[0], csrf, "late_delivery", note="tracking moving", override="true")
    assert kept.status_code == 200 and "earlier decisions stay on record" in kept.json()["message"]
    trail = client.get(f"/v1/review/{items[0]}", headers=HEADERS["reviewer"]).json()
    assert [(d["reviewer"], d["description"], d["override"]) for d in trail["decisions"]] == [
        ("bootstrap-analyst", "lost_in_transit", False),
        ("bootstrap-reviewer", "late_delivery", True),
    ]


def test_a_decision_with_secondary_descriptions(queued) -> None:
    client, items = queued
    csrf = sign_in(client, REVIEWER)
    page = client.get("/ui/queue").text
    assert 'name="sentiment" class="sentiment"' in page and 'class="also-list"' in page
    also = ["till_queues:negative", "late_delivery", "till_queues", " "]  # the primary, a repeat, a blank
    data = {"description": "late_delivery", "sentiment": "positive", "also": also, "csrf": csrf}
    r = client.post(f"/ui/review/{items[0]}", data=data, headers=JSON)
    assert r.status_code == 200, r.text
    tax = client.app.state.model.taxonomy
    expected = f'Saved item {items[0]} as "{tax.descriptions["late_delivery"].name}" with '
    assert r.json()["message"] == expected + f'"{tax.descriptions["till_queues"].name}".'
    [decision] = client.get(f"/v1/review/{items[0]}", headers=HEADERS["reviewer"]).json()["decisions"]
    assert decision["descriptions"] == [
        {"id": "late_delivery", "sentiment": "positive"},
        {"id": "till_queues", "sentiment": "negative"},
    ]
    contact = client.get(f"/v1/review/{items[0]}", headers=HEADERS["reviewer"]).json()["contact"]
    assert [d["id"] for d in contact["current_descriptions"]] == ["late_delivery", "till_queues"]

    bad = {"description": "late_delivery", "also": ["nope:negative"], "csrf": csrf}
    r = client.post(f"/ui/review/{items[1]}", data=bad, headers=JSON)
    assert r.status_code == 422
    assert r.json()["message"].startswith("Unknown description id 'nope' (taxonomy ")
    bad = {"description": "late_delivery", "also": ["till_queues:furious"], "csrf": csrf}
    r = client.post(f"/ui/review/{items[1]}", data=bad, headers=JSON)
    assert r.status_code == 422 and r.json()["message"].startswith("sentiment: Input should be")
    assert client.get(f"/v1/review/{items[1]}", headers=HEADERS["reviewer"]).json()["decisions"] == []


def test_queue_shows_the_models_decision_and_logged_descriptions(make_client) -> None:
    from sqlalchemy import update

    from contactlens.store import Suggestion

    client = make_client(review_threshold=1.0)
    answer = suggest(client, "Parcel late and the driver was rude")
    log_contact(
        client,
        descriptions=[{"id": "late_delivery"}, {"id": "till_queues", "sentiment": "neutral"}],
        suggestion_id=answer["suggestion_id"],
    )
    decided = [
        {"id": "late_delivery", "confidence": 0.91, "sentiment": "negative"},
        {"id": "driver_conduct", "confidence": 0.62, "sentiment": None},
    ]
    with client.app.state.sessions.begin() as session:
        session.execute(
            update(Suggestion).where(Suggestion.id == answer["suggestion_id"]).values(descriptions=decided)
        )
    sign_in(client, REVIEWER)
    page = client.get("/ui/queue").text
    tax = client.app.state.model.taxonomy
    block = page.split('class="model-decision"')[1].split("</dl>")[0]
    assert "Model&#39;s decision" in page or "Model's decision" in page
    assert tax.descriptions["late_delivery"].name in block and "91%, negative" in block
    assert tax.descriptions["driver_conduct"].name in block and "62%<" in block
    assert 'aria-keyshortcuts="m"' in page  # the button (and key) that accepts the model's decision
    model_attr = re.search(r"data-model='([^']*)'", page)
    assert model_attr is not None
    assert [d["id"] for d in json.loads(model_attr.group(1).replace("&#34;", '"'))] == [
        "late_delivery",
        "driver_conduct",
    ]
    logged = page.split("Logged as")[1].split("</dd>")[0]
    assert "+ " + tax.descriptions["till_queues"].name in logged and "(neutral)" in logged


def test_taxonomy_page_lists_descriptions_and_filters(client: TestClient) -> None:
    sign_in(client, REVIEWER)
    page = client.get("/ui/taxonomy").text
    tax = client.app.state.model.taxonomy
    assert f"{len(tax.descriptions)} of {len(tax.descriptions)} descriptions shown" in page
    late = tax.descriptions["late_delivery"]
    assert late.name in page and late.owner in page and "Promised next day delivery" in page
    filtered = client.get("/ui/taxonomy?q=carrier%20confirms").text
    visible = r'<article class="description[^"]*" id="desc-([\w.\-]+)"\s+data-search="[^"]*"\s*>'
    shown = re.findall(visible, filtered)
    assert "lost_in_transit" in shown and "late_delivery" not in shown
    assert f"{len(shown)} of {len(tax.descriptions)} descriptions shown" in filtered


def test_a_note_without_a_decision_is_kept_as_a_comment(queued) -> None:
    client, items = queued
    csrf = sign_in(client, REVIEWER)
    r = decide(client, items[0], csrf, "", note="waiting for the depot to call back")
    assert r.status_code == 200 and r.json()["comment"] is True
    item = client.get(f"/v1/review/{items[0]}", headers=HEADERS["reviewer"]).json()
    assert item["status"] == "pending" and item["decisions"] == []
    assert [c["note"] for c in item["comments"]] == ["waiting for the depot to call back"]
    assert decide(client, items[0], csrf, "").status_code == 422  # neither a choice nor a note


def test_insights_take_a_date_range_compare_months_and_export_csv(queued) -> None:
    client, _ = queued
    sign_in(client, ANALYST)
    page = client.get("/ui/insights")
    assert page.status_code == 200 and "Month by month" in page.text and 'name="from"' in page.text
    assert "moved most" in page.text
    empty = client.get("/ui/insights?from=2001-01-01&to=2001-01-31")
    assert empty.status_code == 200 and "No contacts in this range." in empty.text
    assert client.get("/ui/insights?from=2026-02-01&to=2026-01-01").status_code == 422
    assert client.get("/ui/insights?from=yesterday").status_code == 422
    csv = client.get("/ui/insights.csv")
    assert csv.status_code == 200 and csv.headers["content-type"].startswith("text/csv")
    header, *rows = csv.text.splitlines()
    assert header.startswith("period,value,contacts,share") and sum(int(r.split(",")[2]) for r in rows) == 3


def test_the_queue_explains_each_suggestion(queued) -> None:
    client, _ = queued
    sign_in(client, REVIEWER)
    page = client.get("/ui/queue").text
    assert page.count("Why these suggestions") == 3
    assert "Like: “" in page  # nearest training examples of the suggested description
