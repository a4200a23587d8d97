"""Operations: health, readiness, metrics, model reload without a restart, and a database that goes down."""

from __future__ import annotations

import json
import logging
import shutil
import threading
from pathlib import Path

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from service_helpers import HEADERS, log_contact, settings_for, suggest

from contactlens.store import session_factory

ANALYST = HEADERS["analyst"]


def test_health_and_readiness(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json() == {
        "status": "ready",
        "model_version": client.app.state.model.version,
        "database": "ok",
    }
    assert client.get("/docs").status_code == 200
    assert "/v1/suggest" in client.get("/openapi.json").json()["paths"]


def test_metrics_count_requests_and_confidence_bands(client: TestClient) -> None:
    suggest(client, "My parcel never arrived")
    suggest(client, "My parcel never arrived")
    text = client.get("/metrics").text
    assert 'contactlens_request_seconds_count{method="POST",route="/v1/suggest",status="200"} 2.0' in text
    bands = [line for line in text.splitlines() if line.startswith("contactlens_suggestions_total{")]
    assert sum(float(line.rsplit(" ", 1)[1]) for line in bands) == 2.0
    assert "contactlens_review_queue_depth 0.0" in text


# ---------------------------------------------------------------------------------------------- reload


def broken_copy(src: Path, dest: Path, how: str) -> Path:
    shutil.copytree(src, dest)
    if how == "truncated heads":
        (dest / "heads.joblib").write_bytes(b"not a pickle")
    elif how == "incompatible":
        meta = json.loads((dest / "metadata.json").read_text())
        meta["versions"]["scikit-learn"] = "0.20.0"
        (dest / "metadata.json").write_text(json.dumps(meta))
    elif how == "missing":
        shutil.rmtree(dest)
    return dest


def test_reload_swaps_the_model(client: TestClient) -> None:
    before = client.app.state.model
    r = client.post("/v1/admin/reload", headers=ANALYST)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["reloaded"] is True and body["previous_version"] == before.version
    assert client.app.state.model is not before
    assert suggest(client, "My parcel never arrived")["model_version"] == body["model_version"]
    assert 'contactlens_model_reloads_total{outcome="ok"} 1.0' in client.get("/metrics").text


@pytest.mark.parametrize(
    ("how", "message"),
    [
        ("truncated heads", "heads.joblib cannot be loaded"),
        ("incompatible", "built with scikit-learn 0.20.0"),
        ("missing", "not a ContactLens model directory"),
    ],
)
def test_broken_artifact_is_refused_and_old_model_keeps_serving(
    make_client, tmp_path: Path, sample_model_dir: Path, how: str, message: str, caplog
) -> None:
    broken = broken_copy(sample_model_dir, tmp_path / "broken", how)
    client = make_client(model_uri=str(broken))  # the app starts with the good sample model
    old = client.app.state.model
    with caplog.at_level(logging.ERROR, logger="service"):
        r = client.post("/v1/admin/reload", headers=ANALYST)
    assert r.status_code == 422
    # a 422 in the documented shape (issue 15): the reason is the `message`
    assert message in r.json()["message"] and f"still serving {old.version}" in r.json()["message"]
    assert any("reload refused" in rec.getMessage() for rec in caplog.records)
    assert client.app.state.model is old
    assert suggest(client, "My parcel never arrived")["model_version"] == old.version


class _Gated:
    """The served model, but each suggest waits for a gate: a request in flight during a reload."""

    def __init__(self, inner, entered: threading.Event, gate: threading.Event) -> None:
        self._inner, self._entered, self._gate = inner, entered, gate
        self.version = "gated-old"

    def __getattr__(self, name: str):
        return getattr(self._inner, name)

    def suggest(self, *args, **kwargs):
        self._entered.set()
        assert self._gate.wait(10)
        return self._inner.suggest(*args, **kwargs)


def test_in_flight_request_finishes_on_the_model_it_started_with(client: TestClient) -> None:
    entered, gate = threading.Event(), threading.Event()
    client.app.state.model = _Gated(client.app.state.model, entered, gate)
    result: dict = {}
    worker = threading.Thread(target=lambda: result.update(suggest(client, "Parcel late")))
    worker.start()
    assert entered.wait(10)
    r = client.post("/v1/admin/reload", headers=ANALYST)  # completes while the request above is blocked
    assert r.status_code == 200 and r.json()["previous_version"] == "gated-old"
    gate.set()
    worker.join(10)
    assert result["model_version"] == "gated-old"
    assert suggest(client, "Parcel late")["model_version"] == r.json()["model_version"]


# -------------------------------------------------------------------------------------- database down


def take_database_down(client: TestClient, tmp_path: Path) -> sa.Engine:
    """Point the app at a database file that cannot be opened; returns the real engine to restore."""
    real = client.app.state.engine
    dead = sa.create_engine(f"sqlite:///{tmp_path / 'no-such-dir' / 'gone.db'}")
    client.app.state.engine, client.app.state.sessions = dead, session_factory(dead)
    return real


def count_contacts(engine: sa.Engine) -> int:
    with engine.connect() as conn:
        return conn.execute(sa.text("SELECT count(*) FROM contacts")).scalar_one()


def test_database_down_gives_503_and_readyz_says_why(client: TestClient, tmp_path: Path, caplog) -> None:
    answer = suggest(client, "Parcel late")
    real = take_database_down(client, tmp_path)
    with caplog.at_level(logging.ERROR, logger="service"):
        r = client.post(
            "/v1/contacts",
            json={
                "text": "Parcel late",
                "channel": "web",
                "description": "late_delivery",
                "suggestion_id": answer["suggestion_id"],
            },
            headers=HEADERS["logger"],
        )
    assert r.status_code == 503 and "database is unavailable; nothing was stored" in r.json()["detail"]
    assert r.headers["Retry-After"] == "5"
    assert any(
        "database unavailable: POST /v1/contacts refused with 503" in rec.getMessage()
        for rec in caplog.records
    )
    ready = client.get("/readyz")
    assert ready.status_code == 503
    assert ready.json()["status"] == "not ready" and ready.json()["reason"].startswith("database unreachable")
    assert client.get("/v1/contacts", headers=HEADERS["logger"]).status_code == 503
    # The typist still gets suggestions, without an id to quote.
    degraded = suggest(client, "Parcel late")
    assert degraded["suggestion_id"] is None and degraded["suggestions"]
    assert client.get("/healthz").status_code == 200

    client.app.state.engine, client.app.state.sessions = real, session_factory(real)
    assert client.get("/readyz").status_code == 200
    assert count_contacts(real) == 0


def test_a_failure_mid_transaction_leaves_no_half_written_record(make_client) -> None:
    client = make_client(review_threshold=1.0)  # every contact with a suggestion joins the queue
    engine = client.app.state.engine

    def fail_on_review_insert(conn, cursor, statement, *args) -> None:
        if statement.lstrip().upper().startswith("INSERT INTO REVIEW_ITEMS"):
            raise sa.exc.OperationalError(statement, {}, Exception("disk I/O error"))

    answer = suggest(client, "Parcel late")
    sa.event.listen(engine, "before_cursor_execute", fail_on_review_insert)
    try:
        r = client.post(
            "/v1/contacts",
            json={
                "text": "Parcel late",
                "channel": "web",
                "description": "late_delivery",
                "suggestion_id": answer["suggestion_id"],
            },
            headers=HEADERS["logger"],
        )
    finally:
        sa.event.remove(engine, "before_cursor_execute", fail_on_review_insert)
    assert r.status_code == 503
    assert count_contacts(engine) == 0  # the contact insert was rolled back with the failed queue insert
    created = log_contact(
        client, text="Parcel late", description="late_delivery", suggestion_id=answer["suggestion_id"]
    )
    assert created["review_status"] == "pending"


def test_app_starts_with_the_database_down(make_client, tmp_path: Path, caplog) -> None:
    (tmp_path / "a-file").write_text("not a folder")
    with caplog.at_level(logging.ERROR, logger="service"):
        client = make_client(database_url=f"sqlite:///{tmp_path / 'a-file' / 'x.db'}")
    assert any("unavailable at start-up" in rec.getMessage() for rec in caplog.records)
    assert client.get("/healthz").status_code == 200
    assert client.get("/readyz").status_code == 503
    assert suggest(client, "Parcel late")["suggestion_id"] is None
    assert log_contact(client, expect=503, description="late_delivery")["detail"].startswith("the database")


def test_app_loads_the_configured_model_at_start(tmp_path: Path, sample_model_dir: Path) -> None:
    from service.app import create_app

    with TestClient(create_app(settings_for(tmp_path, sample_model_dir))) as client:
        assert client.app.state.model.path == sample_model_dir
        # the directory's name and a hash of its metadata (issue 15: two models in one path differ)
        assert suggest(client, "Parcel late")["model_version"].startswith(f"{sample_model_dir.name}@")


def test_app_refuses_to_start_without_a_model(tmp_path: Path, caplog) -> None:
    from contactlens.errors import ModelError
    from service.app import create_app

    app = create_app(settings_for(tmp_path, tmp_path / "no-model"))
    with caplog.at_level(logging.ERROR, logger="service"), pytest.raises(ModelError, match="no-model"):
        TestClient(app).__enter__()
    assert any("contactlens serve --bootstrap" in rec.getMessage() for rec in caplog.records)


def test_the_app_warms_the_sentence_splitter_then_redaction_beside_serving(
    sample_model_dir: Path, tmp_path: Path
) -> None:
    """After start-up a thread loads spaCy's sentence splitter (a contact about several things needs it on
    the typing path), then the redaction pipeline: the splitter first, so that it does not wait on the NER
    pipeline's import (`text.importing_nlp`). In a fresh interpreter: this one may have loaded either."""
    import subprocess
    import sys

    code = (
        "import time\n"
        "from fastapi.testclient import TestClient\n"
        "from contactlens import redaction, text\n"
        "from contactlens.settings import Settings\n"
        "from service.app import create_app\n"
        f"settings = Settings(home={str(tmp_path)!r}, database_url='sqlite:///{tmp_path}/ops.db',\n"
        f"                    api_keys='k:logger', model_uri={str(sample_model_dir)!r})\n"
        "with TestClient(create_app(settings)) as client:\n"
        "    assert client.get('/readyz').status_code == 200\n"
        "    deadline = time.monotonic() + 120\n"
        "    while redaction._engine.cache_info().currsize == 0 and time.monotonic() < deadline:\n"
        "        time.sleep(0.05)\n"
        "    print(text._nlp.cache_info().currsize, redaction._engine.cache_info().currsize)\n"
    )
    root = Path(__file__).resolve().parents[2]
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=root, capture_output=True, text=True, timeout=300, check=False
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().splitlines()[-1] == "1 1"
