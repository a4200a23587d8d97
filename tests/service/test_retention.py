"""Personal data on both back ends: stored text fully redacted; the purge, the right to erasure, the audit
trail, the daily purge's lease; short fields validated."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from datetime import datetime

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from service_helpers import HEADERS, log_contact, suggest
from typer.testing import CliRunner

from contactlens.retention import TABLES, purge, scheduled_purge
from contactlens.store import Contact, RetentionAudit, make_engine, session_factory, upgrade

CUTOFF = datetime(2021, 1, 1)


def _old_and_new(client: TestClient) -> dict[str, int]:
    """Two contacts received in 2020 (one from a suggestion, queued for review, decided with a note) and
    one received now, also from a suggestion."""
    s = suggest(client, "my parcel was due on monday and still nothing")
    other = next(x["id"] for x in s["suggestions"][1:])  # not the top one: queued as a disagreement
    queued = log_contact(
        client, suggestion_id=s["suggestion_id"], description=other, received_at="2020-03-01T10:00:00"
    )
    item = client.get("/v1/review", headers=HEADERS["reviewer"]).json()["items"][0]
    r = client.post(
        f"/v1/review/{item['id']}",
        json={"description": "late_delivery", "note": "rang Mrs Okafor on 07700 900123"},
        headers=HEADERS["reviewer"],
    )
    assert r.status_code == 200, r.text
    plain = log_contact(client, description="late_delivery", received_at="2020-06-01T10:00:00")
    s2 = suggest(client, "refund still not here")
    new = log_contact(client, suggestion_id=s2["suggestion_id"], description=s2["suggestions"][0]["id"])
    return {"queued": queued["id"], "plain": plain["id"], "new": new["id"]}


def test_stored_text_and_review_notes_get_the_full_pass(make_client: Callable[..., TestClient]) -> None:
    client = make_client()
    said = "I want to complain about Oluwaseun Adebayo at your Croydon store, DOB 01/02/1980"
    stored = log_contact(client, text=said, description="staff_rude")
    assert stored["text"] == "I want to complain about <NAME> at your Croydon store, DOB <DOB>"
    answer = suggest(client, said)  # the suggest path's rule pass: not stored, no NER
    assert "<DOB>" in answer["redacted_text"] and "Adebayo" in answer["redacted_text"]
    ids = _old_and_new(client)  # its review decision's note names someone and gives a phone number
    items = client.get("/v1/review", headers=HEADERS["reviewer"]).json()["items"]
    item = next(i for i in items if i["contact"]["id"] == ids["queued"])
    assert item["decisions"][0]["note"] == "rang Mrs <NAME> on <PHONE>"


def _count(client: TestClient, table: str) -> int:
    with client.app.state.engine.connect() as conn:  # type: ignore[attr-defined]
        return conn.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar_one()


def test_purge_deletes_old_contacts_with_what_derives_from_them(
    make_client: Callable[..., TestClient], database_url: str
) -> None:
    client = make_client(database_url=database_url)
    ids = _old_and_new(client)
    sessions = client.app.state.sessions  # type: ignore[attr-defined]
    assert _count(client, "review_decisions") == 1
    before = {t: _count(client, t) for t in TABLES}

    expected = {
        "review_decisions": 1,
        "review_items": 1,
        "contact_descriptions": 4,  # logged + current for each of the two old contacts
        "contacts": 2,
        "suggestions": 1,
    }
    assert purge(sessions, CUTOFF, "test", dry_run=True) == expected
    assert {t: _count(client, t) for t in TABLES} == before  # a dry run deletes nothing
    assert _count(client, "retention_audit") == 0

    assert purge(sessions, CUTOFF, "test", batch_size=1) == expected  # one contact a transaction
    assert {t: before[t] - _count(client, t) for t in TABLES} == expected
    listed = client.get("/v1/contacts", headers=HEADERS["analyst"]).json()
    assert [c["id"] for c in listed["items"]] == [ids["new"]]
    summary = client.get("/v1/reports/summary?by=group", headers=HEADERS["analyst"])
    assert summary.status_code == 200 and sum(r["contacts"] for r in summary.json()["rows"]) == 1
    with sessions() as session:
        audit = session.scalars(sa.select(RetentionAudit)).one()
    assert (audit.actor, audit.action, audit.cutoff, audit.contacts) == ("test", "purge", CUTOFF, 2)
    assert audit.counts == expected
    assert purge(sessions, CUTOFF, "test") == dict.fromkeys(TABLES, 0)  # nothing left to purge


def test_erasure_removes_one_contact_and_is_audited(
    make_client: Callable[..., TestClient], database_url: str
) -> None:
    client = make_client(database_url=database_url)
    ids = _old_and_new(client)
    path = f"/v1/contacts/{ids['queued']}"
    assert client.delete(path, headers=HEADERS["logger"]).status_code == 403
    assert client.delete(path, headers=HEADERS["reviewer"]).status_code == 403
    r = client.delete(path, headers=HEADERS["analyst"])
    assert r.status_code == 200, r.text
    assert r.json() == {
        "contact_id": ids["queued"],
        "deleted": {
            "review_decisions": 1,
            "review_items": 1,
            "contact_descriptions": 2,
            "contacts": 1,
            "suggestions": 1,
        },
    }
    assert client.get(path, headers=HEADERS["analyst"]).status_code == 404
    assert client.delete(path, headers=HEADERS["analyst"]).status_code == 404
    assert client.get(f"/v1/contacts/{ids['plain']}", headers=HEADERS["analyst"]).status_code == 200
    assert _count(client, "contacts") == 2
    with client.app.state.sessions() as session:  # type: ignore[attr-defined]
        audit = session.scalars(sa.select(RetentionAudit)).one()
    assert (audit.action, audit.contact_id, audit.contacts, audit.cutoff) == (
        "erasure",
        ids["queued"],
        1,
        None,
    )
    assert audit.actor  # the analyst key's name


def test_daily_purge_runs_once_however_many_workers_try(database_url: str) -> None:
    engine = make_engine(database_url)
    try:
        upgrade(engine)
        sessions = session_factory(engine)
        with sessions.begin() as session:
            session.add(
                Contact(
                    text="t",
                    text_redacted=True,
                    channel="email",
                    received_at=datetime(2015, 1, 1),
                    logged_by="x",
                    description_id="late_delivery",
                    current_description_id="late_delivery",
                    current_group_id="delivery",
                )
            )
        results: list[object] = []
        barrier = threading.Barrier(3)

        def worker() -> None:
            barrier.wait()
            results.append(scheduled_purge(sessions, retention_days=1095))

        threads = [threading.Thread(target=worker) for _ in range(3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        ran = [r for r in results if r is not None]
        assert len(results) == 3 and len(ran) == 1
        assert ran[0]["contacts"] == 1  # type: ignore[index]
        assert scheduled_purge(sessions, retention_days=1095) is None  # the same day: not again
        with sessions() as session:
            audits = session.scalars(sa.select(RetentionAudit)).all()
        assert [(a.action, a.actor, a.contacts) for a in audits] == [("scheduled_purge", "scheduler", 1)]
    finally:
        engine.dispose()


def test_purge_command_prints_json_counts(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    from contactlens.cli import app
    from contactlens.settings import get_settings

    url = f"sqlite:///{tmp_path / 'cli.db'}"
    monkeypatch.setenv("CONTACTLENS_DATABASE_URL", url)
    get_settings.cache_clear()
    engine = make_engine(url)
    upgrade(engine)
    with session_factory(engine).begin() as session:
        for received in (datetime(2019, 5, 1), datetime(2030, 1, 1)):
            session.add(
                Contact(
                    text="t",
                    text_redacted=True,
                    channel="phone",
                    received_at=received,
                    logged_by="x",
                    description_id="late_delivery",
                    current_description_id="late_delivery",
                    current_group_id="delivery",
                )
            )
    engine.dispose()
    runner = CliRunner()
    try:
        dry = runner.invoke(app, ["purge", "--older-than-days", "365", "--dry-run", "--json"])
        assert dry.exit_code == 0, dry.output
        report = json.loads(dry.output)
        assert report["dry_run"] is True and report["deleted"]["contacts"] == 1
        assert set(report["deleted"]) == set(TABLES)
        done = runner.invoke(app, ["purge", "--json"])  # the default: CONTACTLENS_RETENTION_DAYS, 1095
        assert done.exit_code == 0, done.output
        assert json.loads(done.output)["deleted"]["contacts"] == 1
        bad = runner.invoke(app, ["purge", "--older-than-days", "0"])
        assert bad.exit_code == 2
    finally:
        get_settings.cache_clear()


@pytest.mark.parametrize(
    ("site", "says"),
    [("Leeds\x00", "printable (U+0000 at position 5)"), ("x" * 101, "at most 100 characters")],
)
def test_site_must_be_short_and_printable(client: TestClient, site: str, says: str) -> None:
    r = client.post(
        "/v1/contacts",
        json={"text": "late", "channel": "email", "description": "late_delivery", "site": site},
        headers=HEADERS["logger"],
    )
    assert r.status_code == 422, r.text
    assert r.json()["message"].startswith("field 'site'") and says in r.json()["message"]
