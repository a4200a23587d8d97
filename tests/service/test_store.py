"""The store on both back ends: migrations match the models, round trips, atomic claims, stored keys."""

from __future__ import annotations

import threading
from datetime import datetime

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from service_helpers import HEADERS, log_contact, suggest

from contactlens.store import (
    CURRENT,
    LOGGED,
    MIGRATIONS,
    Base,
    Contact,
    ContactDescription,
    ReviewDecision,
    decided_descriptions,
    make_engine,
    session_factory,
    set_descriptions,
    upgrade,
)
from service.auth import KeyRing, create_key, revoke_key

HEAD = ScriptDirectory(str(MIGRATIONS)).get_current_head()  # the newest revision


@pytest.fixture
def engine(database_url: str):
    engine = make_engine(database_url)
    yield engine
    engine.dispose()


def test_migrations_build_exactly_the_models_schema(engine: sa.Engine) -> None:
    upgrade(engine)
    upgrade(engine)  # a second start-up is a no-op
    with engine.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), Base.metadata) == []
        assert conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar_one() == HEAD


def test_migrations_downgrade_to_empty(engine: sa.Engine) -> None:
    from alembic import command
    from alembic.config import Config

    from contactlens.store import MIGRATIONS

    upgrade(engine)
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "base")
    assert set(sa.inspect(engine).get_table_names()) <= {"alembic_version"}


def _alembic(engine: sa.Engine, verb: str, revision: str) -> None:
    from alembic import command
    from alembic.config import Config

    from contactlens.store import MIGRATIONS

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        getattr(command, verb)(cfg, revision)


OLD_ROWS = """
INSERT INTO suggestions (id, created_at, model_version, taxonomy_version, channel, top1_id, top2_id, top3_id,
    top1_confidence, ranked, sentiment, needs_review)
VALUES ('s1', '2026-01-01 10:00:00', '3', '2026.1', 'email', 'late_delivery', 'lost_in_transit', NULL, 0.4,
    '[{"id": "late_delivery", "confidence": 0.4}]', 'negative', {true});
INSERT INTO contacts (text, text_redacted, channel, site, received_at, logged_at, logged_by, description_id,
    sentiment, current_description_id, current_group_id, current_sentiment, suggestion_id)
VALUES ('Parcel late', {true}, 'email', 'Leeds', '2026-01-01 10:00:00', '2026-01-01 10:01:00', 'till-1',
    'late_delivery', 'negative', 'lost_in_transit', 'delivery', 'neutral', 's1');
INSERT INTO contacts (text, text_redacted, channel, site, received_at, logged_at, logged_by, description_id,
    sentiment, current_description_id, current_group_id, current_sentiment, suggestion_id)
VALUES ('Rude staff', {true}, 'phone', NULL, '2026-01-02 10:00:00', '2026-01-02 10:01:00', 'till-2',
    'staff_rude', NULL, 'staff_rude', 'store', NULL, NULL);
INSERT INTO review_items (contact_id, reason, created_at, status, decided_by, decided_at)
VALUES (1, 'low_confidence', '2026-01-01 10:01:00', 'decided', 'ann', '2026-01-03 09:00:00');
INSERT INTO review_decisions (review_item_id, reviewer, decided_at, description_id, sentiment, note, override)
VALUES (1, 'ann', '2026-01-03 09:00:00', 'lost_in_transit', 'neutral', 'lost', {false})
"""


def test_upgrading_a_0001_database_keeps_its_rows_and_backfills_descriptions(
    engine: sa.Engine, database_url: str
) -> None:
    _alembic(engine, "upgrade", "0001")
    true, false = ("1", "0") if engine.dialect.name == "sqlite" else ("true", "false")
    with engine.begin() as conn:
        for statement in OLD_ROWS.replace("{true}", true).replace("{false}", false).split(";"):
            conn.execute(sa.text(statement))
    tables = ("suggestions", "contacts", "review_items", "review_decisions")
    with engine.connect() as conn:
        before = {t: conn.execute(sa.text(f"SELECT * FROM {t} ORDER BY 1")).all() for t in tables}
    upgrade(engine)  # what the service does at start-up
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar_one() == HEAD
        for t in tables:  # every old row and value kept; the new columns are null
            after = conn.execute(sa.text(f"SELECT * FROM {t} ORDER BY 1")).all()
            assert [tuple(r)[: len(before[t][0])] for r in after] == [tuple(r) for r in before[t]], t
        assert conn.execute(sa.text("SELECT descriptions FROM suggestions")).scalar_one() is None
        assert conn.execute(sa.text("SELECT descriptions FROM review_decisions")).scalar_one() is None
        backfilled = conn.execute(
            sa.text(
                "SELECT contact_id, kind, position, description_id, group_id, sentiment "
                "FROM contact_descriptions ORDER BY contact_id, kind"
            )
        ).all()
    assert [tuple(r) for r in backfilled] == [
        (1, "current", 0, "lost_in_transit", "delivery", "neutral"),
        (1, "logged", 0, "late_delivery", None, "negative"),  # reviewed since: its group is not known
        (2, "current", 0, "staff_rude", "store", None),
        (2, "logged", 0, "staff_rude", "store", None),
    ]
    with session_factory(engine)() as session:
        decision = session.get_one(ReviewDecision, 1)
        assert decided_descriptions(decision) == [{"id": "lost_in_transit", "sentiment": "neutral"}]
    # The service reads the upgraded rows as before, now with their description sets.
    from service.common import contact_public

    with session_factory(engine)() as session:
        first = contact_public(session.get_one(Contact, 1))
    assert first["descriptions"] == [{"id": "late_delivery", "sentiment": "negative"}]
    assert first["current_descriptions"] == [{"id": "lost_in_transit", "sentiment": "neutral"}]
    _alembic(engine, "downgrade", "0001")  # and back, the old rows still there
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM contacts")).scalar_one() == 2
        assert "contact_descriptions" not in sa.inspect(conn).get_table_names()


def test_description_sets_follow_the_primary_columns(engine: sa.Engine) -> None:
    """Code that sets only the primary (older code, label imports) leaves a consistent one-row set."""
    upgrade(engine)
    sessions = session_factory(engine)
    with sessions.begin() as session:
        contact = Contact(
            text="t",
            text_redacted=True,
            channel="email",
            received_at=datetime(2026, 1, 1),
            logged_by="x",
            description_id="late_delivery",
            sentiment="negative",
            current_description_id="late_delivery",
            current_group_id="delivery",
            current_sentiment="negative",
        )
        session.add(contact)
    with sessions.begin() as session:
        contact = session.get_one(Contact, contact.id)
        assert [(r.description_id, r.group_id) for r in contact.logged_descriptions] == [
            ("late_delivery", "delivery")
        ]
        pairs = [("late_delivery", "delivery", "negative"), ("staff_rude", "store", "positive")]
        set_descriptions(contact, CURRENT, pairs)
    with sessions.begin() as session:
        contact = session.get_one(Contact, contact.id)
        assert [(r.description_id, r.sentiment) for r in contact.current_descriptions] == [
            ("late_delivery", "negative"),
            ("staff_rude", "positive"),
        ]
        contact.current_sentiment = "neutral"  # the primary's sentiment: its row follows
    with sessions.begin() as session:
        contact = session.get_one(Contact, contact.id)
        assert [r.sentiment for r in contact.current_descriptions] == ["neutral", "positive"]
        contact.current_description_id, contact.current_group_id = "till_queues", "store"
    with sessions.begin() as session:
        contact = session.get_one(Contact, contact.id)
        assert [(r.description_id, r.group_id, r.sentiment) for r in contact.current_descriptions] == [
            ("till_queues", "store", "neutral")
        ]
        set_descriptions(contact, LOGGED, [("a", "g", None), ("b", "g", None), ("c", "g", None)])
        set_descriptions(contact, LOGGED, [("c", "g", None), ("a", "g", None)])  # reorder and shrink at once
    with sessions() as session:
        rows = session.scalars(
            sa.select(ContactDescription)
            .where(ContactDescription.kind == LOGGED)
            .order_by(ContactDescription.position)
        ).all()
        assert [(r.position, r.description_id) for r in rows] == [(0, "c"), (1, "a")]
        assert session.get_one(Contact, contact.id).description_id == "c"


def test_stored_keys_round_trip(engine: sa.Engine) -> None:
    upgrade(engine)
    sessions = session_factory(engine)
    with sessions.begin() as session:
        key = create_key(session, "till-7", "logger")
    ring = KeyRing({})
    principal = ring.lookup(key, sessions)
    assert principal is not None and (principal.name, principal.role) == ("till-7", "logger")
    assert ring.lookup(key + "x", sessions) is None
    with sessions.begin() as session:
        revoke_key(session, "till-7")
    assert KeyRing({}).lookup(key, sessions) is None
    with sessions() as session, pytest.raises(ValueError, match="exists already"):
        create_key(session, "till-7", "analyst")


def test_contact_and_review_round_trip(make_client, database_url: str) -> None:
    client = make_client(database_url=database_url, review_threshold=1.0)
    answer = suggest(client, "Sofa arrived with a broken leg, email me at jo@example.com")
    top = answer["suggestions"][0]["id"]
    created = log_contact(
        client,
        text="Sofa arrived broken, email me at jo@example.com",
        description=top,
        channel="email",
        site="Leeds",
        sentiment="negative",
        received_at="2026-05-01T12:00:00Z",
        suggestion_id=answer["suggestion_id"],
    )
    assert "<EMAIL>" in created["text"] and created["review_status"] == "pending"
    page = client.get(
        "/v1/contacts?from=2026-05-01&to=2026-05-01&site=Leeds", headers=HEADERS["reviewer"]
    ).json()
    assert [c["id"] for c in page["items"]] == [created["id"]]
    assert page["items"][0]["received_at"] == "2026-05-01T12:00:00"
    item = client.get("/v1/review", headers=HEADERS["reviewer"]).json()["items"][0]
    assert item["suggestions"][0]["id"] == top
    r = client.post(
        f"/v1/review/{item['id']}",
        json={"description": "damaged_on_arrival", "note": "ok"},
        headers=HEADERS["reviewer"],
    )
    assert r.status_code == 200 and r.json()["decisions"][0]["note"] == "ok"
    again = client.post(f"/v1/review/{item['id']}", json={"description": top}, headers=HEADERS["reviewer"])
    assert again.status_code == 409


def test_concurrent_decisions_only_one_wins(make_client, database_url: str) -> None:
    client = make_client(database_url=database_url, review_threshold=1.0)
    answer = suggest(client, "Parcel late")
    log_contact(client, description="late_delivery", suggestion_id=answer["suggestion_id"])
    item_id = client.get("/v1/review", headers=HEADERS["reviewer"]).json()["items"][0]["id"]
    barrier = threading.Barrier(6)
    codes: list[int] = []

    def decide() -> None:
        barrier.wait()
        r = client.post(
            f"/v1/review/{item_id}", json={"description": "late_delivery"}, headers=HEADERS["reviewer"]
        )
        codes.append(r.status_code)

    threads = [threading.Thread(target=decide) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sorted(codes) == [200] + [409] * 5
    trail = client.get(f"/v1/review/{item_id}", headers=HEADERS["reviewer"]).json()["decisions"]
    assert len(trail) == 1
