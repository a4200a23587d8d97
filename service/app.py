"""The FastAPI application: `create_app(settings)` wires the model, the store, auth, metrics and the routers.

Run it with `contactlens serve` (uvicorn on this factory). The model and the database engine are created in
the lifespan and kept on `app.state`; routes reach them through `service.deps`.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import threading
from collections.abc import AsyncIterator
from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from starlette.concurrency import run_in_threadpool

from contactlens import redaction
from contactlens.errors import ConflictError, ContactLensError, NotFoundError
from contactlens.model import ContactModel
from contactlens.routing import backfill_owners
from contactlens.settings import Settings, get_settings
from contactlens.store import describe_url, make_engine, session_factory, short_error, upgrade
from service import docs, reloader, ui
from service.api import admin, catalog, contacts, drift, health, reports, review, suggest
from service.auth import KeyRing
from service.batcher import MicroBatcher
from service.metrics import LatencyMiddleware, Metrics
from service.suggestion_log import SuggestionLog

log = logging.getLogger(__name__)

DESCRIPTION = """Suggest contact descriptions while a contact is logged, store every contact centrally and
queue the doubtful ones for review. Send an API key in the `X-API-Key` header: roles `logger` (suggest, log
and read contacts), `reviewer` (review queue, read contacts), `analyst` (everything, reports, reload)."""


def create_app(settings: Settings | None = None, model: ContactModel | None = None) -> FastAPI:
    """Build the app. Without `model`, the lifespan loads `settings.resolved_model_uri`."""
    settings = settings or get_settings()
    app = FastAPI(
        title="ContactLens",
        version="1",
        description=DESCRIPTION,
        lifespan=_lifespan,
        docs_url=None,  # served from local files below, not a CDN
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.model = model
    app.state.keys = KeyRing(settings.bootstrap_keys())
    app.state.metrics = Metrics()
    app.state.reload_lock = asyncio.Lock()
    app.state.migrated = False
    app.state.suggest_batcher = MicroBatcher(
        functools.partial(suggest.answer_batch, app),
        max_batch=settings.suggest_batch_max,
        max_wait_ms=settings.suggest_batch_wait_ms,
        on_batch=app.state.metrics.suggest_batch.observe,
    )
    app.add_middleware(LatencyMiddleware, metrics=app.state.metrics)
    for module in (suggest, contacts, review, catalog, reports, drift, admin, health):
        app.include_router(module.router)
    app.include_router(contacts.owners_router)
    app.include_router(ui.router)  # the review pages (/ui)
    app.mount("/ui/static", StaticFiles(directory=ui.STATIC), name="ui-static")
    docs.mount(app)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(IntegrityError, _conflict)
    app.add_exception_handler(SQLAlchemyError, _database_down)
    app.add_exception_handler(ContactLensError, _contactlens_error)
    return app


@contextlib.asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    state = app.state
    settings: Settings = state.settings
    state.engine = make_engine(settings.db_url)
    state.sessions = session_factory(state.engine)
    if settings.suggestion_log_queue > 0:
        state.suggestion_log = SuggestionLog(
            lambda: state.sessions, state.metrics, settings.suggestion_log_queue
        )
    try:
        await run_in_threadpool(upgrade, state.engine)
        state.migrated = True
    except SQLAlchemyError as exc:  # serve suggestions anyway; writes answer 503 and /readyz says why
        log.error("database %s unavailable at start-up: %s", describe_url(state.engine), short_error(exc))
    if state.model is None:
        try:
            state.model = await run_in_threadpool(_load, settings.resolved_model_uri, settings)
        except ContactLensError as exc:
            log.error(
                "cannot serve: %s; train one (`contactlens train`) or run `contactlens serve --bootstrap`",
                exc,
            )
            _close_suggestion_log(state)
            state.engine.dispose()
            raise
    if state.migrated:
        await run_in_threadpool(_backfill_owners, state)
    await run_in_threadpool(state.model.suggest, ["warm up the encoder"], 1)  # the first ONNX run is slow
    if not settings.store_raw_text:  # load Presidio + spaCy NER (seconds) beside serving, not in the way
        threading.Thread(target=redaction.warm_up, name="redaction-warm-up", daemon=True).start()
    log.info("serving model %s (taxonomy %s)", state.model.version, state.model.taxonomy.version)
    state.metrics.serving(state.model.version, state.model.taxonomy.version)
    tasks = []
    if settings.reload_poll_seconds > 0:
        tasks.append(asyncio.create_task(reloader.poll(app, settings.reload_poll_seconds)))
    if state.metrics.multiprocess:
        tasks.append(asyncio.create_task(state.metrics.refresh_every(15.0)))
    if settings.purge_daily:
        tasks.append(asyncio.create_task(_purge_daily(app)))
    try:
        yield
    finally:
        for task in tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await state.suggest_batcher.close()
        await run_in_threadpool(_close_suggestion_log, state)
        state.metrics.close()
        state.engine.dispose()


def _backfill_owners(state: Any) -> None:
    """Route contacts stored without an owner (before migration 0003) by the served taxonomy."""
    try:
        with state.sessions() as session, session.begin():
            filled = backfill_owners(session, state.model.taxonomy)
    except SQLAlchemyError as exc:
        log.error("could not fill contacts' owners: %s", short_error(exc))
        return
    if filled:
        log.info(
            "filled the owner of %d stored contact rows from taxonomy %s",
            filled,
            state.model.taxonomy.version,
        )


def _close_suggestion_log(state: Any) -> None:
    writer = getattr(state, "suggestion_log", None)
    if writer is not None:
        writer.close()
        state.suggestion_log = None


async def _purge_daily(app: FastAPI, every_seconds: float = 3600.0) -> None:
    """Hourly, try the daily purge; `scheduled_purge` lets one worker of several run it each day."""
    from contactlens.retention import scheduled_purge

    while True:
        try:
            counts = await run_in_threadpool(
                scheduled_purge, app.state.sessions, app.state.settings.retention_days
            )
            if counts is not None:
                log.info("daily purge: %s", counts)
        except SQLAlchemyError as exc:  # the database may be down for a while: try again next hour
            log.warning("daily purge failed: %s", short_error(exc))
        await asyncio.sleep(every_seconds)


def _load(uri: str, settings: Settings) -> ContactModel:
    from contactlens.registry import load_model

    return load_model(uri, settings)


# ------------------------------------------------------------------------------------------------ errors


def _field(loc: tuple[Any, ...]) -> str:
    parts = (
        [str(p) for p in loc[1:]] if len(loc) > 1 and loc[0] in ("body", "query", "path", "header") else []
    )
    return ".".join(parts) or str(loc[0] if loc else "body")


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    """422 with FastAPI's error list and one line naming the field. Inputs are not echoed (verbatims)."""
    assert isinstance(exc, RequestValidationError)
    errors: list[dict[str, Any]] = [
        {k: v for k, v in e.items() if k not in ("input", "url")} for e in exc.errors()
    ]
    first: dict[str, Any] = errors[0] if errors else {"loc": ("body",), "msg": "invalid request", "type": ""}
    if first.get("type") == "json_invalid":
        pos = first["loc"][1] if len(first["loc"]) > 1 else "?"
        reason = (first.get("ctx") or {}).get("error", first["msg"])
        message = f"field 'body': invalid JSON at position {pos}: {reason}"
    else:
        message = f"field '{_field(tuple(first['loc']))}': {first['msg']}"
    if len(errors) > 1:
        message += f" (and {len(errors) - 1} more)"
    return JSONResponse({"detail": jsonable_encoder(errors), "message": message}, status_code=422)


async def _conflict(request: Request, exc: Exception) -> JSONResponse:
    log.warning("%s %s conflicts with stored data: %s", request.method, request.url.path, short_error(exc))
    return JSONResponse({"detail": "the request conflicts with stored data (a duplicate?)"}, status_code=409)


async def _database_down(request: Request, exc: Exception) -> JSONResponse:
    request.app.state.metrics.db_errors.inc()
    log.error(
        "database unavailable: %s %s refused with 503, nothing stored (%s)",
        request.method,
        request.url.path,
        short_error(exc),
    )
    detail = "the database is unavailable; nothing was stored, try again later"
    return JSONResponse({"detail": detail}, status_code=503, headers={"Retry-After": "5"})


async def _contactlens_error(request: Request, exc: Exception) -> JSONResponse:
    """A domain error as its HTTP status: 404 not found, 409 conflict, else 422 (the input is unusable)."""
    status = 404 if isinstance(exc, NotFoundError) else 409 if isinstance(exc, ConflictError) else 422
    return JSONResponse({"detail": str(exc)}, status_code=status)
