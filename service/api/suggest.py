"""`/v1/suggest`: on a person's typing path. Concurrent calls are gathered into one model call
(`service.batcher`), and the suggestion log is written behind the answer (`service.suggestion_log`)."""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from functools import partial
from typing import Annotated, Any

from fastapi import APIRouter, FastAPI, Query, Request
from sqlalchemy import insert
from sqlalchemy.exc import SQLAlchemyError

from contactlens import results
from contactlens.model import ContactModel
from contactlens.settings import Settings
from contactlens.store import Suggestion, new_id, utcnow
from service.auth import Logger
from service.deps import ModelDep, SettingsDep, check_lengths, note_database_error, review_threshold
from service.limits import check_request_chars, check_request_cost, score_in_chunks
from service.schemas import BatchSuggestRequest, BatchSuggestResponse, SuggestRequest, SuggestResponse

log = logging.getLogger(__name__)
router = APIRouter(prefix="/v1", tags=["suggest"])
_STORED_RANKS = 3  # acceptance is reported up to top-3, so at least 3 ranks are stored whatever top_k asks


@dataclass(frozen=True)
class Pending:
    """One /v1/suggest call waiting for its batch."""

    model: ContactModel
    threshold: float
    text: str
    top_k: int
    channel: str | None
    explain: bool = False  # add each suggestion's nearest training examples and strongest terms


@router.post("/suggest", response_model=SuggestResponse)
async def suggest(
    body: SuggestRequest,
    request: Request,
    model: ModelDep,
    settings: SettingsDep,
    _: Logger,
    explain: Annotated[
        bool, Query(description="Add each suggestion's nearest training examples and strongest terms.")
    ] = False,
) -> Any:
    """Suggest descriptions and sentiment for one verbatim: the ranked `suggestions` (top_k of them) and the
    multi-label decision `descriptions` (every description that applies, each with its own sentiment)."""
    return await request.app.state.suggest_batcher.submit(pending_call(body, model, settings, explain))


def pending_call(
    body: SuggestRequest, model: ContactModel, settings: Settings, explain: bool = False
) -> Pending:
    """The batcher's item for one /v1/suggest body (the route's, and `service.fastpath`'s): its text within
    `max_text_chars` (else a 422 naming it) and the review threshold in force."""
    check_lengths([body.text], settings)
    threshold = review_threshold(model, settings)
    return Pending(model, threshold, body.text, body.top_k, body.channel, explain)


@router.post("/suggest/batch", response_model=BatchSuggestResponse)
def suggest_batch(
    body: BatchSuggestRequest, request: Request, model: ModelDep, settings: SettingsDep, _: Logger
) -> Any:
    """Suggest for up to 256 verbatims at once, `max_request_chars` characters and `max_request_tokens` of
    scoring cost in all (else 413)."""
    check_lengths(body.texts, settings, field="texts")
    check_request_chars(body.texts, settings)
    check_request_cost(model, body.texts, settings)
    threshold = review_threshold(model, settings)
    calls = [Pending(model, threshold, t, body.top_k, body.channel) for t in body.texts]
    return BatchSuggestResponse(results=answer_batch(request.app, calls, request))


def answer_batch(app: FastAPI, calls: list[Pending], request: Request | None = None) -> list[SuggestResponse]:
    """Answer several suggest calls with one `ContactModel.suggest` per (model, threshold) among them (a
    reload mid-batch can mix two models), log them with one hand-over, and fan the answers out in order.

    With the `request` of a /v1/suggest/batch call, scoring goes a chunk at a time and stops when its client
    has gone or its time budget is spent (`service.limits.score_in_chunks`): nothing is stored then."""
    groups: dict[tuple[int, float, bool], list[int]] = {}
    for i, call in enumerate(calls):
        groups.setdefault((id(call.model), call.threshold, call.explain), []).append(i)
    found: dict[int, results.Suggestion] = {}
    for members in groups.values():
        first = calls[members[0]]
        top_k = max(_STORED_RANKS, *(calls[i].top_k for i in members))
        texts = [calls[i].text for i in members]
        score = partial(first.model.suggest, top_k=top_k, threshold=first.threshold, explain=first.explain)
        settings = app.state.settings
        scored = score(texts) if request is None else score_in_chunks(request, settings, texts, score)
        found |= dict(zip(members, scored, strict=True))
    answers = [found[i] for i in range(len(calls))]
    rows = [_row(call.model, r, call.channel) for call, r in zip(calls, answers, strict=True)]
    stored = _store(app, rows)
    metrics = app.state.metrics
    out = []
    for call, r, row in zip(calls, answers, rows, strict=True):
        metrics.observe_suggestion(row["top1_confidence"], r.needs_review)
        out.append(_response(call, r, row["id"] if stored else None))
    return out


def _response(call: Pending, result: results.Suggestion, suggestion_id: str | None) -> SuggestResponse:
    """The API's answer: the model's result with its top_k suggestions (and explanations), the stored id and
    the versions."""
    k = call.top_k
    explained = result.explanations[:k] if result.explanations is not None else None
    shown = replace(result, suggestions=result.suggestions[:k], explanations=explained)
    answer = shown.to_dict() | {
        "suggestion_id": suggestion_id,
        "model_version": call.model.version,
        "taxonomy_version": call.model.taxonomy.version,
    }
    return SuggestResponse.model_validate(answer)


def _row(model: ContactModel, result: results.Suggestion, channel: str | None) -> dict[str, Any]:
    ranked = [{"id": s.id, "confidence": s.confidence} for s in result.suggestions]
    ids = [s.id for s in result.suggestions] + [None] * _STORED_RANKS
    return {
        "id": new_id(),
        "created_at": utcnow(),
        "model_version": model.version,
        "taxonomy_version": model.taxonomy.version,
        "channel": channel,
        "top1_id": ids[0],
        "top2_id": ids[1],
        "top3_id": ids[2],
        "top1_confidence": result.top.confidence,
        "ranked": ranked,
        "sentiment": result.sentiment.label if result.sentiment else None,
        "needs_review": result.needs_review,
        "fits_no_description": result.fits_no_description,
        "descriptions": result.brief_decision(),  # None (stored as null) for an answer without a decision
    }


def _store(app: FastAPI, rows: list[dict[str, Any]]) -> bool:
    """Hand the rows to the write-behind log, or (without one) one INSERT for all rows. A database failure
    must not cost the typist the suggestions: log and go on."""
    writer = getattr(app.state, "suggestion_log", None)
    if writer is not None:
        return writer.put(rows)
    try:
        with app.state.sessions.begin() as session:
            session.execute(insert(Suggestion), rows)
        return True
    except SQLAlchemyError as exc:
        note_database_error(app, exc, "suggestion not stored, served without suggestion_id")
        return False
