"""`/v1/review`: the queue of doubtful contacts, reviewers' decisions (an append-only audit trail) and notes
left without a decision. The rules live in `contactlens.reviews`."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query

from contactlens import reviews
from contactlens.reviews import AlreadyDecided  # noqa: F401 - older imports
from service.auth import Reviewer
from service.common import item_public
from service.deps import ModelDep, SessionDep, decide_item
from service.schemas import MAX_ID, ReviewCommentCreate, ReviewDecisionCreate, ReviewItemPublic, ReviewPage

router = APIRouter(prefix="/v1/review", tags=["review"])


@router.get("", response_model=ReviewPage)
def review_queue(
    session: SessionDep,
    _: Reviewer,
    status: Literal["pending", "decided", "all"] = "all",
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0, le=MAX_ID)] = 0,
) -> Any:
    """Review items, pending first, oldest first."""
    total, pending, items = reviews.list_items(session, status, limit, offset)
    return {
        "total": total,
        "pending": pending,
        "limit": limit,
        "offset": offset,
        "items": [item_public(i) for i in items],
    }


@router.get("/{item_id}", response_model=ReviewItemPublic)
def review_item(item_id: int, session: SessionDep, _: Reviewer) -> Any:
    """One review item with its contact, the suggestions, every decision and comment so far."""
    return item_public(reviews.get_item(session, item_id))


@router.post("/{item_id}", response_model=ReviewItemPublic)
def decide(
    item_id: int, body: ReviewDecisionCreate, model: ModelDep, session: SessionDep, who: Reviewer
) -> Any:
    """Record a reviewer's label: `description`, or several as `descriptions` (primary first, each with an
    optional sentiment), which become the contact's current descriptions and route it to the primary's
    owner. A second decision needs `override: true` (else 409) and both stay on record. A description left
    without a sentiment keeps the contact's if it had it, else is scored by the model."""
    decide_item(session, model, item_id, body, who.name)
    session.expire_all()
    return item_public(reviews.get_item(session, item_id))


@router.post("/{item_id}/comments", response_model=ReviewItemPublic, status_code=201)
def comment(item_id: int, body: ReviewCommentCreate, session: SessionDep, who: Reviewer) -> Any:
    """Keep a note on the item without deciding it (no label changes)."""
    with session.begin():
        reviews.add_comment(session, item_id, who.name, body.note)
    session.expire_all()
    return item_public(reviews.get_item(session, item_id))
