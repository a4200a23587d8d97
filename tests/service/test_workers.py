"""`contactlens serve --workers 2` on PostgreSQL behaves as one service: reload, sessions and metrics."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
from service_helpers import HEADERS, KEYS, REVIEWER

from tests.service.conftest import postgres_url

pytestmark = [pytest.mark.slow, pytest.mark.postgres]
ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _register(tracking_uri: str, model_dir: Path, versions: int) -> None:
    """Register `model_dir` as versions 1..N of `contactlens` (cheap: no run, no copy), champion on 1."""
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)
    client.create_registered_model("contactlens")
    for _ in range(versions):
        client.create_model_version("contactlens", source=str(model_dir))
    client.set_registered_model_alias("contactlens", "champion", "1")


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory, sample_model_dir: Path) -> Iterator[dict]:
    base = postgres_url()
    schema = f"w_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(base)
    with admin.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    home = tmp_path_factory.mktemp("workers")
    tracking = f"sqlite:///{home / 'mlflow.db'}"
    _register(tracking, sample_model_dir, versions=2)
    port = _free_port()
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "CONTACTLENS_HOME": str(home),
        "CONTACTLENS_DATABASE_URL": f"{base}?options=-csearch_path%3D{schema}",
        "CONTACTLENS_API_KEYS": KEYS,
        "CONTACTLENS_RELOAD_POLL_SECONDS": "1",
    }
    for name in ("CONTACTLENS_SESSION_SECRET", "CONTACTLENS_MODEL_URI", "PROMETHEUS_MULTIPROC_DIR"):
        env.pop(name, None)
    log = (home / "serve.log").open("w")
    cli = ["-c", "from contactlens.cli import main; main()"]
    cmd = [sys.executable, *cli, "serve", "--port", str(port), "--workers", "2"]
    proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT)
    # A new connection per request: a kept-alive one would stay with one worker.
    client = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30, headers={"Connection": "close"})
    try:
        _wait_for_two_workers(client, proc, home)
        yield {
            "client": client,
            "home": home,
            "tracking": tracking,
            "schema": schema,
            "log": home / "serve.log",
            "proc": proc,
        }
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
        client.close()
        with admin.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def _model_info(client: httpx.Client) -> dict[str, str]:
    """pid -> the version each worker serves, from /metrics (summed over workers in multiprocess mode)."""
    text = client.get("/metrics").text
    pattern = r'contactlens_model_info\{(?=[^}]*pid="(\d+)")(?=[^}]*version="([^"]+)")[^}]*\} 1\.0'
    return dict(re.findall(pattern, text))


def _wait_for_two_workers(client: httpx.Client, proc: subprocess.Popen, home: Path) -> None:
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError((home / "serve.log").read_text()[-3000:])
        try:
            if len(_model_info(client)) == 2:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise AssertionError("two workers did not start:\n" + (home / "serve.log").read_text()[-3000:])


def test_metrics_sum_every_worker(service) -> None:
    client = service["client"]
    before = _suggestions_total(client)
    for _ in range(12):
        r = client.post("/v1/suggest", json={"text": "my parcel is late"}, headers=HEADERS["logger"])
        assert r.status_code == 200
    # Whichever worker answers the scrape, it reports all 12 (without multiprocess mode: about 6).
    assert {_suggestions_total(client) - before for _ in range(6)} == {12}
    text = client.get("/metrics").text
    assert "contactlens_worker_resident_memory_bytes" in text


def test_a_contact_logged_at_once_links_a_suggestion_another_worker_answered(service) -> None:
    """Suggestion logs are written behind the answer by the worker that answered; a contact logged at once,
    on whichever worker, still finds its suggestion (the typing path does not wait for the INSERT)."""
    client = service["client"]  # a new connection per request: the two calls often reach different workers
    for i in range(16):
        text = f"my parcel is late again, order {i}"
        r = client.post("/v1/suggest", json={"text": text}, headers=HEADERS["logger"])
        assert r.status_code == 200
        sid = r.json()["suggestion_id"]
        contact = {"text": text, "channel": "web", "description": "late_delivery", "suggestion_id": sid}
        logged = client.post("/v1/contacts", json=contact, headers=HEADERS["logger"])
        assert logged.status_code == 201, logged.text
        assert logged.json()["suggestion_id"] == sid


def _suggestions_total(client: httpx.Client) -> float:
    text = client.get("/metrics").text
    return sum(float(v) for v in re.findall(r"^contactlens_suggestions_total\{[^}]*\} (\S+)$", text, re.M))


def test_a_review_session_holds_on_every_worker(service) -> None:
    client = service["client"]
    form = client.get("/ui/login")
    csrf = re.search(r'name="csrf" value="([^"]+)"', form.text)[1]  # type: ignore[index]
    signed_in = client.post("/ui/login", data={"key": REVIEWER, "csrf": csrf}, follow_redirects=False)
    assert signed_in.status_code == 303, signed_in.text[:300]
    pages = [client.get("/ui/queue", follow_redirects=False).status_code for _ in range(16)]
    assert pages == [200] * 16  # no worker bounces the session to sign-in
    secret = service["home"] / "session.secret"
    assert secret.is_file() and oct(secret.stat().st_mode & 0o777) == "0o600"
    assert f"session secret kept in {secret}" in service["log"].read_text()


def test_a_reload_reaches_every_worker(service) -> None:
    from mlflow import MlflowClient

    client = service["client"]
    assert set(_model_info(client).values()) == {"contactlens/1"}
    MlflowClient(service["tracking"], registry_uri=service["tracking"]).set_registered_model_alias(
        "contactlens", "champion", "2"
    )
    r = client.post("/v1/admin/reload", headers=HEADERS["analyst"])  # reaches one worker; the other polls
    assert r.status_code == 200, r.text
    deadline = time.monotonic() + 60
    while set(_model_info(client).values()) != {"contactlens/2"} and time.monotonic() < deadline:
        time.sleep(0.5)
    assert set(_model_info(client).values()) == {"contactlens/2"}
    versions = {client.get("/v1/model", headers=HEADERS["analyst"]).json()["version"] for _ in range(16)}
    assert versions == {"contactlens/2"}


def test_the_schema_was_migrated_once(service) -> None:
    engine = sa.create_engine(postgres_url())
    with engine.connect() as conn:
        version = conn.execute(sa.text(f'SELECT version_num FROM "{service["schema"]}".alembic_version'))
        assert len(version.all()) == 1
    engine.dispose()
    assert "UniqueViolation" not in service["log"].read_text()


def _alive(pid: int) -> bool:
    """Running (not gone, not a zombie its parent has yet to reap)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_a_worker_that_dies_is_replaced_and_the_port_keeps_answering(service) -> None:
    """Each worker listens on its own socket (service/supervisor.py): a dead worker's socket goes with it, so
    new connections reach the others at once, and the supervisor starts a replacement."""
    client = service["client"]  # a new connection per request
    pids = set(_model_info(client))
    assert len(pids) == 2
    dead = int(sorted(pids)[0])
    os.kill(dead, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while _alive(dead) and time.monotonic() < deadline:
        time.sleep(0.01)
    # Connections that reach a worker's socket as it dies are reset (seen up to 50 ms after its exit here).
    time.sleep(0.2)
    codes = [
        client.post("/v1/suggest", json={"text": "my parcel is late"}, headers=HEADERS["logger"]).status_code
        for _ in range(20)
    ]
    assert codes == [200] * 20
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        now = set(_model_info(client))
        if len(now) == 2 and str(dead) not in now:
            break
        time.sleep(0.5)
    now = set(_model_info(client))
    assert len(now) == 2 and str(dead) not in now, now  # the dead one's live gauges are gone too
    said = service["log"].read_text()
    assert f"Worker process [{dead}] ended (exit code -9)" in said and "starting another" in said


def test_stopping_the_service_stops_every_worker(service) -> None:
    """Last in this module: SIGTERM to the supervisor ends its workers (after their requests in hand), then
    itself."""
    pids = [int(pid) for pid in _model_info(service["client"])]
    assert len(pids) == 2
    proc = service["proc"]
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(60) == 0
    assert not [pid for pid in pids if _alive(pid)]
