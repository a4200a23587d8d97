"""Open endpoints: `/healthz` (the process is up), `/readyz` (model and database ready), `/metrics`."""

from __future__ import annotations

import logging

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError
from starlette.concurrency import run_in_threadpool

from contactlens.store import PENDING, ReviewItem, ping, short_error, upgrade
from service.deps import database_reachable
from service.metrics import CONTENT_TYPE
from service.schemas import Health

log = logging.getLogger(__name__)
router = APIRouter(tags=["health"])


@router.get("/healthz", response_model=Health, response_model_exclude_none=True)
def healthz() -> Health:
    """The process is up."""
    return Health(status="ok")


@router.get("/readyz", response_model=Health, responses={503: {"model": Health}})
def readyz(request: Request) -> Response:
    """Ready when a model is loaded and the database answers (schema migrated); else 503 with the reason."""
    state = request.app.state
    model = getattr(state, "model", None)
    if model is None:
        return _not_ready("no model loaded")
    try:
        if not state.migrated:
            upgrade(state.engine)
            state.migrated = True
        ping(state.engine)
    except SQLAlchemyError as exc:
        database_reachable(request.app, False)
        reason = f"database unreachable: {short_error(exc)}"
        log.error("readyz: %s", reason)
        return _not_ready(reason, model.version)
    database_reachable(request.app, True)
    body = Health(status="ready", model_version=model.version, database="ok")
    return JSONResponse(body.model_dump(exclude_none=True))


@router.get("/metrics", include_in_schema=False)
async def metrics(request: Request) -> Response:
    """Prometheus metrics (all workers summed); the review queue depth is counted at scrape time."""
    state = request.app.state
    try:
        depth = await run_in_threadpool(_queue_depth, state.sessions)
        state.metrics.review_queue.set(depth)
    except SQLAlchemyError as exc:
        log.warning("metrics: review queue depth unavailable: %s", short_error(exc))
    return Response(state.metrics.render(), media_type=CONTENT_TYPE)


def _queue_depth(sessions) -> int:  # noqa: ANN001 - a sessionmaker
    with sessions() as session:
        return session.scalar(select(func.count()).where(ReviewItem.status == PENDING)) or 0


def _not_ready(reason: str, version: str | None = None) -> JSONResponse:
    body = Health(status="not ready", reason=reason, model_version=version, database=None)
    return JSONResponse(body.model_dump(exclude_none=True), status_code=503)
