"""The one alias lookup: a missing alias is None, a registry that cannot be read stops the command."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

import contactlens.registry as registry
import training.promotion as promotion
from contactlens.cli import app
from contactlens.errors import ModelError
from contactlens.settings import Settings, get_settings
from tests.conftest import DATA, cli_error_line


class MissingError(Exception):
    error_code = "RESOURCE_DOES_NOT_EXIST"


class FakeClient:
    """An MLflow client holding aliases in a dict; `broken` makes every read fail as a locked database."""

    def __init__(self, broken: bool = False) -> None:
        self.aliases: dict[str, str] = {}
        self.tags: dict[tuple[str, str], str] = {}
        self.broken = broken

    def get_model_version_by_alias(self, name: str, alias: str) -> Any:
        if self.broken:
            raise RuntimeError("(sqlite3.OperationalError) database is locked\nmore detail")
        if alias not in self.aliases:
            raise MissingError(f"alias {alias} not found")
        return type("Version", (), {"version": self.aliases[alias]})

    def set_registered_model_alias(self, name: str, alias: str, version: str) -> None:
        self.aliases[alias] = version

    def delete_registered_model_alias(self, name: str, alias: str) -> None:
        del self.aliases[alias]

    def get_model_version(self, name: str, version: str) -> Any:
        return object()

    def set_model_version_tag(self, name: str, version: str, key: str, value: str) -> None:
        self.tags[(version, key)] = value


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> FakeClient:
    mc = FakeClient()
    monkeypatch.setattr(registry, "client", lambda settings: mc)
    monkeypatch.setattr(promotion, "client", lambda settings: mc)
    return mc


def test_a_missing_alias_is_none_and_an_unreadable_registry_is_an_error(fake: FakeClient):
    settings = Settings()
    assert registry.alias_version(settings, "champion") is None
    fake.aliases["champion"] = "3"
    assert registry.alias_version(settings, "champion") == "3"
    fake.broken = True
    with pytest.raises(
        ModelError, match=r"cannot read alias 'champion' of contactlens \(.*database is locked\)$"
    ):
        registry.alias_version(settings, "champion")
    assert registry.registry_version("models:/contactlens@champion", settings) is None  # polling goes on


def test_train_stops_before_training_when_the_champion_cannot_be_read(
    fake: FakeClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("CONTACTLENS_HOME", str(tmp_path))
    get_settings.cache_clear()
    fake.broken = True
    out = tmp_path / "artifact"
    result = CliRunner().invoke(
        app,
        [
            "train",
            "--data",
            str(DATA / "train.csv"),
            "--taxonomy",
            str(DATA / "taxonomy.yaml"),
            "--out",
            str(out),
        ],
    )
    assert "cannot read alias 'champion'" in cli_error_line(result)
    assert not out.exists() and fake.aliases == {}, "nothing trained, nothing made champion"
    get_settings.cache_clear()


def test_promotion_moves_champion_and_previous_and_retires_the_challenger(fake: FakeClient):
    settings = Settings()
    fake.aliases.update(champion="1", challenger="2")
    line = promotion.promote(settings, "2", "checked by hand", by="dana")
    assert line.startswith("promote: contactlens version 2 is the champion (was 1); by dana")
    assert fake.aliases == {"champion": "2", "previous": "1"}
    fake.aliases["challenger"] = "3"
    promotion.rollback(settings, "complaints", by="dana")
    assert fake.aliases == {"champion": "1", "previous": "2", "challenger": "3"}, "a newer candidate stays"
