"""Offline API docs, `--version`, metrics with the model's version, and migrations under a lock."""

from __future__ import annotations

import threading
import uuid

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from contactlens.cli import app as cli_app


def test_docs_and_redoc_load_their_scripts_from_the_service(client: TestClient) -> None:
    for page, script in (("/docs", "swagger-ui-bundle.js"), ("/redoc", "redoc.standalone.js")):
        html = client.get(page).text
        assert f'src="/docs-static/{script}"' in html
        assert "cdn" not in html.lower() and "fonts.googleapis" not in html
        asset = client.get(f"/docs-static/{script}")
        assert asset.status_code == 200 and len(asset.content) > 100_000
    assert client.get("/docs-static/swagger-ui.css").status_code == 200


def test_version_flag_prints_the_installed_version() -> None:
    from importlib.metadata import version

    result = CliRunner().invoke(cli_app, ["--version"])
    assert result.exit_code == 0 and result.output.strip() == f"contactlens {version('contactlens')}"


def test_metrics_show_the_served_model_and_the_process(client: TestClient) -> None:
    text = client.get("/metrics").text
    model = client.app.state.model  # type: ignore[attr-defined]
    line = (
        f'contactlens_model_info{{taxonomy_version="{model.taxonomy.version}",version="{model.version}"}} 1.0'
    )
    assert line in text
    assert "process_resident_memory_bytes" in text


@pytest.mark.postgres
def test_concurrent_migrations_on_postgresql_take_turns() -> None:
    """Four processes' worth of start-ups migrating one empty schema at once: one creates, none fails."""
    import sqlalchemy as sa

    from contactlens.store import make_engine, upgrade
    from tests.service.conftest import postgres_url

    base = postgres_url()
    schema = f"m_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(base)
    with admin.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    errors: list[BaseException] = []
    barrier = threading.Barrier(4)

    def start() -> None:
        # lock_timeout: without the migration lock the start-ups deadlock; fail instead of hanging.
        engine = make_engine(f"{base}?options=-csearch_path%3D{schema}%20-clock_timeout%3D20000")
        try:
            barrier.wait()
            upgrade(engine)
        except BaseException as exc:  # noqa: BLE001 - collected and asserted below
            errors.append(exc)
        finally:
            engine.dispose()

    try:
        threads = [threading.Thread(target=start) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert not any(t.is_alive() for t in threads)
        assert errors == []
        with admin.connect() as conn:
            rows = conn.execute(sa.text(f'SELECT count(*) FROM "{schema}".alembic_version')).scalar()
        assert rows == 1
    finally:
        with admin.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()
