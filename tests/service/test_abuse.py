"""Issue 15: never a 500, never a false alarm, a bounded cost. One regression test per defect found."""

from __future__ import annotations

import json
from pathlib import Path

import anyio
import pytest
import sqlalchemy as sa
from service_helpers import HEADERS, log_contact, suggest, written_suggestions

from contactlens.registry import directory_version
from contactlens.settings import Settings
from contactlens.store import BUSY, INVALID, UNAVAILABLE, classify_error

LOGGER, REVIEWER, ANALYST = HEADERS["logger"], HEADERS["reviewer"], HEADERS["analyst"]
BIG = 2**63  # beyond SQLite's integer; 2**31 is beyond PostgreSQL's


def db_errors(client) -> float:
    return client.app.state.metrics.db_errors._value.get()


# ------------------------------------------------------------------------------------ calendar edges


@pytest.mark.parametrize("when", ["9999-12-31T23:59:59-14:00", "0001-01-01T00:00:00+14:00"])
def test_a_time_past_the_calendar_edge_is_a_422_naming_the_field(client, when: str) -> None:
    r = client.post(
        "/v1/contacts",
        json={"text": "Parcel late", "channel": "web", "description": "late_delivery", "received_at": when},
        headers=LOGGER,
    )
    assert r.status_code == 422, r.text
    assert r.json()["message"].startswith("field 'received_at':") and "edge of the calendar" in r.text


@pytest.mark.parametrize(
    "path", ["/v1/contacts", "/v1/reports/summary", "/v1/reports/descriptions", "/v1/drift"]
)
def test_the_last_day_of_the_calendar_as_to_is_a_422(client, path: str) -> None:
    r = client.get(path, params={"to": "9999-12-31"}, headers=ANALYST)
    assert r.status_code == 422, r.text
    assert r.json()["message"].startswith("field 'to':") and "edge of the calendar" in r.json()["message"]
    assert client.get(path, params={"from": "0001-01-01T00:00:00+01:00"}, headers=ANALYST).status_code == 422


# -------------------------------------------------------------------------- ids beyond the integer range


def test_ids_and_offsets_beyond_the_database_range(make_client, database_url: str) -> None:
    client = make_client(database_url=database_url)
    for big in (2**31, BIG):
        assert client.get(f"/v1/contacts/{big}", headers=ANALYST).status_code == 404
        assert client.get(f"/v1/review/{big}", headers=ANALYST).status_code == 404
        r = client.post(f"/v1/review/{big}", json={"description": "late_delivery"}, headers=ANALYST)
        assert r.status_code == 404, r.text
        r = client.post(f"/v1/review/{big}/comments", json={"note": "call back"}, headers=ANALYST)
        assert r.status_code == 404, r.text
        assert client.delete(f"/v1/contacts/{big}", headers=ANALYST).status_code == 404
        for path in ("/v1/contacts", "/v1/review"):
            r = client.get(path, params={"offset": big}, headers=ANALYST)
            assert r.status_code == 422 and r.json()["message"].startswith("field 'offset'")
    assert db_errors(client) == 0  # no false outage


def test_a_data_error_from_the_database_is_a_422_not_an_outage(client) -> None:
    engine = client.app.state.engine

    def refuse(conn, cursor, statement, *args) -> None:
        if statement.lstrip().upper().startswith("INSERT INTO CONTACTS"):
            raise sa.exc.DataError(statement, {}, Exception("integer out of range"))

    sa.event.listen(engine, "before_cursor_execute", refuse)
    try:
        r = log_contact(client, expect=422, description="late_delivery")
    finally:
        sa.event.remove(engine, "before_cursor_execute", refuse)
    assert "out of the range the database can store" in r["message"]
    assert db_errors(client) == 0


def test_errors_are_classified_by_what_they_mean(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'locked.db'}"
    holder = sa.create_engine(url)
    waiter = sa.create_engine(url, connect_args={"timeout": 0})
    with holder.begin() as conn:
        conn.execute(sa.text("CREATE TABLE t (x INTEGER)"))
    with holder.connect() as conn:
        conn.exec_driver_sql("BEGIN IMMEDIATE")
        with pytest.raises(sa.exc.OperationalError) as locked, waiter.begin() as other:
            other.execute(sa.text("INSERT INTO t VALUES (1)"))
        conn.rollback()
    assert classify_error(locked.value) == BUSY
    gone = sa.create_engine(f"sqlite:///{tmp_path / 'no-such-dir' / 'x.db'}")
    with pytest.raises(sa.exc.OperationalError) as down, gone.connect():
        pass
    assert classify_error(down.value) == UNAVAILABLE
    assert classify_error(sa.exc.DataError("SELECT", {}, Exception("out of range"))) == INVALID


# ------------------------------------------------------------------------------------ bad bodies


def test_a_text_of_zero_width_characters_only_is_refused(client) -> None:
    for path, body in (
        ("/v1/suggest", {"text": "\u200b\u200b"}),
        ("/v1/suggest/batch", {"texts": ["fine", "\ufeff\u200d"]}),
        ("/v1/contacts", {"text": "\u2060\u200b", "channel": "web", "description": "late_delivery"}),
    ):
        r = client.post(path, json=body, headers=LOGGER)
        assert r.status_code == 422 and "no visible characters" in r.json()["message"], (path, r.text)


@pytest.mark.parametrize("top_k", ["3", True, 2.0])
def test_top_k_must_be_an_integer(client, top_k) -> None:
    r = client.post("/v1/suggest", json={"text": "Parcel late", "top_k": top_k}, headers=LOGGER)
    assert r.status_code == 422 and r.json()["message"].startswith("field 'top_k'"), r.text


def test_the_key_is_checked_before_the_body(client) -> None:
    headers = {"Content-Type": "application/json"}
    assert client.post("/v1/suggest", content=b"{not json", headers=headers).status_code == 401
    assert client.post("/v1/suggest", json={"texts": 1}, headers={"X-API-Key": "nope"}).status_code == 401
    r = client.post("/v1/suggest", content=b"{not json", headers=headers | REVIEWER)
    assert r.status_code == 403  # a reviewer may not suggest, whatever the body
    assert client.post("/v1/suggest", content=b"{not json", headers=headers | LOGGER).status_code == 422


def test_drift_without_contacts_answers_the_documented_422(client) -> None:
    r = client.get("/v1/drift", headers=ANALYST)
    body = r.json()
    assert r.status_code == 422 and isinstance(body["detail"], list) and "no contacts" in body["message"]
    documented = client.get("/openapi.json").json()["paths"]["/v1/drift"]["get"]["responses"]["422"]
    assert documented["content"]["application/json"]["schema"]["$ref"].endswith("/ValidationErrorPublic")


def test_options_lists_every_allowed_method(client) -> None:
    r = client.options("/v1/contacts", headers=LOGGER)
    assert r.status_code == 405 and {"GET", "POST"} <= set(r.headers["Allow"].split(", "))
    r = client.delete("/v1/review/1", headers=ANALYST)
    assert r.status_code == 405 and {"GET", "POST"} <= set(r.headers["Allow"].split(", "))


def test_the_sign_in_page_ignores_a_strange_ended_value(client) -> None:
    r = client.get("/ui/login", params={"ended": "<script>alert(1)</script>"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert "<script>alert" not in r.text
    assert "Your session ended" in client.get("/ui/login", params={"ended": "1"}).text


# ----------------------------------------------------------------------------------------- versions


def test_two_models_in_one_directory_have_different_versions(tmp_path: Path) -> None:
    live = tmp_path / "live"
    live.mkdir()
    (live / "metadata.json").write_text(json.dumps({"created_at": "2026-01-01"}))
    first = directory_version(live)
    (live / "metadata.json").write_text(json.dumps({"created_at": "2026-02-01"}))
    assert first.startswith("live@") and directory_version(live).startswith("live@")
    assert directory_version(live) != first


# --------------------------------------------------------------------------------------- cost bound


def test_a_batch_over_the_character_limit_is_a_413(make_client) -> None:
    client = make_client(max_request_chars=1_000)
    r = client.post("/v1/suggest/batch", json={"texts": ["x" * 600, "y" * 600]}, headers=LOGGER)
    assert r.status_code == 413 and "at most 1000" in r.json()["detail"]
    assert client.post("/v1/suggest/batch", json={"texts": ["x" * 600]}, headers=LOGGER).status_code == 200
    body = b'{"texts": ["' + b"z" * 80_000 + b'"]}'  # over 8 bytes a character + 64 KiB
    r = client.post("/v1/suggest/batch", content=body, headers=LOGGER | {"Content-Type": "application/json"})
    assert r.status_code == 413


def test_a_batch_over_its_scoring_cost_is_a_413_that_says_what_to_do(make_client) -> None:
    client = make_client(max_request_tokens=1_000, tokens_per_text=10)
    # 40 texts of 4 tokens: (4 + 4 + 10) x 40 = 720 tokens, well under 1,000 characters too
    assert (
        client.post("/v1/suggest/batch", json={"texts": ["Parcel late"] * 40}, headers=LOGGER).status_code
        == 200
    )
    # 60 of them: 1,080 tokens, though only 660 characters
    r = client.post("/v1/suggest/batch", json={"texts": ["Parcel late"] * 60}, headers=LOGGER)
    assert r.status_code == 413
    detail = r.json()["detail"]
    assert "1080 encoder tokens" in detail and "at most 1000" in detail and "split the batch into 2" in detail
    # two long texts: each costs its window and its every token again
    long_text = " ".join(["my parcel was late and the driver was rude"] * 30)
    r = client.post("/v1/suggest/batch", json={"texts": [long_text] * 2}, headers=LOGGER)
    assert r.status_code == 413 and "send shorter texts" in r.json()["detail"]
    # one text alone is never refused by cost: max_text_chars bounds it (the typing path is unchanged)
    assert client.post("/v1/suggest/batch", json={"texts": [long_text]}, headers=LOGGER).status_code == 200
    assert client.post("/v1/suggest", json={"text": long_text}, headers=LOGGER).status_code == 200
    written_suggestions(client)
    with client.app.state.engine.connect() as conn:  # nothing stored for the refused batches
        assert conn.execute(sa.text("SELECT count(*) FROM suggestions")).scalar_one() == 42


def test_request_cost_adds_the_per_text_constant(sample_model) -> None:
    from service.limits import request_cost

    texts = ["Parcel late", "refund missing for three weeks"]
    model_cost = sum(sample_model.scoring_cost(texts))
    assert request_cost(sample_model, texts, Settings(tokens_per_text=0)) == model_cost
    assert request_cost(sample_model, texts, Settings(tokens_per_text=16)) == model_cost + 32
    with pytest.raises(ValueError, match="max_request_tokens"):
        Settings(max_request_tokens=10)


def test_a_batch_over_its_time_budget_stops_with_a_503(make_client) -> None:
    client = make_client(request_time_budget_seconds=1e-6)
    r = client.post("/v1/suggest/batch", json={"texts": ["Parcel late"] * 40}, headers=LOGGER)
    assert r.status_code == 503 and "time budget" in r.json()["detail"]
    assert db_errors(client) == 0
    assert (
        client.post("/v1/suggest/batch", json={"texts": ["Parcel late"]}, headers=LOGGER).status_code == 200
    )
    written_suggestions(client)
    with client.app.state.engine.connect() as conn:  # only the single text's suggestion was stored
        assert conn.execute(sa.text("SELECT count(*) FROM suggestions")).scalar_one() == 1


def test_scoring_stops_when_the_client_has_gone() -> None:
    from service.limits import CHUNK, ClientGone, score_in_chunks

    class Gone:
        url = type("U", (), {"path": "/v1/suggest/batch"})()

        async def is_disconnected(self) -> bool:
            return True

    scored: list[int] = []

    def score(texts: list[str]) -> list[str]:
        scored.append(len(texts))
        return texts

    with pytest.raises(ClientGone):
        anyio.run(anyio.to_thread.run_sync, score_in_chunks, Gone(), Settings(), ["t"] * (3 * CHUNK), score)
    assert scored == [CHUNK]  # stopped after the first chunk


def test_suggest_still_answers_after_the_checks(client) -> None:
    assert suggest(client, "Parcel late")["suggestions"]


def test_a_body_that_is_not_utf8_is_a_422_after_the_key(client) -> None:
    headers = {"Content-Type": "application/json"}
    r = client.post("/v1/suggest", content=b'{"text": "\xff"}', headers=headers | LOGGER)
    assert (
        r.status_code == 422 and r.json()["message"] == "field 'body': cannot be decoded: send JSON in UTF-8"
    )
    assert client.post("/v1/suggest", content=b'{"text": "\xff"}', headers=headers).status_code == 401
