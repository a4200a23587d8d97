"""Resolving a model URI (`models:/NAME@ALIAS`, `models:/NAME/VERSION` or a directory) to a local artifact.

mlflow is imported only here and only for registry URIs, so serving from a directory never pays for it.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

from contactlens.artifact import METADATA_FILE, find_artifact
from contactlens.errors import ModelError, first_line
from contactlens.settings import Settings

_URI = re.compile(r"^models:/(?P<name>[^/@]+)(?:@(?P<alias>[\w\-]+)|/(?P<version>\d+))$")


@dataclass(frozen=True)
class ResolvedModel:
    path: Path
    version: str  # "NAME/VERSION" for registry models, else "DIRECTORY@HASH" (see `directory_version`)
    uri: str


def client(settings: Settings):  # noqa: ANN201 - MlflowClient, imported lazily
    import mlflow
    from mlflow import MlflowClient

    mlflow.set_tracking_uri(settings.tracking_uri)
    mlflow.set_registry_uri(settings.tracking_uri)
    return MlflowClient(tracking_uri=settings.tracking_uri, registry_uri=settings.tracking_uri)


def registry_version(uri: str, settings: Settings) -> str | None:
    """The version an alias points at now, or None when it points nowhere (for polling)."""
    m = _URI.match(uri)
    if not m or not m["alias"]:
        return None
    try:
        return str(client(settings).get_model_version_by_alias(m["name"], m["alias"]).version)
    except Exception:
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
    try:
        mc = client(settings)
        version = m["version"] or str(mc.get_model_version_by_alias(name, m["alias"]).version)
    except Exception as exc:
        raise ModelError(
            f"registry {settings.tracking_uri}: cannot resolve {uri} ({first_line(exc)})"
        ) from None
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
    import os
    import shutil
    import tempfile

    import mlflow

    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{version}-", dir=dest.parent))
    try:
        mlflow.artifacts.download_artifacts(artifact_uri=f"models:/{name}/{version}", dst_path=str(tmp))
        os.rename(tmp, dest)  # atomic; fails when another process got there first, which is as good
    except OSError:
        if find_artifact(dest) is None:
            raise ModelError(f"cannot store {name} version {version} in {dest}") from None
    except Exception as exc:
        raise ModelError(f"cannot download {name} version {version}: {first_line(exc)}") from None
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
