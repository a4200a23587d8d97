"""API keys in the `X-API-Key` header, with roles `logger`, `reviewer` and `analyst` (analyst may do all).

Keys come from `CONTACTLENS_API_KEYS` (bootstrap, tests) or from the `api_keys` table, where only the SHA-256
of each key is stored. A missing or unknown key is 401; a known key with the wrong role is 403.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, HTTPException, Request, Security
from fastapi.security import APIKeyHeader
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from contactlens.settings import ROLES
from contactlens.store import ApiKey, utcnow

_header = APIKeyHeader(name="X-API-Key", auto_error=False, description="An API key; see `contactlens keys`.")
_CACHE_SECONDS = 5.0  # a revoked key stops working within this long; saves a query per suggest


@dataclass(frozen=True)
class Principal:
    name: str
    role: str


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


class KeyRing:
    """Looks keys up: bootstrap keys first, then the database, with a short cache of database hits."""

    def __init__(self, bootstrap: dict[str, str]) -> None:
        self._bootstrap = {hash_key(k): Principal(f"bootstrap-{role}", role) for k, role in bootstrap.items()}
        self._cache: dict[str, tuple[float, Principal]] = {}

    def cached(self, key: str) -> Principal | None:
        """A bootstrap key or a recently seen stored key, without touching the database."""
        digest = hash_key(key)
        for known, principal in self._bootstrap.items():
            if hmac.compare_digest(known, digest):
                return principal
        hit = self._cache.get(digest)
        if hit and time.monotonic() - hit[0] < _CACHE_SECONDS:
            return hit[1]
        return None

    def lookup(self, key: str, session_factory) -> Principal | None:  # noqa: ANN001 - a sessionmaker
        """Any valid key: bootstrap, cached, or stored and not revoked (blocking: a query)."""
        found = self.cached(key)
        if found is not None:
            return found
        digest = hash_key(key)
        with session_factory() as session:
            row = session.scalar(select(ApiKey).where(ApiKey.key_hash == digest, ApiKey.revoked_at.is_(None)))
        if row is None:
            self._cache.pop(digest, None)
            return None
        principal = Principal(row.name, row.role)
        self._cache[digest] = (time.monotonic(), principal)
        return principal

    def named(self, name: str, session_factory) -> list[tuple[Principal, str]]:  # noqa: ANN001 - a sessionmaker
        """The valid keys named `name` with their SHA-256 (blocking: a query).

        The review pages keep a key's name and a keyed hash of its digest in their session cookie, never the
        key, and re-check it here on every request, so a revoked key stops working at once.
        """
        found = [(p, digest) for digest, p in self._bootstrap.items() if p.name == name]
        with session_factory() as session:
            row = session.scalar(select(ApiKey).where(ApiKey.name == name, ApiKey.revoked_at.is_(None)))
        if row is not None:
            found.append((Principal(row.name, row.role), row.key_hash))
        return found


def require(*roles: str):  # noqa: ANN201 - a FastAPI dependency
    """A dependency admitting keys whose role is in `roles`; analysts are always admitted."""
    allowed = frozenset(roles) | {"analyst"}

    async def dependency(request: Request, key: Annotated[str | None, Security(_header)] = None) -> Principal:
        return await authenticate(request, key, allowed)

    dependency.allowed_roles = allowed  # type: ignore[attr-defined]  # found by `route_roles`
    return Depends(dependency)


async def authenticate(request: Request, key: str | None, allowed: frozenset[str]) -> Principal:
    """The key's principal if its role is allowed; else HTTPException 401 (no or unknown key) or 403."""
    if not key:
        raise HTTPException(
            401,
            "missing API key: send it in the X-API-Key header",
            headers={"WWW-Authenticate": "APIKey"},
        )
    keys: KeyRing = request.app.state.keys
    principal = keys.cached(key) or await run_in_threadpool(keys.lookup, key, request.app.state.sessions)
    if principal is None:
        raise HTTPException(401, "invalid or revoked API key", headers={"WWW-Authenticate": "APIKey"})
    if principal.role not in allowed:
        need = " or ".join(sorted(allowed))
        raise HTTPException(403, f"role '{principal.role}' may not do this; it needs {need}")
    return principal


def route_roles(route: object) -> frozenset[str] | None:
    """The roles a route's key dependency admits, or None for a route without one (public, or the pages)."""
    dependant = getattr(route, "dependant", None)
    for dep in getattr(dependant, "dependencies", ()):
        roles = getattr(dep.call, "allowed_roles", None)
        if roles is not None:
            return roles
    return None


Logger = Annotated[Principal, require("logger")]
Reviewer = Annotated[Principal, require("reviewer")]
Reader = Annotated[Principal, require("logger", "reviewer")]
Analyst = Annotated[Principal, require()]


# ----------------------------------------------------------------------------------- managing stored keys


def create_key(session: Session, name: str, role: str) -> str:
    """Store a new key's hash and return the key itself (shown once, never stored)."""
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}, not '{role}'")
    if session.scalar(select(ApiKey).where(ApiKey.name == name)) is not None:
        raise ValueError(
            f"a key named '{name}' exists already (names stay taken after revoking); pick another"
        )
    key = "cl_" + secrets.token_urlsafe(32)
    session.add(ApiKey(name=name, role=role, key_hash=hash_key(key)))
    return key


def list_keys(session: Session) -> list[ApiKey]:
    return list(session.scalars(select(ApiKey).order_by(ApiKey.created_at, ApiKey.id)))


def revoke_key(session: Session, name: str) -> ApiKey:
    """Mark a key revoked (kept for the record)."""
    row = session.scalar(select(ApiKey).where(ApiKey.name == name))
    if row is None:
        raise ValueError(f"no key named '{name}'")
    if row.revoked_at is None:
        row.revoked_at = utcnow()
    return row
