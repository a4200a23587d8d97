"""The store on both back ends: migrations match the models, round trips, atomic claims, stored keys."""

from __future__ import annotations

import threading

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from service_helpers import HEADERS, log_contact, suggest

from contactlens.store import Base, make_engine, session_factory, upgrade
from service.auth import KeyRing, create_key, revoke_key


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
        assert conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar_one() == "0001"


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
