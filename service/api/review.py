"""`/v1/review`: the queue of doubtful contacts and reviewers' decisions (an append-only audit trail)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Query
from sqlalchemy import case, func, select, update
from sqlalchemy.orm import Session

from contactlens.model import ContactModel
from contactlens.store import (
    CURRENT,
    DECIDED,
    PENDING,
    Contact,
    ReviewDecision,
    ReviewItem,
    decided_descriptions,
    set_descriptions,
    utcnow,
)
from service.auth import Reviewer
from service.common import contact_public
from service.deps import ModelDep, SessionDep, check_descriptions
from service.schemas import MAX_ID, ReviewDecisionCreate, ReviewItemPublic, ReviewPage

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
    stmt = select(ReviewItem)
    if status != "all":
        stmt = stmt.where(ReviewItem.status == status)
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    pending = session.scalar(select(func.count()).where(ReviewItem.status == PENDING)) or 0
    order = (case((ReviewItem.status == PENDING, 0), else_=1), ReviewItem.created_at, ReviewItem.id)
    items = session.scalars(stmt.order_by(*order).limit(limit).offset(offset)).unique()
    return {
        "total": total,
        "pending": pending,
        "limit": limit,
        "offset": offset,
        "items": [item_public(i) for i in items],
    }


@router.get("/{item_id}", response_model=ReviewItemPublic)
def review_item(item_id: int, session: SessionDep, _: Reviewer) -> Any:
    """One review item with its contact, the suggestions and every decision so far."""
    return item_public(_get(session, item_id))


@router.post("/{item_id}", response_model=ReviewItemPublic)
def decide(
    item_id: int, body: ReviewDecisionCreate, model: ModelDep, session: SessionDep, who: Reviewer
) -> Any:
    """Record a reviewer's label: `description`, or several as `descriptions` (primary first, each with an
    optional sentiment), which become the contact's current descriptions. A second decision needs
    `override: true` and both stay on record. A primary without a sentiment keeps the contact's current
    one."""
    record_decision(session, model, item_id, body, who.name)
    session.expire_all()
    return item_public(_get(session, item_id))


class AlreadyDecided(HTTPException):
    """409: someone decided the item first. Says who and when, so a page can show it."""

    def __init__(self, item_id: int, decided_by: str | None, decided_at: datetime | None) -> None:
        when = f"{decided_at:%Y-%m-%d %H:%M:%S} UTC" if decided_at else "an unknown time"
        super().__init__(
            409,
            f"review item {item_id} was already decided by {decided_by} at {when}; "
            "send override: true to replace that decision",
        )
        self.decided_by, self.decided_at = decided_by, decided_at


def record_decision(
    session: Session, model: ContactModel, item_id: int, body: ReviewDecisionCreate, reviewer: str
) -> ReviewDecision:
    """Store one decision and relabel the contact, in one transaction (the API and the review pages share it).

    Raises:
        RequestValidationError: an unknown, retired or repeated description id, an empty list, a
            `description` that is not the first of `descriptions` (422: `service.deps.check_descriptions`).
        HTTPException: 404 for an unknown item; `AlreadyDecided` (409) when decided and not `override`.
    """
    chosen = check_descriptions(model, body)
    with session.begin():
        item = _get(session, item_id)
        now = utcnow()
        # A conditional UPDATE claims the item, so two reviewers deciding at once cannot both win.
        claim = update(ReviewItem).where(ReviewItem.id == item_id)
        if not body.override:
            claim = claim.where(ReviewItem.status == PENDING)
        claimed = session.execute(claim.values(status=DECIDED, decided_by=reviewer, decided_at=now))
        if claimed.rowcount != 1:  # type: ignore[attr-defined]  # a CursorResult for an UPDATE
            session.refresh(item)
            raise AlreadyDecided(item_id, item.decided_by, item.decided_at)
        did, _, sentiment = chosen[0]
        decision = ReviewDecision(
            review_item_id=item_id,
            reviewer=reviewer,
            decided_at=now,
            description_id=did,
            sentiment=sentiment,
            descriptions=[{"id": d, "sentiment": s} for d, _, s in chosen],
            note=body.note,
            override=body.override,
        )
        session.add(decision)
        contact = session.get_one(Contact, item.contact_id)
        kept = sentiment if sentiment is not None else contact.current_sentiment
        set_descriptions(contact, CURRENT, [(did, chosen[0][1], kept), *chosen[1:]])
    return decision


def _get(session: Session, item_id: int) -> ReviewItem:
    item = session.get(ReviewItem, item_id) if 0 < item_id <= MAX_ID else None  # beyond: cannot exist
    if item is None:
        raise HTTPException(404, f"no review item with id {item_id}")
    return item


def item_public(item: ReviewItem) -> dict[str, Any]:
    suggestion = item.contact.suggestion
    return {
        "id": item.id,
        "status": item.status,
        "reason": item.reason,
        "created_at": item.created_at,
        "decided_by": item.decided_by,
        "decided_at": item.decided_at,
        "contact": contact_public(item.contact),
        "suggestions": suggestion.ranked if suggestion else [],
        "model_descriptions": (suggestion.descriptions or []) if suggestion else [],
        "decisions": [
            {
                "id": d.id,
                "reviewer": d.reviewer,
                "decided_at": d.decided_at,
                "description": d.description_id,
                "sentiment": d.sentiment,
                "descriptions": decided_descriptions(d),
                "note": d.note,
                "override": d.override,
            }
            for d in item.decisions
        ],
    }
