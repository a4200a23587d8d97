"""Dependencies the routes share: settings, the served model, a database session, validation helpers."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Annotated, Any, NoReturn

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from contactlens import reviews
from contactlens.model import ContactModel
from contactlens.routing import owners
from contactlens.settings import Settings
from contactlens.store import UNAVAILABLE, ReviewDecision, classify_error, short_error
from service.schemas import Labelled, ReviewDecisionCreate

log = logging.getLogger(__name__)

# The trivial dependencies are `async def`: FastAPI would run a plain `def` in the threadpool, a hop each.


async def get_settings(request: Request) -> Settings:
    return request.app.state.settings


async def get_model(request: Request) -> ContactModel:
    """The model serving now. Read once per request, so a reload mid-request does not change it."""
    return request.app.state.model


def get_session(request: Request) -> Iterator[Session]:
    """One session per request; each write is one `session.begin()` transaction: nothing half-written."""
    with request.app.state.sessions() as session:
        yield session


SettingsDep = Annotated[Settings, Depends(get_settings)]
ModelDep = Annotated[ContactModel, Depends(get_model)]
SessionDep = Annotated[Session, Depends(get_session)]


def invalid(field: str, message: str, value: Any = None, where: str = "body") -> NoReturn:
    """Raise a 422 in the same shape as FastAPI's own validation errors, naming `field`."""
    loc: tuple[str | int, ...] = (where, *field.split("."))
    raise RequestValidationError([{"loc": loc, "msg": message, "type": "value_error", "input": value}])


def check_lengths(texts: list[str], settings: Settings, field: str = "text") -> None:
    """Refuse verbatims over `settings.max_text_chars`, naming the field (and index in a batch)."""
    limit = settings.max_text_chars
    for i, t in enumerate(texts):
        if len(t) > limit:
            name = f"{field}.{i}" if field == "texts" else field
            invalid(name, f"is {len(t)} characters long, at most {limit} are allowed", f"{t[:40]}...")


def check_description(model: ContactModel, description: str, field: str = "description") -> str:
    """An active description id of the served taxonomy (an old id is migrated), else a 422 naming `field`."""
    tax = model.taxonomy
    did = tax.migrate(description)
    if did not in tax.descriptions:
        invalid(field, f"unknown description id '{description}' (taxonomy {tax.version})", description)
    if not tax.descriptions[did].active:
        invalid(field, f"description '{description}' is retired in taxonomy {tax.version}", description)
    return did


def check_descriptions(model: ContactModel, body: Labelled) -> list[tuple[str, str, str | None]]:
    """A request's descriptions as (id, group, sentiment), primary first, each an active id of the served
    taxonomy (old ids migrated) listed once; else a 422 naming the field and position.

    `description` alone is the primary alone (with `sentiment`); `descriptions` lists them all; with both,
    `description` must be the first of `descriptions`. `sentiment` is the primary's: with a sentiment on
    `descriptions[0]` as well, the two must agree.
    """
    tax = model.taxonomy
    if body.descriptions is None:
        if body.description is None:
            invalid("description", "give the description id, or a list of them as descriptions")
        did = check_description(model, body.description)
        return [(did, tax.descriptions[did].group, body.sentiment)]
    if not body.descriptions:
        invalid("descriptions", "is empty: list at least one description, the primary first", [])
    seen: dict[str, int] = {}
    out = []
    for i, choice in enumerate(body.descriptions):
        did = check_description(model, choice.id, f"descriptions.{i}.id")
        if did in seen:
            now = "" if did == choice.id else f" (now '{did}')"
            invalid(
                f"descriptions.{i}.id",
                f"'{choice.id}'{now} is already listed as descriptions.{seen[did]}: "
                "list each description once",
                choice.id,
            )
        seen[did] = i
        out.append((did, tax.descriptions[did].group, choice.sentiment))
    if body.description is not None:
        primary = check_description(model, body.description)
        if primary != out[0][0]:
            invalid(
                "description",
                f"'{body.description}' is not the first of descriptions ('{body.descriptions[0].id}'): "
                "the first is the primary; send one of them or make them agree",
                body.description,
            )
    first = body.descriptions[0].sentiment
    if body.sentiment is not None and first is not None and body.sentiment != first:
        invalid(
            "sentiment",
            f"'{body.sentiment}' differs from descriptions.0.sentiment '{first}' (both are the primary's)",
            body.sentiment,
        )
    out[0] = (out[0][0], out[0][1], first or body.sentiment)
    return out


def review_threshold(model: ContactModel, settings: Settings) -> float:
    """The confidence below which a suggestion needs review: the setting, else the model's own."""
    return settings.review_threshold if settings.review_threshold is not None else model.review_threshold


def database_reachable(app: FastAPI, reachable: bool) -> None:
    """Tell the write-behind suggestion log what the rest of the app saw of the database: while it is known to
    be down, suggestions are answered without an id (as with an inline INSERT that failed), and the log's own
    next successful write says it is back."""
    writer = getattr(app.state, "suggestion_log", None)
    if writer is not None:
        writer.healthy = reachable


def note_database_error(app: FastAPI, exc: SQLAlchemyError, what: str) -> None:
    """Log a database error a route chose to survive (`what` says how); only an outage counts in db_errors."""
    kind = classify_error(exc)
    if kind == UNAVAILABLE:
        database_reachable(app, False)
        app.state.metrics.db_errors.inc()
        log.error("database unavailable: %s (%s)", what, short_error(exc))
    else:
        log.warning("database %s error: %s (%s)", kind, what, short_error(exc))


def decide_item(
    session: Session, model: ContactModel, item_id: int, body: ReviewDecisionCreate, reviewer: str
) -> ReviewDecision:
    """Validate a decision and record it in one transaction (the API and the review pages share it).

    Raises:
        RequestValidationError: an unknown, retired or repeated description id (422, `check_descriptions`).
        NotFoundError: no such item (404). AlreadyDecided: decided already and not `override` (409).
    """
    chosen = check_descriptions(model, body)
    with session.begin():
        return reviews.record_decision(
            session,
            item_id,
            chosen,
            reviewer,
            note=body.note,
            override=body.override,
            no_description_fits=body.no_description_fits,
            owners=owners(model.taxonomy),
            rescore=reviews.rescorer(model),
        )
