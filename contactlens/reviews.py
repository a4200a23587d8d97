"""Recording a reviewer's decision: the claim, the conflict, the stored list form, the routing after review.

One place for the API (`POST /v1/review/{id}`), the review pages and label import
(`training.exchange.write_decisions`), so the three cannot disagree. The caller owns the transaction.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import case, func, select, update
from sqlalchemy.orm import Session

from contactlens.errors import ConflictError, NotFoundError
from contactlens.redaction import clean_full
from contactlens.store import (
    CURRENT,
    DECIDED,
    PENDING,
    Contact,
    ReviewComment,
    ReviewDecision,
    ReviewItem,
    set_descriptions,
    utcnow,
)

if TYPE_CHECKING:
    from contactlens.model import ContactModel

Choice = tuple[str, str | None, str | None]  # (description id, group id, sentiment), primary first
# Scores the sentiment of each listed description in a text: {description id: label}.
Rescorer = Callable[[str, list[str]], dict[str, str | None]]


class AlreadyDecided(ConflictError):
    """Someone decided the item first. Says who and when, so a page can show it."""

    def __init__(self, item_id: int, decided_by: str | None, decided_at: datetime | None) -> None:
        when = f"{decided_at:%Y-%m-%d %H:%M:%S} UTC" if decided_at else "an unknown time"
        super().__init__(
            f"review item {item_id} was already decided by {decided_by} at {when}; "
            "send override: true to replace that decision"
        )
        self.item_id, self.decided_by, self.decided_at = item_id, decided_by, decided_at


def get_item(session: Session, item_id: int) -> ReviewItem:
    """The review item `item_id`, else `NotFoundError`."""
    # an id beyond a 32-bit integer cannot exist; asking PostgreSQL would be a data error
    item = session.get(ReviewItem, item_id) if 0 < item_id < 2**31 else None
    if item is None:
        raise NotFoundError(f"no review item with id {item_id}")
    return item


def record_decision(
    session: Session,
    item_id: int,
    chosen: Sequence[Choice],
    reviewer: str,
    *,
    note: str | None = None,
    override: bool = False,
    no_description_fits: bool = False,
    owners: dict[str, str] | None = None,
    rescore: Rescorer | None = None,
    now: datetime | None = None,
) -> ReviewDecision:
    """Claim the item, store the decision (always as a list, primary first) and relabel the contact.

    Args:
        chosen: validated descriptions (see `service.deps.check_descriptions`).
        no_description_fits: the reviewer says no description fits (the chosen one is the nearest): evidence
            for the drift report's new descriptions, never a training label.
        owners: description id -> owner team; the contact's current owner follows its new primary.
        rescore: scores the sentiment of a new primary the reviewer gave none (a decision that changes the
            description must not keep the old description's sentiment).

    Raises:
        NotFoundError: no such item. AlreadyDecided: decided already and not `override`.
    """
    if not chosen:
        raise ValueError("a decision chooses at least one description")
    item = get_item(session, item_id)
    now = now or utcnow()
    # A conditional UPDATE claims the item, so two reviewers deciding at once cannot both win.
    claim = update(ReviewItem).where(ReviewItem.id == item_id)
    if not override:
        claim = claim.where(ReviewItem.status == PENDING)
    claimed = session.execute(claim.values(status=DECIDED, decided_by=reviewer, decided_at=now))
    if claimed.rowcount != 1:  # type: ignore[attr-defined]  # a CursorResult for an UPDATE
        session.refresh(item)
        raise AlreadyDecided(item_id, item.decided_by, item.decided_at)
    contact = session.get_one(Contact, item.contact_id)
    decision = ReviewDecision(
        review_item_id=item_id,
        reviewer=reviewer,
        decided_at=now,
        description_id=chosen[0][0],
        sentiment=chosen[0][2],
        descriptions=[{"id": d, "sentiment": s} for d, _, s in chosen],
        note=clean_full(note) if note else None,  # stored, so fully redacted (names too)
        override=override,
        no_description_fits=no_description_fits,
    )
    session.add(decision)
    set_descriptions(contact, CURRENT, _sentiments(contact, list(chosen), rescore))
    if owners is not None:
        contact.current_owner = owners.get(chosen[0][0]) or None
    return decision


def _sentiments(contact: Contact, chosen: list[Choice], rescore: Rescorer | None) -> list[Choice]:
    """The primary's sentiment when the reviewer left it blank: the contact's current one if the primary
    stays, else the model's for the new primary (without a scorer, the current one, as before). A secondary
    left blank has no sentiment (what the reviewer said)."""
    did, group, sentiment = chosen[0]
    if sentiment is None:
        sentiment = contact.current_sentiment
        if did != contact.current_description_id and rescore is not None:
            sentiment = rescore(contact.text, [d for d, _, _ in chosen]).get(did, sentiment)
    return [(did, group, sentiment), *chosen[1:]]


def add_comment(session: Session, item_id: int, author: str, note: str) -> ReviewComment:
    """Keep a note written without a decision as a comment on the item (it changes no label)."""
    get_item(session, item_id)
    comment = ReviewComment(review_item_id=item_id, author=author, note=clean_full(note), created_at=utcnow())
    session.add(comment)
    return comment


def list_items(
    session: Session, status: str = "all", limit: int = 50, offset: int = 0
) -> tuple[int, int, list[ReviewItem]]:
    """Review items, pending first, oldest first: (matching, pending in all, this page)."""
    stmt = select(ReviewItem)
    if status != "all":
        stmt = stmt.where(ReviewItem.status == status)
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    pending = session.scalar(select(func.count()).where(ReviewItem.status == PENDING)) or 0
    order = (case((ReviewItem.status == PENDING, 0), else_=1), ReviewItem.created_at, ReviewItem.id)
    items = list(session.scalars(stmt.order_by(*order).limit(limit).offset(offset)).unique())
    return total, pending, items


def rescorer(model: ContactModel) -> Rescorer | None:
    """The model's sentiment of given descriptions in a text (`record_decision`'s `rescore`); None without
    a sentiment head."""
    if model.sentiment_head is None:
        return None

    def score(text: str, description_ids: list[str]) -> dict[str, str | None]:
        scores = model.score([text])
        per = model.description_sentiments(scores.cleaned, [description_ids], scores.sentiment)[0]
        return {d: v.label for d, v in per.items()}

    return score
