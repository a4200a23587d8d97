"""Dependencies the routes share: settings, the served model, a database session, validation helpers."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, Any, NoReturn

from fastapi import Depends, Request
from fastapi.exceptions import RequestValidationError
from sqlalchemy.orm import Session

from contactlens.model import ContactModel
from contactlens.settings import Settings

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


def review_threshold(model: ContactModel, settings: Settings) -> float:
    """The confidence below which a suggestion needs review: the setting, else the model's own."""
    return settings.review_threshold if settings.review_threshold is not None else model.review_threshold
