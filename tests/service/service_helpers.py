"""Constants and helpers for the service tests (a module name unique across tests/, imported by basename)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from contactlens.settings import Settings

LOGGER, REVIEWER, ANALYST = "logger-key-1", "reviewer-key-1", "analyst-key-1"
KEYS = f"{LOGGER}:logger,{REVIEWER}:reviewer,{ANALYST}:analyst"
HEADERS = {
    role: {"X-API-Key": key}
    for role, key in (("logger", LOGGER), ("reviewer", REVIEWER), ("analyst", ANALYST))
}
PG_URL = os.environ.get("CONTACTLENS_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def settings_for(tmp_path: Path, model_dir: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "home": tmp_path,
        "database_url": f"sqlite:///{tmp_path / 'service.db'}",
        "api_keys": KEYS,
        "model_uri": str(model_dir),
    }
    return Settings(**(values | overrides))


def suggest(client: TestClient, text: str, **extra: Any) -> dict[str, Any]:
    r = client.post("/v1/suggest", json={"text": text, **extra}, headers=HEADERS["logger"])
    assert r.status_code == 200, r.text
    return r.json()


def written_suggestions(client: TestClient) -> None:
    """Wait until the suggestion logs handed to the write-behind log (the default) are in the database."""
    writer = getattr(client.app.state, "suggestion_log", None)
    if writer is not None:
        assert writer.flush(), "the suggestion log did not drain within its timeout"


def log_contact(client: TestClient, expect: int = 201, **body: Any) -> dict[str, Any]:
    payload = {"text": "A contact", "channel": "email", **body}
    r = client.post("/v1/contacts", json=payload, headers=HEADERS["logger"])
    assert r.status_code == expect, r.text
    return r.json()


def other_than(client: TestClient, ids: list[str]) -> str:
    """An active description id not among `ids`."""
    tax = client.app.state.model.taxonomy  # type: ignore[attr-defined]
    return next(d for d in tax.active_ids if d not in ids)
