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
from collections.abc import AsyncIterator, Callable
from typing import Any

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from sqlalchemy.exc import SQLAlchemyError
from starlette.concurrency import run_in_threadpool

from contactlens import redaction, text
from contactlens.errors import ContactLensError
from contactlens.model import ContactModel, limit_blas_threads
from contactlens.routing import backfill_owners
from contactlens.settings import Settings, get_settings
from contactlens.store import describe_url, make_engine, session_factory, short_error, upgrade
from service import docs, errors, reloader, ui
from service.api import admin, catalog, contacts, drift, health, reports, review, suggest
from service.auth import KeyRing
from service.batcher import MicroBatcher
from service.deps import database_reachable
from service.fastpath import SuggestShortCut
from service.limits import max_body_bytes
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
        max_body_size=max_body_bytes(settings),
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
        workers=settings.suggest_batch_workers,
        on_batch=app.state.metrics.suggest_batch.observe,
    )
    if settings.suggest_short_cut:  # inside LatencyMiddleware: timed and counted as the route is
        app.add_middleware(SuggestShortCut, fastapi_app=app)
    app.add_middleware(LatencyMiddleware, metrics=app.state.metrics)
    routers = [m.router for m in (suggest, contacts, review, catalog, reports, drift, admin, health)]
    routers.append(contacts.owners_router)
    for router in routers:
        app.include_router(errors.document(router))
    app.include_router(ui.router)  # the review pages (/ui)
    app.mount("/ui/static", StaticFiles(directory=ui.STATIC), name="ui-static")
    docs.mount(app)
    errors.install(app, [*routers, ui.router])  # the error answers (documented by `errors.document` above)
    return app


@contextlib.asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    state = app.state
    settings: Settings = state.settings
    limit_blas_threads(settings.blas_threads)
    state.engine = make_engine(settings.db_url)
    state.sessions = session_factory(state.engine)
    if settings.suggestion_log_queue > 0:
        state.suggestion_log = SuggestionLog(
            lambda: state.sessions,
            state.metrics,
            settings.suggestion_log_queue,
            linger_ms=settings.suggestion_log_linger_ms,
        )
    try:
        await run_in_threadpool(upgrade, state.engine)
        state.migrated = True
    except SQLAlchemyError as exc:  # serve suggestions anyway; writes answer 503 and /readyz says why
        log.error("database %s unavailable at start-up: %s", describe_url(state.engine), short_error(exc))
        database_reachable(app, False)
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
    # Beside serving, not in the way: spaCy's sentence splitter (a fraction of a second; a contact about
    # several things needs it), then Presidio + spaCy NER (seconds) unless raw text is stored. One after the
    # other, so that the splitter, which the typing path uses, does not wait on the NER pipeline's import.
    steps = [text.warm_up] + ([] if settings.store_raw_text else [redaction.warm_up])
    threading.Thread(target=_warm_up, args=(steps,), name="nlp-warm-up", daemon=True).start()
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


def _warm_up(steps: list[Callable[[], object]]) -> None:
    for step in steps:
        step()


def _load(uri: str, settings: Settings) -> ContactModel:
    from contactlens.registry import load_model

    return load_model(uri, settings)
