"""The typing path's short cut: a plain `POST /v1/suggest` answered without FastAPI's routing.

A logging UI calls `/v1/suggest` while a person types, so its framework cost is paid hundreds of times a
second on the event loop, which holds the GIL that the suggest batch threads need for their Python parts.
Under load the event loop held the GIL for half of a suggest's GIL time, FastAPI's stack (router, three
body-limit layers, dependency solving, validation, the response model, wrappers of `send`) for about 30%
(`py-spy --gil`, concurrency 8, 2026-11-30).

`SuggestShortCut` is an ASGI middleware inside `LatencyMiddleware` (so the request is timed and counted under
its route) and inside FastAPI's own outer layers (server errors, telemetry, the body-size limit). It answers
a request itself only when everything about it is ordinary:

- `POST` on exactly `/v1/suggest`, no query string (`?explain=` goes the long way), a JSON content type;
- an API key already known without the database (a bootstrap key or one cached in the last seconds) whose
  role may suggest;
- a body that `SuggestRequest` accepts, with a text within `max_text_chars`, and a model loaded.

Then it does what the route does (the same batcher, the same threshold, the same `SuggestResponse` as the same
JSON bytes) and nothing else. Anything else (a missing or unknown key, a bad body, a query, a reload race)
goes to FastAPI unchanged, with the body it read replayed, so every error answer stays FastAPI's own. An
error raised while reading the body (one over the size limit) or answering is handed to the app's exception
handlers, as the route's would be.
`CONTACTLENS_SUGGEST_SHORT_CUT=false` turns it off.
"""

from __future__ import annotations

from typing import Any

from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError
from starlette.requests import Request

from service.api.suggest import pending_call
from service.auth import route_roles
from service.schemas import SuggestRequest

PATH = "/v1/suggest"
_JSON = b"application/json"
_HEADERS = [(b"content-type", b"application/json")]


class SuggestShortCut:
    """ASGI middleware: answers ordinary `/v1/suggest` calls directly (see the module docstring)."""

    def __init__(self, app: Any, fastapi_app: Any) -> None:
        """Built with the middleware stack, when the app first runs: its routes are installed by then."""
        self.app = app
        self.fastapi_app = fastapi_app
        routes = getattr(fastapi_app.state, "api_routes", [])  # set by `service.errors.install`
        self._route = next((r for r in routes if r.path == PATH and "POST" in r.methods), None)
        # The roles the route's key dependency admits; without the route, none: every call takes the route.
        self._roles = (route_roles(self._route) if self._route is not None else None) or frozenset()

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if (
            scope["type"] != "http"
            or scope["path"] != PATH
            or scope["method"] != "POST"
            or scope.get("query_string")
            or not self._ordinary_headers(scope)
        ):
            await self.app(scope, receive, send)
            return
        messages: list[dict[str, Any]] = []
        try:
            body = await _read_body(receive, messages)
            pending = None if body is None else self._pending(body)
            if pending is not None:
                scope["route"] = self._route  # the label `LatencyMiddleware` and telemetry give it
                answer = await self.fastapi_app.state.suggest_batcher.submit(pending)
        except Exception as exc:  # a body over the size limit, or a failure while answering
            handler = _handler_for(self.fastapi_app, exc)
            if handler is None:
                raise
            response = await handler(Request(scope, _replay(messages, receive)), exc)
            await response(scope, receive, send)
            return
        if pending is None:  # the client went away, or the body is not an ordinary one: the route says so
            await self.app(scope, _replay(messages, receive), send)
            return
        data = answer.model_dump_json(by_alias=True).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-length", str(len(data)).encode()), *_HEADERS],
            }
        )
        await send({"type": "http.response.body", "body": data})

    def _ordinary_headers(self, scope: dict[str, Any]) -> bool:
        """A JSON body and a key known without the database whose role may suggest."""
        key = content_type = None
        for name, value in scope["headers"]:  # the first of each, as Starlette's `Headers.get` reads them
            if name == b"x-api-key" and key is None:
                key = value
            elif name == b"content-type" and content_type is None:
                content_type = value
        if key is None or content_type is None or content_type.split(b";", 1)[0].strip().lower() != _JSON:
            return False
        try:
            principal = self.fastapi_app.state.keys.cached(key.decode("latin-1"))
        except Exception:  # an odd key: the usual path says what is wrong with it
            return False
        return principal is not None and principal.role in self._roles

    def _pending(self, body: bytes) -> Any:
        """The batcher's item for this body, or None when the route should answer it."""
        state = self.fastapi_app.state
        model = getattr(state, "model", None)
        if model is None:
            return None
        try:
            return pending_call(SuggestRequest.model_validate_json(body), model, state.settings)
        except (ValidationError, RequestValidationError, ValueError):
            return None


async def _read_body(receive: Any, messages: list[dict[str, Any]]) -> bytes | None:
    """The request body, each message read kept in `messages`; None when the client went away."""
    body = b""
    while True:
        message = await receive()
        messages.append(message)
        if message["type"] != "http.request":
            return None
        body += message.get("body", b"")
        if not message.get("more_body", False):
            return body


def _replay(messages: list[dict[str, Any]], receive: Any) -> Any:
    """A `receive` that gives the messages already read, then the client's own."""
    pending = list(messages)

    async def replayed() -> dict[str, Any]:
        if pending:
            return pending.pop(0)
        return await receive()

    return replayed


def _handler_for(app: Any, exc: Exception) -> Any:
    """The app's handler for `exc` (by its class's MRO), as Starlette's ExceptionMiddleware finds it."""
    handlers = app.exception_handlers
    for cls in type(exc).__mro__:
        if cls in handlers and cls is not Exception:
            return handlers[cls]
    return None
