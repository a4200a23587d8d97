"""`/v1/admin`: operations for analysts."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Request

from service.auth import Analyst
from service.reloader import ReloadError, reload
from service.schemas import ReloadResponse

router = APIRouter(prefix="/v1/admin", tags=["admin"])


@router.post("/reload", response_model=ReloadResponse)
async def reload_model(request: Request, _: Analyst) -> Any:
    """Load the current model URI (the registry alias) and swap it in; a broken artifact is refused."""
    try:
        return await reload(request.app)
    except ReloadError as exc:
        raise HTTPException(exc.status, str(exc)) from None
