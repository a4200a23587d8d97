"""Swapping the served model without a restart: on request (`POST /v1/admin/reload`) or by polling.

With several workers a request reaches one of them, so each worker also polls (`RELOAD_POLL_SECONDS`,
which `contactlens serve --workers N` turns on): the registry alias's version for `models:/NAME@ALIAS`, the
artifact's metadata.json for a directory. Every worker reloads within one poll interval of the change.

The new model is loaded and smoke-tested in a worker thread while the old one keeps answering; the swap is a
single attribute assignment, so requests that already hold the old model finish with it.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import time
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from starlette.concurrency import run_in_threadpool

from contactlens.errors import ContactLensError
from contactlens.model import ContactModel
from contactlens.registry import load_model
from contactlens.settings import Settings
from service.limits import release_memory

log = logging.getLogger(__name__)


class ReloadError(Exception):
    """A reload was refused; the old model keeps serving. `status` is the HTTP status to answer with."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def _load_checked(uri: str, settings: Settings) -> ContactModel:
    """The model at `uri`, loaded and smoke-tested; else ContactLensError saying why.

    A refused model is let go of before the error leaves this thread: the exception carries a message, not
    the frames holding the half-loaded model (its encoder session), and the heap is trimmed, so refused
    reloads do not pile up memory (about 20 MB each before).
    """
    try:
        return _load_and_test(uri, settings)
    except ContactLensError as exc:
        error = str(exc)
    except Exception as exc:  # anything else the loader throws: refuse all the same, never crash the app
        error = f"{type(exc).__name__}: {exc}"
        log.error("reload of %s failed: %s", uri, error)
    gc.collect()
    release_memory()
    raise ContactLensError(error)


def _load_and_test(uri: str, settings: Settings) -> ContactModel:
    model = load_model(uri, settings)
    try:  # a model that loads but cannot score (a broken encoder file) must never be swapped in
        result = model.suggest(["Where is my parcel? It was due yesterday."], top_k=1)[0]
        model.describe(result.top.id, 0.0)
    except Exception as exc:
        raise ContactLensError(
            f"{uri}: the model loads but fails a test suggestion ({type(exc).__name__}: {exc})"
        ) from None
    return model


async def reload(app: FastAPI) -> dict[str, Any]:
    """Load `settings.resolved_model_uri` and swap it in, or raise ReloadError (the old model stays)."""
    lock: asyncio.Lock = app.state.reload_lock
    if lock.locked():
        raise ReloadError(409, "a reload is already in progress")
    async with lock:
        uri = app.state.settings.resolved_model_uri
        old: ContactModel = app.state.model
        started = time.perf_counter()
        try:
            new = await run_in_threadpool(_load_checked, uri, app.state.settings)
        except ContactLensError as exc:
            app.state.metrics.reloads.labels("refused").inc()
            log.error("reload refused, still serving %s: %s", old.version, exc)
            raise ReloadError(422, f"reload refused, still serving {old.version}: {exc}") from None
        app.state.model = new  # the atomic swap
        app.state.metrics.reloads.labels("ok").inc()
        app.state.metrics.serving(new.version, new.taxonomy.version)
        log.info("reloaded model %s (was %s) from %s", new.version, old.version, uri)
        return {
            "reloaded": True,
            "model_version": new.version,
            "previous_version": old.version,
            "taxonomy_version": new.taxonomy.version,
            "seconds": round(time.perf_counter() - started, 3),
        }


def fingerprint(uri: str, settings: Settings) -> str | None:
    """What changes when the model behind `uri` does: the alias's version, or the artifact's metadata.json."""
    from contactlens.registry import registry_version

    if uri.startswith("models:/"):
        return registry_version(uri, settings)
    meta = Path(uri) / "metadata.json"
    try:
        stat = meta.stat()
    except OSError:
        return None
    return f"{stat.st_mtime_ns}:{stat.st_size}"


async def poll(app: FastAPI, every: float) -> None:
    """Reload whenever the alias points at another version, or the artifact directory was rewritten."""
    settings = app.state.settings
    uri = settings.resolved_model_uri
    seen = await run_in_threadpool(fingerprint, uri, settings)
    while True:
        await asyncio.sleep(every)
        now = await run_in_threadpool(fingerprint, uri, settings)
        if now is None or now == seen:
            continue
        log.info("%s changed (%s): reloading", uri, now)
        try:
            await reload(app)
        except ReloadError as exc:
            # Not retried every poll (a refused version stays refused); the next change is tried.
            log.error("polled reload failed: %s", exc)
        seen = now
