"""The review pages: sign in with an API key, then the review queue, the taxonomy and (analysts) insights.

Server-rendered Jinja2 templates with a little vanilla JavaScript (service/static). The session cookie is
signed (itsdangerous), HttpOnly and SameSite=Strict. It holds the key's name and a keyed hash of the key's
SHA-256, never the key, and is checked against the key store on every request, so a revoked key stops
working at once. Every POST must carry the session's CSRF token (a form field or the X-CSRF-Token header).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Form, Header, HTTPException, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from itsdangerous import BadSignature, URLSafeTimedSerializer
from pydantic import ValidationError

from contactlens.errors import NotFoundError
from contactlens.reviews import AlreadyDecided, add_comment
from service.auth import KeyRing, Principal, hash_key
from service.deps import decide_item
from service.schemas import ReviewDecisionCreate
from service.ui import views as ui_views

log = logging.getLogger(__name__)

HERE = Path(__file__).resolve().parents[1]  # service/: templates/ and static/
STATIC = HERE / "static"
COOKIE = "cl_session"
MAX_AGE = 12 * 3600  # a working day; then sign in again
UI_ROLES = ("reviewer", "analyst")
ENDED = "Your session ended (signed out, expired or the key was revoked). Sign in again."
NO_CHOICE = "No description chosen: pick a suggestion or search the taxonomy."
# Used when CONTACTLENS_SESSION_SECRET is unset: sessions then end when the process does, and several
# workers need the setting (each would have its own secret).
_PROCESS_SECRET = secrets.token_urlsafe(32)
_HEADERS = {
    "Cache-Control": "no-store",  # the pages show verbatims: personal data stays out of caches
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}

router = APIRouter(prefix="/ui", include_in_schema=False)
templates = Jinja2Templates(directory=HERE / "templates")


@dataclass(frozen=True)
class UiUser:
    name: str
    role: str
    csrf: str

    @property
    def analyst(self) -> bool:
        return self.role == "analyst"


# ------------------------------------------------------------------------------------------- the session


def _secret(request: Request) -> str:
    return request.app.state.settings.session_secret or _PROCESS_SECRET


def _serializer(request: Request) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(_secret(request), salt="contactlens.ui.session")


def _fingerprint(request: Request, digest: str) -> str:
    """A keyed hash of the key's SHA-256: the cookie proves which key signed in without carrying it."""
    return hmac.new(_secret(request).encode(), digest.encode(), hashlib.sha256).hexdigest()


def _read(request: Request) -> dict[str, Any]:
    raw = request.cookies.get(COOKIE)
    if not raw:
        return {}
    try:
        data = _serializer(request).loads(raw, max_age=MAX_AGE)
    except BadSignature:  # tampered, signed by another secret, or expired
        return {}
    return data if isinstance(data, dict) else {}


def _store(request: Request, response: Response, data: dict[str, Any]) -> Response:
    response.set_cookie(
        COOKIE,
        _serializer(request).dumps(data),
        max_age=MAX_AGE,
        path="/ui",
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )
    return response


def _valid(request: Request, name: str, fingerprint: str) -> Principal | None:
    """The key named `name` whose fingerprint matches, if it is still valid (uncached: a query)."""
    keys: KeyRing = request.app.state.keys
    for principal, digest in keys.named(name, request.app.state.sessions):
        if hmac.compare_digest(_fingerprint(request, digest), fingerprint):
            return principal
    return None


def current_user(request: Request) -> UiUser | None:
    """The signed-in reviewer or analyst, re-checked against the key store (blocking: a query)."""
    data = _read(request)
    name, fingerprint, csrf = data.get("n"), data.get("f"), data.get("c")
    if not (isinstance(name, str) and isinstance(fingerprint, str) and isinstance(csrf, str)):
        return None
    principal = _valid(request, name, fingerprint)
    return UiUser(principal.name, principal.role, csrf) if principal and principal.role in UI_ROLES else None


def _csrf_ok(expected: str | None, *sent: str | None) -> bool:
    given = next((s for s in sent if s), None)
    return bool(expected and given and hmac.compare_digest(expected.encode(), given.encode()))


# ----------------------------------------------------------------------------------------------- responses


def page(
    request: Request, name: str, context: dict[str, Any], status: int = 200, user: UiUser | None = None
) -> HTMLResponse:
    """Render a template with the signed-in user (for the navigation) and the pages' security headers."""
    response = templates.TemplateResponse(request, name, {"user": user, **context}, status_code=status)
    response.headers.update(_HEADERS)
    return response


def _error_page(request: Request, status: int, title: str, message: str, user: UiUser | None) -> HTMLResponse:
    return page(request, "error.html", {"title": title, "message": message}, status, user)


def _wants_json(request: Request) -> bool:
    return "application/json" in request.headers.get("accept", "")


def _to_login(request: Request) -> Response:
    """Not signed in (or the key was revoked): back to the sign-in page, or a 401 for a script."""
    ended = bool(_read(request).get("n"))
    if _wants_json(request):
        message = "you are not signed in (or your key was revoked); sign in again"
        return JSONResponse({"message": message}, status_code=401)
    target = "/ui/login?ended=1" if ended else "/ui/login"
    return RedirectResponse(target, status_code=303, headers={"Cache-Control": "no-store"})


def _csrf_refused(request: Request, user: UiUser | None) -> Response:
    message = "The form's security token is missing or out of date. Reload the page and try again."
    log.warning("refused %s %s: missing or invalid CSRF token", request.method, request.url.path)
    if _wants_json(request):
        return JSONResponse({"message": message}, status_code=403, headers=_HEADERS)
    return _error_page(request, 403, "Request refused", message, user)


# ----------------------------------------------------------------------------------------------- sign-in


@router.get("", include_in_schema=False)
def home() -> Response:
    return RedirectResponse("/ui/queue", status_code=303)


@router.get("/login")
def login_form(request: Request, ended: str = "") -> Response:
    """The sign-in form; a signed-in user goes straight to the queue."""
    if current_user(request) is not None:
        return RedirectResponse("/ui/queue", status_code=303)
    csrf = _read(request).get("c") or secrets.token_urlsafe(24)
    # any value but a true one is ignored: a link's query string never gets a JSON error instead of the page
    message = ENDED if ended.strip().lower() in ("1", "true", "yes", "on") else None
    response = page(request, "login.html", {"csrf": csrf, "error": None, "notice": message})
    return _store(request, response, {"c": csrf})


@router.post("/login")
def login(
    request: Request,
    key: Annotated[str, Form()] = "",
    csrf: Annotated[str, Form()] = "",
) -> Response:
    """Check the key; a reviewer or analyst key starts a session (a fresh CSRF token too)."""
    anonymous = _read(request).get("c")
    if not _csrf_ok(anonymous, csrf):
        return _csrf_refused(request, None)
    key = key.strip()
    fingerprint = _fingerprint(request, hash_key(key))
    keys: KeyRing = request.app.state.keys
    found = keys.lookup(key, request.app.state.sessions) if key else None
    # Looked up again uncached: the API's lookup lets a just-revoked key through for a few seconds.
    principal = _valid(request, found.name, fingerprint) if found else None
    error, status = None, 200
    if principal is None:
        error, status = "That key is not valid, or it has been revoked. Check it and try again.", 401
    elif principal.role not in UI_ROLES:
        error = (
            f"The key '{principal.name}' has the {principal.role} role. The review pages need a reviewer "
            "or analyst key: ask whoever runs the service for one."
        )
        status = 403
    if error:
        return page(request, "login.html", {"csrf": anonymous, "error": error, "notice": None}, status)
    assert principal is not None
    log.info("%s (%s) signed in to the review pages", principal.name, principal.role)
    data = {"n": principal.name, "f": fingerprint, "c": secrets.token_urlsafe(24)}
    return _store(request, RedirectResponse("/ui/queue", status_code=303), data)


@router.get("/logout")
def logout_form(request: Request) -> Response:
    """Signing out is a POST (CSRF-checked); this page offers the button."""
    user = current_user(request)
    if user is None:
        return RedirectResponse("/ui/login", status_code=303)
    return page(request, "logout.html", {}, user=user)


@router.post("/logout")
def logout(request: Request, csrf: Annotated[str, Form()] = "") -> Response:
    user = current_user(request)
    if user is not None and not _csrf_ok(user.csrf, csrf):
        return _csrf_refused(request, user)
    response = RedirectResponse("/ui/login", status_code=303)
    response.delete_cookie(COOKIE, path="/ui", httponly=True, samesite="strict")
    return response


# ------------------------------------------------------------------------------------------------- pages


@router.get("/queue")
def queue_page(request: Request) -> Response:
    """Pending review items, oldest first, with their suggestions; decisions post to /ui/review/{id}."""
    user = current_user(request)
    if user is None:
        return _to_login(request)
    model = request.app.state.model
    with request.app.state.sessions() as session:
        context = ui_views.queue(session, model, Principal(user.name, user.role))
    return page(request, "queue.html", context, user=user)


@router.get("/taxonomy")
def taxonomy_page(request: Request, q: str = "") -> Response:
    """Groups and descriptions with owner, guidance and examples; `q` filters (as the box does live)."""
    user = current_user(request)
    if user is None:
        return _to_login(request)
    context = ui_views.taxonomy(request.app.state.model, Principal(user.name, user.role), q[:200])
    return page(request, "taxonomy.html", context, user=user)


def _insights_range(request: Request, user: UiUser, from_: str, to: str) -> tuple[Any, Any] | Response:
    """The page's date range (blank: open), else the error page naming the field."""
    out = []
    for name, value in (("from", from_), ("to", to)):
        try:
            out.append(date.fromisoformat(value.strip()) if value.strip() else None)
        except ValueError:
            return _error_page(
                request, 422, "Bad date", f"{name}: '{value[:20]}' is not a date like 2026-10-01", user
            )
    if out[0] and out[1] and out[0] > out[1]:
        return _error_page(request, 422, "Bad date range", "from: the range ends before it starts", user)
    return out[0], out[1]


@router.get("/insights")
def insights_page(
    request: Request, from_: Annotated[str, Query(alias="from")] = "", to: str = ""
) -> Response:
    """Analysts only: description mix by month, review rate, acceptance, the month-by-month comparison,
    the latest drift findings; `from`/`to` narrow the range."""
    user = current_user(request)
    if user is None:
        return _to_login(request)
    if not user.analyst:
        message = f"Insights are for analysts; you are signed in as {user.name} ({user.role})."
        return _error_page(request, 403, "Analysts only", message, user)
    span = _insights_range(request, user, from_, to)
    if isinstance(span, Response):
        return span
    app = request.app
    with app.state.sessions() as session:
        context = ui_views.insights(session, app.state.model, Principal(user.name, user.role), *span)
    context["drift"] = ui_views.drift_findings(app.state, app.state.model, app.state.sessions)
    return page(request, "insights.html", context, user=user)


@router.get("/insights.csv")
def insights_csv(request: Request, from_: Annotated[str, Query(alias="from")] = "", to: str = "") -> Response:
    """Analysts only: the month-by-month report by group (counts, shares, change, significance) as CSV."""
    user = current_user(request)
    if user is None:
        return _to_login(request)
    if not user.analyst:
        return _error_page(request, 403, "Analysts only", "The export is for analysts.", user)
    span = _insights_range(request, user, from_, to)
    if isinstance(span, Response):
        return span
    with request.app.state.sessions() as session:
        text = ui_views.insights_csv(session, *span)
    headers = {**_HEADERS, "Content-Disposition": 'attachment; filename="insights-by-month.csv"'}
    return Response(text, media_type="text/csv", headers=headers)


# ---------------------------------------------------------------------------------------------- decisions


@router.post("/review/{item_id}")
def review_decide(
    request: Request,
    item_id: int,
    description: Annotated[str, Form()] = "",
    sentiment: Annotated[str, Form()] = "",
    also: Annotated[list[str] | None, Form()] = None,
    note: Annotated[str, Form()] = "",
    override: Annotated[str, Form()] = "",
    nofit: Annotated[str, Form()] = "",
    csrf: Annotated[str | None, Form()] = None,
    x_csrf_token: Annotated[str | None, Header()] = None,
) -> Response:
    """Save a decision with the same store logic as POST /v1/review/{id}. JSON for the page's script,
    else (a plain form post) a redirect back to the queue or a page saying what went wrong.

    `description` is the primary (with `sentiment`, blank to keep the contact's); each `also` a secondary
    description as `id` or `id:sentiment` (the label cell's form). A secondary that repeats the primary or an
    earlier one is dropped: the page lets a reviewer promote a secondary to primary with one key."""
    user = current_user(request)
    if user is None:
        return _to_login(request)
    if not _csrf_ok(user.csrf, x_csrf_token, csrf):
        return _csrf_refused(request, user)
    wanted = override.lower() in ("1", "true", "on", "yes")
    if not description.strip():
        if note.strip():  # a note without a decision is kept as a comment, not lost
            return _comment(request, user, item_id, note.strip()[:2000])
        return _refused(request, user, 422, NO_CHOICE, item_id)
    model = request.app.state.model
    primary = description.strip()
    secondary = _secondary(primary, also or [])
    with request.app.state.sessions() as session:
        try:
            fields: dict[str, Any] = {"note": note.strip() or None, "override": wanted}
            fields["no_description_fits"] = nofit.lower() in ("1", "true", "on", "yes")
            if secondary:
                first = {"id": primary, "sentiment": sentiment.strip() or None}
                fields["descriptions"] = [first, *secondary]
            else:
                fields |= {"description": primary, "sentiment": sentiment.strip() or None}
            body = ReviewDecisionCreate.model_validate(fields)
            decide_item(session, model, item_id, body, user.name)
        except (ValidationError, RequestValidationError) as exc:
            return _refused(request, user, 422, _first_error(exc), item_id)
        except AlreadyDecided as exc:
            conflict = ui_views.conflict(session, model, item_id, exc, primary, note.strip())
            conflict |= {"sentiment": sentiment.strip(), "also": [_cell(d) for d in secondary]}
            return _conflict(request, user, conflict | ui_views.counts(session, user.name))
        except NotFoundError as exc:
            return _refused(request, user, 404, str(exc), item_id)
        except HTTPException as exc:
            return _refused(request, user, exc.status_code, str(exc.detail), item_id)
        counts = ui_views.counts(session, user.name)
    name = ui_views.label(model.taxonomy, primary)["name"]
    kept = " (override: earlier decisions stay on record)" if wanted else ""
    more = ", ".join(f'"{ui_views.label(model.taxonomy, str(d["id"]))["name"]}"' for d in secondary)
    message = f'Saved item {item_id} as "{name}"{f" with {more}" if more else ""}{kept}.'
    if _wants_json(request):
        return JSONResponse({"message": message, "item": item_id, **counts}, headers=_HEADERS)
    return RedirectResponse("/ui/queue", status_code=303)


def _comment(request: Request, user: UiUser, item_id: int, note: str) -> Response:
    with request.app.state.sessions() as session:
        try:
            with session.begin():
                add_comment(session, item_id, user.name, note)
        except NotFoundError as exc:
            return _refused(request, user, 404, str(exc), item_id)
    message = f"Kept your note on item {item_id} as a comment; the item is still pending a decision."
    if _wants_json(request):
        return JSONResponse({"message": message, "item": item_id, "comment": True}, headers=_HEADERS)
    return RedirectResponse("/ui/queue", status_code=303)


def _secondary(primary: str, values: list[str]) -> list[dict[str, str | None]]:
    """The `also` form values as [{id, sentiment}], without blanks, the primary or repeats."""
    out: list[dict[str, str | None]] = []
    seen = {primary}
    for value in values:
        ident, _, sentiment = value.strip().partition(":")
        ident = ident.strip()
        if ident and ident not in seen:
            seen.add(ident)
            out.append({"id": ident, "sentiment": sentiment.strip() or None})
    return out


def _cell(choice: dict[str, str | None]) -> str:
    return f"{choice['id']}:{choice['sentiment']}" if choice["sentiment"] else str(choice["id"])


def _first_error(exc: ValidationError | RequestValidationError) -> str:
    """One line: the store's own message for an unknown id, else the field and what is wrong with it."""
    first = exc.errors()[0] if exc.errors() else {"loc": ("description",), "msg": "is invalid"}
    msg = str(first["msg"])
    if isinstance(exc, RequestValidationError):  # check_description: names the id and the taxonomy
        return msg[0].upper() + msg[1:] + ". Pick a description from the taxonomy."
    return f"{first['loc'][-1] if first.get('loc') else 'description'}: {msg}"


def _refused(request: Request, user: UiUser, status: int, message: str, item_id: int) -> Response:
    log.info("review page: item %s refused for %s (%s): %s", item_id, user.name, status, message)
    if _wants_json(request):
        return JSONResponse({"message": message, "item": item_id}, status_code=status, headers=_HEADERS)
    return _error_page(request, status, "Decision not saved", message, user)


def _conflict(request: Request, user: UiUser, conflict: dict[str, Any]) -> Response:
    if _wants_json(request):
        return JSONResponse(conflict, status_code=409, headers=_HEADERS)
    return page(request, "conflict.html", {"conflict": conflict, "csrf": user.csrf}, 409, user)
