"""`contactlens serve --workers N` shares the cores out among the workers' suggest batch threads."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from contactlens.settings import Settings
from service import cli

ENV = "CONTACTLENS_SUGGEST_BATCH_WORKERS"


@pytest.fixture
def settings_from_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """Settings as `serve` reads them (from the environment), with the other multi-worker decisions made."""
    monkeypatch.setenv("CONTACTLENS_HOME", str(tmp_path))
    monkeypatch.setenv("CONTACTLENS_SESSION_SECRET", "s" * 32)
    monkeypatch.setenv("CONTACTLENS_RELOAD_POLL_SECONDS", "1")
    monkeypatch.setenv(cli.MULTIPROC_ENV, str(tmp_path / "prometheus"))
    monkeypatch.delenv(ENV, raising=False)
    return lambda: Settings()


@pytest.mark.parametrize(("cores", "workers", "each"), [(2, 2, "1"), (2, 4, "1"), (8, 2, "4"), (3, 2, "1")])
def test_the_cores_are_shared_out(
    settings_from_env,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    cores: int,
    workers: int,
    each: str,
) -> None:
    monkeypatch.setattr(os, "sched_getaffinity", lambda _pid: set(range(cores)), raising=False)
    env = cli._worker_environment(settings_from_env(), workers)
    assert env[ENV] == each
    assert f"{each} thread(s): {cores} core(s) shared by {workers} workers" in capsys.readouterr().err


def test_a_chosen_number_is_kept(settings_from_env, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV, "3")
    settings = settings_from_env()
    assert settings.suggest_batch_workers == 3
    assert ENV not in cli._worker_environment(settings, 2)
