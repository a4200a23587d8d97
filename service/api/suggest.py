"""`/v1/suggest`: on a person's typing path, so one model call (in the threadpool) and at most one insert."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import APIRouter, Request
from sqlalchemy import insert
from sqlalchemy.exc import SQLAlchemyError

from contactlens.model import ContactModel, brief_decision
from contactlens.store import Suggestion, new_id, utcnow
from service.auth import Logger
from service.deps import ModelDep, SettingsDep, check_lengths, note_database_error, review_threshold
from service.limits import check_request_chars, score_in_chunks
from service.schemas import BatchSuggestRequest, BatchSuggestResponse, SuggestRequest, SuggestResponse

log = logging.getLogger(__name__)
router = APIRouter(prefix="/v1", tags=["suggest"])
_STORED_RANKS = 3  # acceptance is reported up to top-3, so at least 3 ranks are stored whatever top_k asks


@router.post("/suggest", response_model=SuggestResponse)
def suggest(body: SuggestRequest, request: Request, model: ModelDep, settings: SettingsDep, _: Logger) -> Any:
    """Suggest descriptions and sentiment for one verbatim: the ranked `suggestions` (top_k of them) and the
    multi-label decision `descriptions` (every description that applies, each with its own sentiment)."""
    check_lengths([body.text], settings)
    return _suggest(request, model, settings, [body.text], body.top_k, body.channel)[0]


@router.post("/suggest/batch", response_model=BatchSuggestResponse)
def suggest_batch(
    body: BatchSuggestRequest, request: Request, model: ModelDep, settings: SettingsDep, _: Logger
) -> Any:
    """Suggest for up to 256 verbatims at once, `max_request_chars` characters in all (else 413)."""
    check_lengths(body.texts, settings, field="texts")
    check_request_chars(body.texts, settings)
    return {"results": _suggest(request, model, settings, body.texts, body.top_k, body.channel)}


def _suggest(
    request: Request,
    model: ContactModel,
    settings: SettingsDep,
    texts: list[str],
    top_k: int,
    channel: str | None,
) -> list[dict[str, Any]]:
    threshold, ranks = review_threshold(model, settings), max(top_k, _STORED_RANKS)
    results = score_in_chunks(  # a batch stops when its client leaves or its time budget is spent
        request, settings, texts, lambda part: model.suggest(part, top_k=ranks, threshold=threshold)
    )
    rows = [_row(model, r, channel) for r in results]
    stored = _store(request, rows)
    metrics = request.app.state.metrics
    out = []
    for r, row in zip(results, rows, strict=True):
        metrics.observe_suggestion(row["top1_confidence"], r["needs_review"])
        out.append(
            {
                **r,
                "suggestions": r["suggestions"][:top_k],
                "suggestion_id": row["id"] if stored else None,
                "model_version": model.version,
                "taxonomy_version": model.taxonomy.version,
            }
        )
    return out


def _row(model: ContactModel, result: dict[str, Any], channel: str | None) -> dict[str, Any]:
    ranked = [{"id": s["id"], "confidence": s["confidence"]} for s in result["suggestions"]]
    ids = [s["id"] for s in ranked] + [None] * _STORED_RANKS
    sentiment = result["sentiment"]
    return {
        "id": new_id(),
        "created_at": utcnow(),
        "model_version": model.version,
        "taxonomy_version": model.taxonomy.version,
        "channel": channel,
        "top1_id": ids[0],
        "top2_id": ids[1],
        "top3_id": ids[2],
        "top1_confidence": ranked[0]["confidence"],
        "ranked": ranked,
        "sentiment": sentiment["label"] if sentiment else None,
        "needs_review": result["needs_review"],
        # None (stored as null) for a model answer without a decision
        "descriptions": brief_decision(result["descriptions"]) if "descriptions" in result else None,
    }


def _store(request: Request, rows: list[dict[str, Any]]) -> bool:
    """One INSERT for all rows. A database failure must not cost the typist the suggestions: log and go on."""
    try:
        with request.app.state.sessions.begin() as session:
            session.execute(insert(Suggestion), rows)
        return True
    except SQLAlchemyError as exc:
        note_database_error(request, exc, "suggestion not stored, served without suggestion_id")
        return False
