"""Roles: every endpoint against no key, a wrong key and each role; stored keys; the `keys` commands."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from service_helpers import HEADERS, log_contact, settings_for, suggest
from typer.testing import CliRunner

from contactlens.cli import app as cli_app
from contactlens.settings import get_settings

ALL = {"logger", "reviewer", "analyst"}
LOGGING = {"logger", "analyst"}
REVIEW = {"reviewer", "analyst"}
OPEN = ALL | {None, "bad"}

# (method, path, body, roles allowed). {contact} and {item} are filled from the seeded records.
ENDPOINTS = [
    ("POST", "/v1/suggest", {"text": "Where is my sofa?"}, LOGGING),
    ("POST", "/v1/suggest/batch", {"texts": ["Where is my sofa?"]}, LOGGING),
    (
        "POST",
        "/v1/contacts",
        {"text": "Sofa late", "channel": "phone", "description": "late_delivery"},
        LOGGING,
    ),
    ("GET", "/v1/contacts", None, ALL),
    ("GET", "/v1/contacts/{contact}", None, ALL),
    ("GET", "/v1/review", None, REVIEW),
    ("GET", "/v1/review/{item}", None, REVIEW),
    ("POST", "/v1/review/{item}", {"description": "late_delivery", "override": True}, REVIEW),
    ("GET", "/v1/taxonomy", None, ALL),
    ("GET", "/v1/model", None, ALL),
    ("GET", "/v1/reports/summary", None, {"analyst"}),
    ("GET", "/v1/reports/descriptions", None, {"analyst"}),
    ("POST", "/v1/admin/reload", None, {"analyst"}),
    ("GET", "/v1/drift", None, {"analyst"}),
    ("GET", "/healthz", None, OPEN),
    ("GET", "/readyz", None, OPEN),
    ("GET", "/metrics", None, OPEN),
]
CALLERS = [None, "bad", "logger", "reviewer", "analyst"]


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory, sample_model, sample_model_dir: Path):
    """One app for the whole matrix, holding a contact in the review queue."""
    from service.app import create_app

    settings = settings_for(tmp_path_factory.mktemp("matrix"), sample_model_dir, review_threshold=1.0)
    with TestClient(create_app(settings, sample_model)) as client:
        answer = suggest(client, "My parcel never came")
        contact = log_contact(client, description="late_delivery", suggestion_id=answer["suggestion_id"])
        item = client.get("/v1/review", headers=HEADERS["reviewer"]).json()["items"][0]["id"]
        yield client, {"contact": contact["id"], "item": item}


def test_matrix_covers_every_route(seeded) -> None:
    client, _ = seeded
    covered = {(m, p.format(contact="{contact_id}", item="{item_id}")) for m, p, _, _ in ENDPOINTS}
    documented = client.get("/openapi.json").json()["paths"]
    served = {(method.upper(), path) for path, ops in documented.items() for method in ops}
    assert served | {("GET", "/metrics")} == covered


@pytest.mark.parametrize("caller", CALLERS, ids=lambda c: str(c))
@pytest.mark.parametrize(
    ("method", "path", "body", "allowed"), ENDPOINTS, ids=[f"{m} {p}" for m, p, *_ in ENDPOINTS]
)
def test_role_matrix(seeded, method: str, path: str, body, allowed: set, caller: str | None) -> None:
    client, ids = seeded
    headers = {"X-API-Key": "not-a-key"} if caller == "bad" else HEADERS.get(caller or "", {})
    r = client.request(method, path.format(**ids), json=body, headers=headers)
    if caller in allowed and path == "/v1/drift":  # a handful of seeded contacts is too few to test
        assert r.status_code == 422 and "at least" in r.json()["message"], r.text
    elif caller in allowed:
        assert 200 <= r.status_code < 300, r.text
    elif caller in (None, "bad"):
        assert r.status_code == 401, r.text
        assert ("missing API key" if caller is None else "invalid or revoked") in r.json()["detail"]
    else:
        assert r.status_code == 403, r.text
        assert f"role '{caller}' may not do this" in r.json()["detail"]


def test_stored_key_works_until_revoked(client: TestClient) -> None:
    from service.auth import create_key, revoke_key

    sessions = client.app.state.sessions
    with sessions.begin() as session:
        key = create_key(session, "alice", "reviewer")
    headers = {"X-API-Key": key}
    assert client.get("/v1/review", headers=headers).status_code == 200
    assert client.post("/v1/suggest", json={"text": "hello"}, headers=headers).status_code == 403
    with sessions.begin() as session:
        revoke_key(session, "alice")
    client.app.state.keys._cache.clear()  # skip the 5 s grace a cached key gets
    r = client.get("/v1/review", headers=headers)
    assert r.status_code == 401 and "revoked" in r.json()["detail"]


@pytest.fixture
def cli_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    url = f"sqlite:///{tmp_path / 'keys.db'}"
    monkeypatch.setenv("CONTACTLENS_DATABASE_URL", url)
    monkeypatch.setenv("CONTACTLENS_HOME", str(tmp_path))
    get_settings.cache_clear()
    yield url
    get_settings.cache_clear()


def test_keys_commands_store_only_the_hash(cli_env: str) -> None:
    import sqlalchemy as sa

    from service.auth import hash_key

    runner = CliRunner()
    created = runner.invoke(cli_app, ["keys", "create", "--role", "reviewer", "--name", "bob"])
    assert created.exit_code == 0, created.output
    key = created.stdout.strip().splitlines()[0]
    assert key.startswith("cl_") and len(key) > 30
    engine = sa.create_engine(cli_env)
    with engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT name, role, key_hash FROM api_keys")).all()
    assert rows == [("bob", "reviewer", hash_key(key))]
    listed = runner.invoke(cli_app, ["keys", "list"])
    assert listed.exit_code == 0 and "bob\treviewer" in listed.stdout and "active" in listed.stdout
    assert key not in listed.stdout
    assert runner.invoke(cli_app, ["keys", "revoke", "bob"]).exit_code == 0
    assert "revoked 20" in runner.invoke(cli_app, ["keys", "list"]).stdout
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT revoked_at FROM api_keys")).scalar() is not None
    engine.dispose()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["keys", "create", "--role", "admin", "--name", "x"],
            "role must be one of logger, reviewer, analyst",
        ),
        (["keys", "create", "--role", "logger", "--name", " "], "--name must not be empty"),
        (["keys", "revoke", "nobody"], "no key named 'nobody'"),
    ],
)
def test_keys_commands_refuse_bad_input(cli_env: str, args: list[str], message: str) -> None:
    result = CliRunner().invoke(cli_app, args)
    assert result.exit_code == 2
    assert message in result.output


def test_keys_create_refuses_a_taken_name(cli_env: str) -> None:
    runner = CliRunner()
    assert runner.invoke(cli_app, ["keys", "create", "--role", "logger", "--name", "till-1"]).exit_code == 0
    again = runner.invoke(cli_app, ["keys", "create", "--role", "logger", "--name", "till-1"])
    assert again.exit_code == 2 and "exists already" in again.output
