"""The model registry: aliases, and loading a model by URI (`models:/NAME@ALIAS`, `models:/NAME/VERSION` or a
directory).

mlflow is imported only here and only for registry URIs, so serving from a directory never pays for it. Every
command reads an alias through `alias_version`: a registry that cannot be read stops the command.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlparse

from contactlens.artifact import METADATA_FILE, find_artifact
from contactlens.errors import ModelError, first_line
from contactlens.settings import Settings, get_settings

if TYPE_CHECKING:
    from contactlens.model import ContactModel

log = logging.getLogger(__name__)
_BARS = "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR"

_URI = re.compile(r"^models:/(?P<name>[^/@]+)(?:@(?P<alias>[\w\-]+)|/(?P<version>\d+))$")


@dataclass(frozen=True)
class ResolvedModel:
    path: Path
    version: str  # "NAME/VERSION" for registry models, else "DIRECTORY@HASH" (see `directory_version`)
    uri: str


def client(settings: Settings):  # noqa: ANN201 - MlflowClient, imported lazily
    import mlflow
    from mlflow import MlflowClient

    # A new SQLite store announces its tables at INFO on stderr; commands print their own lines.
    for name in ("mlflow.store.db.utils", "alembic.runtime.migration"):
        logging.getLogger(name).setLevel(logging.WARNING)
    mlflow.set_tracking_uri(settings.tracking_uri)
    mlflow.set_registry_uri(settings.tracking_uri)
    return MlflowClient(tracking_uri=settings.tracking_uri, registry_uri=settings.tracking_uri)


def check_registry(settings: Settings) -> None:
    """Fail fast, in one line, when an HTTP tracking server does not answer (MLflow retries for minutes)."""
    uri = settings.tracking_uri
    parsed = urlparse(uri)
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        return
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    try:
        socket.create_connection((parsed.hostname, port), timeout=3).close()
    except OSError as exc:
        raise ModelError(
            f"registry {uri} is unreachable ({exc.strerror or exc}); nothing was changed"
        ) from None


def alias_version(settings: Settings, alias: str, name: str | None = None) -> str | None:
    """The version `alias` of model `name` (default: the configured one) points at, or None.

    The one alias lookup of the project; None means the alias (or the model) does not exist.

    Raises:
        ModelError: the registry cannot be read (unreachable, corrupt, no permission): the caller must stop
            rather than take "no champion" for an answer.
    """
    check_registry(settings)
    name = name or settings.registered_model_name
    try:
        return str(client(settings).get_model_version_by_alias(name, alias).version)
    except Exception as exc:
        if getattr(exc, "error_code", "") in ("RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE"):
            return None
        raise ModelError(
            f"registry {settings.tracking_uri}: cannot read alias '{alias}' of {name} ({first_line(exc)})"
        ) from None


def set_alias(settings: Settings, alias: str, version: str) -> None:
    client(settings).set_registered_model_alias(settings.registered_model_name, alias, version)


def delete_alias(settings: Settings, alias: str) -> None:
    client(settings).delete_registered_model_alias(settings.registered_model_name, alias)


def registry_version(uri: str, settings: Settings) -> str | None:
    """The version an alias URI points at now, or None when it points nowhere or cannot be read (polling)."""
    m = _URI.match(uri)
    if not m or not m["alias"]:
        return None
    try:
        return alias_version(settings, m["alias"], m["name"])
    except ModelError as exc:
        log.warning("%s", exc)
        return None


def resolve(uri: str, settings: Settings) -> ResolvedModel:
    """A local directory holding the artifact that `uri` names, downloading from the registry if needed."""
    m = _URI.match(uri)
    if m is None:
        path = Path(uri)
        if uri.startswith("models:/"):
            raise ModelError(f"'{uri}' is not a registry URI: use models:/NAME@ALIAS or models:/NAME/VERSION")
        if not (path / METADATA_FILE).is_file():
            raise ModelError(f"{path}: not a ContactLens model directory (no {METADATA_FILE})")
        return ResolvedModel(path, directory_version(path), uri)
    name = m["name"]
    version = m["version"] or alias_version(settings, m["alias"], name)
    if version is None:
        raise ModelError(f"registry {settings.tracking_uri}: cannot resolve {uri} (no such alias or model)")
    dest = settings.home / "registry-cache" / name / version
    found = find_artifact(dest)
    if found is None:
        _download(name, version, dest)
        found = find_artifact(dest)
    if found is None:
        raise ModelError(f"{name} version {version} holds no ContactLens artifact")
    return ResolvedModel(found, f"{name}/{version}", uri)


def directory_version(path: Path) -> str:
    """The directory's name and a hash of its metadata (which differs for every training run), so two
    models written to one path in turn are told apart: `live@3f2a9c1b0d4e`."""
    digest = hashlib.sha256((path / METADATA_FILE).read_bytes()).hexdigest()[:12]
    return f"{path.name}@{digest}"


def _download(name: str, version: str, dest: Path) -> None:
    """Download a version into `dest` atomically: workers starting together never read a half-copied model."""
    import shutil
    import tempfile

    import mlflow

    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{version}-", dir=dest.parent))
    try:
        with quiet_mlflow():
            mlflow.artifacts.download_artifacts(artifact_uri=f"models:/{name}/{version}", dst_path=str(tmp))
        os.rename(tmp, dest)  # atomic; fails when another process got there first, which is as good
    except OSError:
        if find_artifact(dest) is None:
            raise ModelError(f"cannot store {name} version {version} in {dest}") from None
    except Exception as exc:
        raise ModelError(f"cannot download {name} version {version}: {first_line(exc)}") from None
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def load_model(uri: str | None, settings: Settings | None = None, threads: int | None = None) -> ContactModel:
    """Load a model from a directory or the registry, recording the registry version it came from.

    `threads` overrides the encoder's intra-op threads: batch scoring wants every core, serving wants one.
    """
    from contactlens.model import ContactModel

    settings = settings or get_settings()
    resolved = resolve(uri or settings.resolved_model_uri, settings)
    model = ContactModel.load(resolved.path, encoder_threads=threads or settings.encoder_threads)
    model.metadata["model_version"] = resolved.version
    return model


@contextmanager
def quiet_mlflow() -> Iterator[None]:
    """Silence MLflow's "Downloading artifacts" progress bars while a block runs (a CLI prints one line)."""
    old = os.environ.get(_BARS)
    os.environ[_BARS] = "false"
    try:
        yield
    finally:
        if old is None:
            os.environ.pop(_BARS, None)
        else:
            os.environ[_BARS] = old
