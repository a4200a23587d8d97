"""The service's error answers and their documentation: every route's possible 401, 403, 404, 409, 413, 422
and 503 are listed in the OpenAPI with the body they carry.

Database errors are answered by what they mean (`contactlens.store.classify_error`): only a lost or refused
connection is "the database is unavailable" (503, counted in `db_errors`); a lock is "busy" (503, no
outage); a value the database refuses is a 422 and a constraint a 409.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import APIRouter, FastAPI, HTTPException, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.routing import APIRoute
from fastapi.utils import create_model_field
from sqlalchemy.exc import SQLAlchemyError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from contactlens.errors import ConflictError, ContactLensError, NotFoundError
from contactlens.settings import ROLES
from contactlens.store import BUSY, CONFLICT, INVALID, UNAVAILABLE, classify_error, short_error
from service.auth import authenticate, route_roles
from service.deps import database_reachable, get_session
from service.schemas import ErrorPublic, ValidationErrorPublic

log = logging.getLogger(__name__)


def install(app: FastAPI, routers: list[APIRouter]) -> None:
    """Register the handlers; `routers` are the ones included (a 405 lists the methods their routes allow)."""
    app.state.api_routes = [r for router in routers for r in router.routes if isinstance(r, APIRoute)]
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(SQLAlchemyError, _database_error)
    app.add_exception_handler(ContactLensError, _contactlens_error)


def document(router: APIRouter) -> APIRouter:
    """Add each route's possible errors to its OpenAPI responses (before the router is included)."""
    for route in router.routes:
        if isinstance(route, APIRoute) and route.include_in_schema:
            extra = {code: r for code, r in _possible_errors(route).items() if code not in route.responses}
            route.responses = {**extra, **route.responses}
            for code, response in extra.items():  # what APIRoute builds from `responses` when created
                name = f"Response_{code}_{route.unique_id}"
                field = create_model_field(name, response["model"], mode="serialization")
                route.response_fields[code] = field
    return router


_WHY = {
    401: "No API key, or an unknown or revoked one.",
    403: "The key's role may not do this.",
    404: "No such item.",
    409: "The request conflicts with stored data (already logged, already decided, a reload running).",
    413: "The request is too large (body size, characters in all: `max_request_chars`, or a batch's scoring "
    "cost: `max_request_tokens`).",
    503: "The database is unavailable or busy, or the request ran over its time budget; retry later.",
}


def _possible_errors(route: APIRoute) -> dict[int | str, dict[str, Any]]:
    codes: set[int] = set()
    roles = route_roles(route)
    if roles is not None or _uses_session(route.dependant):
        codes.add(503)  # a stored key is looked up, or the route reads or stores
    if roles is not None:
        codes.add(401)
        if set(ROLES) - roles:
            codes.add(403)
    if "{" in route.path:
        codes.add(404)
    if route.body_field is not None:
        codes.add(413)
    if "POST" in (route.methods or set()) and _uses_session(route.dependant):
        codes.add(409)
    if route.path.endswith("/reload"):
        codes.add(409)
    out: dict[int | str, dict[str, Any]] = {c: {"model": ErrorPublic, "description": _WHY[c]} for c in codes}
    dep = route.dependant
    if dep.query_params or dep.path_params or route.body_field or "POST" in (route.methods or set()):
        why = "Invalid input; `message` names the field."
        out[422] = {"model": ValidationErrorPublic, "description": why}
    return out


def _uses_session(dependant: Any) -> bool:
    return any(d.call is get_session or _uses_session(d) for d in dependant.dependencies)


def _field(loc: tuple[Any, ...]) -> str:
    parts = (
        [str(p) for p in loc[1:]] if len(loc) > 1 and loc[0] in ("body", "query", "path", "header") else []
    )
    return ".".join(parts) or str(loc[0] if loc else "body")


async def _validation_error(request: Request, exc: Exception) -> Response:
    """422 with FastAPI's error list and one line naming the field. Inputs are not echoed (verbatims).

    A route that needs a key checks it first: without a valid key the answer is 401 (or 403), whatever the
    body holds, so a caller learns nothing about the API from its validation messages.
    """
    assert isinstance(exc, RequestValidationError)
    roles = route_roles(request.scope.get("route"))
    if roles is not None:
        try:
            await authenticate(request, request.headers.get("X-API-Key"), roles)
        except HTTPException as refused:
            return await http_exception_handler(request, refused)
        except SQLAlchemyError as failed:  # a stored key could not be looked up
            return await _database_error(request, failed)
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


def unprocessable(message: str, where: str = "body") -> JSONResponse:
    """A 422 in the documented shape (`detail` a list of errors, `message` one line) for a whole request."""
    return JSONResponse({"detail": [_body_error(message, where)], "message": message}, status_code=422)


_UNPARSABLE = "There was an error parsing the body"


def _body_error(message: str, where: str = "body") -> dict[str, Any]:
    return {"loc": [where], "msg": message, "type": "value_error"}


async def _http_error(request: Request, exc: Exception) -> Response:
    """FastAPI's answer, but a 405 lists every method the path allows and a 422 keeps the documented shape."""
    assert isinstance(exc, StarletteHTTPException)
    if exc.status_code == 400 and exc.detail == _UNPARSABLE:  # FastAPI's answer to a body not in UTF-8
        reason = "cannot be decoded: send JSON in UTF-8"
        return await _validation_error(request, RequestValidationError([_body_error(reason)]))
    if exc.status_code == 422 and isinstance(exc.detail, str):
        return unprocessable(exc.detail)
    if exc.status_code == 405:
        allowed = set()
        scope = {**request.scope, "path": request.url.path}
        for route in request.app.state.api_routes:
            if route.matches(scope)[0] != Match.NONE:
                allowed |= route.methods
        exc = StarletteHTTPException(405, exc.detail, headers={"Allow": ", ".join(sorted(allowed))})
    return await http_exception_handler(request, exc)


async def _database_error(request: Request, exc: Exception) -> JSONResponse:
    """Answer by what the error means (`store.classify_error`): only an outage is logged as one."""
    assert isinstance(exc, SQLAlchemyError)
    kind = classify_error(exc)
    where = f"{request.method} {request.url.path}"
    if kind == CONFLICT:
        log.warning("%s conflicts with stored data: %s", where, short_error(exc))
        detail = "the request conflicts with stored data (a duplicate?)"
        return JSONResponse({"detail": detail}, status_code=409)
    if kind == INVALID:
        log.warning("%s: the database refused a value: %s", where, short_error(exc))
        return unprocessable("a value is out of the range the database can store; nothing was stored")
    if kind == BUSY:
        log.warning("%s: database busy (locked): 503, nothing stored (%s)", where, short_error(exc))
        detail = "the database is busy; nothing was stored, try again in a moment"
        return JSONResponse({"detail": detail}, status_code=503, headers={"Retry-After": "1"})
    if kind == UNAVAILABLE:
        database_reachable(request.app, False)
        request.app.state.metrics.db_errors.inc()
        log.error("database unavailable: %s refused with 503, nothing stored (%s)", where, short_error(exc))
        detail = "the database is unavailable; nothing was stored, try again later"
        return JSONResponse({"detail": detail}, status_code=503, headers={"Retry-After": "5"})
    log.error("%s failed on a database error", where, exc_info=exc)
    return JSONResponse({"detail": "internal error; nothing was stored"}, status_code=500)


async def _contactlens_error(request: Request, exc: Exception) -> JSONResponse:
    """A domain error as its HTTP status: 404 not found, 409 conflict, else a 422 (the input is unusable)."""
    if isinstance(exc, NotFoundError | ConflictError):
        return JSONResponse({"detail": str(exc)}, status_code=404 if isinstance(exc, NotFoundError) else 409)
    return unprocessable(str(exc))
