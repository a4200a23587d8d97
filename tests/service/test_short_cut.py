"""`/v1/suggest`'s short cut (`service.fastpath`): an ordinary call answered without FastAPI's routing gets
the route's own answer; anything else reaches the route, so its answer (errors included) is FastAPI's."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import Request
from fastapi.testclient import TestClient
from service_helpers import HEADERS
from sqlalchemy.exc import OperationalError

from contactlens.errors import ModelError
from service.deps import get_model

TEXT = "My parcel was due on Tuesday and it still has not arrived"


def routed(client: TestClient) -> list[int]:
    """Counts the calls that reached FastAPI's route (its model dependency runs once for each)."""
    calls: list[int] = []

    async def counting(request: Request) -> Any:  # noqa: ANN401 - the served model
        calls.append(1)
        return request.app.state.model

    client.app.dependency_overrides[get_model] = counting  # type: ignore[attr-defined]
    return calls


def answer(r: Any) -> tuple[int, str, Any]:
    """Status, content type and body (parsed when JSON, without its suggestion id: each call has its own)."""
    if not r.headers.get("content-type", "").startswith("application/json"):
        return r.status_code, r.headers.get("content-type", ""), r.text
    body = r.json()
    if isinstance(body, dict):
        body.pop("suggestion_id", None)
    return r.status_code, r.headers["content-type"], body


def without_id(content: bytes) -> bytes:
    return re.sub(rb'"suggestion_id":"[0-9a-f]+"', b'"suggestion_id":ID', content)


@pytest.fixture
def pair(make_client) -> tuple[TestClient, TestClient]:
    """The same app with the short cut (the default) and without it."""
    return make_client(), make_client(suggest_short_cut=False)


def test_an_ordinary_call_is_answered_as_the_route_answers_it(pair) -> None:
    short, usual = pair
    short_routed, usual_routed = routed(short), routed(usual)
    for body in (
        {"text": TEXT},
        {"text": TEXT, "top_k": 2, "channel": "phone"},
        {"text": TEXT, "channel": None},
    ):
        a = short.post("/v1/suggest", json=body, headers=HEADERS["logger"])
        b = usual.post("/v1/suggest", json=body, headers=HEADERS["logger"])
        assert a.status_code == 200, a.text
        assert answer(a) == answer(b)
        assert without_id(a.content) == without_id(b.content)  # the same bytes, field order included
        assert a.headers["content-length"] == str(len(a.content))
        assert a.json()["suggestion_id"]
    analyst = short.post("/v1/suggest", json={"text": TEXT}, headers=HEADERS["analyst"])
    assert analyst.status_code == 200
    assert short_routed == []  # none of them went through the route
    assert len(usual_routed) == 3
    metrics = short.get("/metrics").text
    assert 'contactlens_request_seconds_count{method="POST",route="/v1/suggest",status="200"} 4.0' in metrics


@pytest.mark.parametrize(
    ("headers", "query", "body", "why"),
    [
        ({}, "", {"text": TEXT}, "no key"),
        ({"X-API-Key": "nobody"}, "", {"text": TEXT}, "unknown key"),
        (HEADERS["reviewer"], "", {"text": TEXT}, "a role that may not suggest"),
        (HEADERS["logger"], "", {"text": ""}, "an empty text"),
        (HEADERS["logger"], "", {"text": TEXT, "top_k": 0}, "top_k out of range"),
        (HEADERS["logger"], "", {"text": TEXT, "colour": "red"}, "an unknown field"),
        (HEADERS["logger"], "", {"text": "x" * 10_001}, "over max_text_chars"),
        (HEADERS["logger"], "", [TEXT], "not an object"),
        (HEADERS["logger"], "?explain=true", {"text": TEXT}, "a query"),
        (HEADERS["logger"], "", {"text": TEXT, "top_k": 3.0}, "a float top_k"),
        (HEADERS["logger"], "", {"text": TEXT, "top_k": "3"}, "a string top_k"),
        (HEADERS["logger"], "", {"text": TEXT, "top_k": True}, "a boolean top_k"),
        (HEADERS["logger"], "", {"text": 123}, "a number for text"),
        (HEADERS["logger"], "", {"text": TEXT, "channel": "pigeon"}, "an unknown channel"),
        (HEADERS["logger"], "", {}, "no text"),
    ],
)
def test_anything_else_takes_the_route(pair, headers, query, body, why) -> None:
    short, usual = pair
    short_routed = routed(short)
    a = short.post(f"/v1/suggest{query}", json=body, headers=headers)
    b = usual.post(f"/v1/suggest{query}", json=body, headers=headers)
    assert answer(a) == answer(b), why  # FastAPI's own answer: the short cut answers nothing but a 200
    if a.status_code == 200:
        assert short_routed == [1], why  # through the route, not the short cut


@pytest.mark.parametrize("content", [b"{not json", b'{"text": "parcel late"'])
def test_a_body_that_is_not_json_takes_the_route(pair, content: bytes) -> None:
    short, usual = pair
    headers = {**HEADERS["logger"], "Content-Type": "application/json"}
    a = short.post("/v1/suggest", content=content, headers=headers)
    b = usual.post("/v1/suggest", content=content, headers=headers)
    assert a.status_code == 422
    assert answer(a) == answer(b)  # FastAPI read the body the short cut had read, and said what is wrong


def test_a_second_key_header_is_not_the_one_read(pair) -> None:
    """Two X-API-Key headers: the route reads the first (a reviewer's), and so does the short cut."""
    short, usual = pair
    headers = [("X-API-Key", HEADERS["reviewer"]["X-API-Key"]), ("X-API-Key", HEADERS["logger"]["X-API-Key"])]
    a = short.post("/v1/suggest", json={"text": TEXT}, headers=headers)
    b = usual.post("/v1/suggest", json={"text": TEXT}, headers=headers)
    assert a.status_code == 403
    assert answer(a) == answer(b)


def test_another_content_type_takes_the_route(pair) -> None:
    short, usual = pair
    short_routed = routed(short)
    headers = {**HEADERS["logger"], "Content-Type": "text/plain"}
    a = short.post("/v1/suggest", content=b'{"text": "parcel late"}', headers=headers)
    b = usual.post("/v1/suggest", content=b'{"text": "parcel late"}', headers=headers)
    assert answer(a) == answer(b)
    assert short_routed == [1]


def test_a_stored_key_takes_the_route_until_it_is_cached(client: TestClient) -> None:
    from service.auth import create_key

    with client.app.state.sessions.begin() as session:  # type: ignore[attr-defined]
        key = create_key(session, "till-3", "logger")
    calls = routed(client)
    for _ in range(2):
        r = client.post("/v1/suggest", json={"text": TEXT}, headers={"X-API-Key": key})
        assert r.status_code == 200, r.text
    assert calls == [1]  # the first call looked the key up; the second found it cached


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (ModelError("the model cannot score this"), 422),
        (OperationalError("INSERT", {}, Exception("gone")), 503),
    ],
)
def test_an_error_while_answering_gets_the_apps_error_answer(pair, monkeypatch, error, status) -> None:
    short, usual = pair
    for c in pair:

        async def failing(item: Any) -> Any:  # noqa: ANN401
            raise error

        monkeypatch.setattr(c.app.state.suggest_batcher, "submit", failing)  # type: ignore[attr-defined]
    a = short.post("/v1/suggest", json={"text": TEXT}, headers=HEADERS["logger"])
    b = usual.post("/v1/suggest", json={"text": TEXT}, headers=HEADERS["logger"])
    assert a.status_code == status
    assert answer(a) == answer(b)


def test_an_unexpected_error_is_the_servers_500_as_on_the_route(pair, monkeypatch) -> None:
    for c in pair:

        async def failing(item: Any) -> Any:  # noqa: ANN401
            raise RuntimeError("a bug")

        monkeypatch.setattr(c.app.state.suggest_batcher, "submit", failing)  # type: ignore[attr-defined]
        with pytest.raises(RuntimeError, match="a bug"):  # uvicorn answers 500; the test client re-raises
            c.post("/v1/suggest", json={"text": TEXT}, headers=HEADERS["logger"])


def test_a_body_over_the_size_limit_is_the_same_413(make_client) -> None:
    """FastAPI's body-size limit sits outside the short cut: a body too large is refused as on the route,
    whether its length is announced or it comes in chunks."""
    short, usual = (
        make_client(max_request_chars=1_000),
        make_client(max_request_chars=1_000, suggest_short_cut=False),
    )
    body = b'{"text": "' + b"z" * 80_000 + b'"}'  # over 8 bytes a character + 64 KiB
    headers = {**HEADERS["logger"], "Content-Type": "application/json"}

    def chunks() -> Iterator[bytes]:
        for start in range(0, len(body), 16_384):
            yield body[start : start + 16_384]

    for content in (body, chunks):
        a = short.post("/v1/suggest", content=content() if callable(content) else content, headers=headers)
        b = usual.post("/v1/suggest", content=content() if callable(content) else content, headers=headers)
        assert a.status_code == 413
        assert answer(a) == answer(b)
