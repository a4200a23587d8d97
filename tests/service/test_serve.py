"""`contactlens serve`: bootstrapping a model when none is registered, migrating once, starting uvicorn."""

from __future__ import annotations

import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from fastapi.testclient import TestClient
from service_helpers import settings_for
from typer.testing import CliRunner

from contactlens.cli import app as cli_app
from contactlens.settings import get_settings

DATA = Path(__file__).resolve().parents[2] / "data"


@pytest.fixture
def serve_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """`serve` with uvicorn, the registry and training replaced by recorders."""
    import uvicorn

    import contactlens.registry
    import training.pipeline
    from service import supervisor

    calls: dict[str, Any] = {"trained": [], "registered": None}
    monkeypatch.setenv("CONTACTLENS_HOME", str(tmp_path))
    monkeypatch.setenv("CONTACTLENS_DATABASE_URL", f"sqlite:///{tmp_path / 'serve.db'}")
    monkeypatch.delenv("CONTACTLENS_MODEL_URI", raising=False)
    monkeypatch.setattr(uvicorn, "run", lambda target, **kw: calls.update(uvicorn=(target, kw)))

    def supervised(self: supervisor.Supervisor) -> None:
        calls["supervisor"] = (self.workers, self.host, self.port, self.config)

    monkeypatch.setattr(supervisor.Supervisor, "run", supervised)
    monkeypatch.setattr(contactlens.registry, "registry_version", lambda uri, s: calls["registered"])

    def fake_run(frame, tax, cfg, out, test, source, register, alias, encoder_dir, settings) -> Any:
        calls["trained"].append(
            {
                "rows": len(frame),
                "test": None if test is None else len(test),
                "alias": alias,
                "register": register,
                "taxonomy": tax.version,
            }
        )
        return SimpleNamespace(lines=["trained"])

    monkeypatch.setattr(training.pipeline, "run", fake_run)
    get_settings.cache_clear()
    yield calls
    get_settings.cache_clear()


def serve(*args: str):
    flags = ["--data", str(DATA / "train.csv"), "--taxonomy", str(DATA / "taxonomy.yaml")]
    flags += ["--eval-data", str(DATA / "test.csv")]
    return CliRunner().invoke(cli_app, ["serve", *args, *flags])


def test_bootstrap_trains_when_nothing_is_registered(serve_env: dict[str, Any], tmp_path: Path) -> None:
    result = serve("--bootstrap", "--port", "8123", "--workers", "2")
    assert result.exit_code == 0, result.output
    [trained] = serve_env["trained"]
    assert trained["alias"] == "champion" and trained["register"] is True and trained["rows"] > 1000
    assert trained["test"] and trained["taxonomy"]
    # Several workers: each on its own socket, started by the supervisor (uvicorn's run is not called).
    workers, host, port, config = serve_env["supervisor"]
    assert (workers, host, port) == (2, "127.0.0.1", 8123) and "uvicorn" not in serve_env
    assert config["app"] == "service.app:create_app" and config["factory"] is True
    assert (tmp_path / "serve.db").is_file()  # migrated once, before the workers start


def test_one_worker_is_uvicorn_itself(serve_env: dict[str, Any]) -> None:
    assert serve("--port", "8124").exit_code == 0
    target, kwargs = serve_env["uvicorn"]
    assert target == "service.app:create_app" and kwargs["factory"] is True
    assert (kwargs["host"], kwargs["port"], kwargs["workers"]) == ("127.0.0.1", 8124, 1)
    assert "supervisor" not in serve_env


def test_several_workers_refuse_a_port_in_use_before_preparing_anything(
    serve_env: dict[str, Any], tmp_path: Path
) -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = serve("--bootstrap", "--port", str(port), "--workers", "2")
    assert result.exit_code == 2 and f"cannot listen on 127.0.0.1:{port}" in result.output
    assert serve_env["trained"] == [] and "supervisor" not in serve_env
    assert not (tmp_path / "prometheus").exists()  # a running service's metrics would not be wiped


def test_bootstrap_serves_a_registered_model_as_it_is(serve_env: dict[str, Any]) -> None:
    serve_env["registered"] = "3"
    result = serve("--bootstrap")
    assert result.exit_code == 0 and "is registered: serving it" in result.output
    assert serve_env["trained"] == [] and "uvicorn" in serve_env


def test_without_bootstrap_nothing_is_trained(serve_env: dict[str, Any]) -> None:
    assert serve().exit_code == 0 and serve_env["trained"] == []


def test_bootstrap_refuses_a_missing_model_directory(
    serve_env: dict[str, Any], monkeypatch, tmp_path
) -> None:
    monkeypatch.setenv("CONTACTLENS_MODEL_URI", str(tmp_path / "nowhere"))
    get_settings.cache_clear()
    result = serve("--bootstrap")
    assert result.exit_code == 2 and "no model there" in result.output
    assert "uvicorn" not in serve_env


def test_polling_reloads_when_the_alias_moves(
    tmp_path: Path, sample_model, sample_model_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import contactlens.registry
    import service.reloader
    from service.app import create_app

    versions = iter(["1", "1", "2"])
    monkeypatch.setattr(contactlens.registry, "registry_version", lambda uri, s: next(versions, "2"))

    class Renamed:
        def __init__(self, inner) -> None:
            self._inner, self.version = inner, "contactlens/2"

        def __getattr__(self, name: str):
            return getattr(self._inner, name)

    loaded: list[str] = []
    monkeypatch.setattr(
        service.reloader, "load_model", lambda uri, settings=None: loaded.append(uri) or Renamed(sample_model)
    )
    settings = settings_for(
        tmp_path, sample_model_dir, model_uri="models:/contactlens@champion", reload_poll_seconds=0.05
    )
    with TestClient(create_app(settings, sample_model)) as client:
        deadline = time.monotonic() + 10
        while client.app.state.model.version != "contactlens/2" and time.monotonic() < deadline:
            time.sleep(0.05)  # the app runs in the TestClient's own thread
        assert client.app.state.model.version == "contactlens/2"
        assert loaded == ["models:/contactlens@champion"]
