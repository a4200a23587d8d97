"""What the route modules share, so that none imports another: a request's date window and a contact's
public shape (`ContactPublic`)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import Select

from contactlens.store import Contact, ContactDescription


def to_utc(value: datetime) -> datetime:
    """Naive UTC, as stored; a naive input is taken to be UTC already."""
    return value.astimezone(UTC).replace(tzinfo=None) if value.tzinfo else value


def bounds(from_: date | None, to: date | None) -> tuple[datetime | None, datetime | None]:
    """A half-open [start, end) in naive UTC; a bare date as `to` includes that whole day."""
    start = end = None
    if from_ is not None:
        start = to_utc(from_) if isinstance(from_, datetime) else datetime.combine(from_, time())
    if to is not None:
        end = to_utc(to) if isinstance(to, datetime) else datetime.combine(to + timedelta(days=1), time())
    return start, end


def date_range(stmt: Select, from_: date | None, to: date | None) -> Select:
    start, end = bounds(from_, to)
    if start is not None:
        stmt = stmt.where(Contact.received_at >= start)
    if end is not None:
        stmt = stmt.where(Contact.received_at < end)
    return stmt


def contact_public(c: Contact) -> dict[str, Any]:
    return {
        "id": c.id,
        "text": c.text,
        "text_redacted": c.text_redacted,
        "channel": c.channel,
        "site": c.site,
        "received_at": c.received_at,
        "logged_at": c.logged_at,
        "logged_by": c.logged_by,
        "description": c.description_id,
        "sentiment": c.sentiment,
        "current_description": c.current_description_id,
        "current_group": c.current_group_id,
        "current_sentiment": c.current_sentiment,
        "descriptions": labels(c.logged_descriptions, c.description_id, c.sentiment),
        "current_descriptions": labels(c.current_descriptions, c.current_description_id, c.current_sentiment),
        "suggestion_id": c.suggestion_id,
        "review_status": c.review.status if c.review else "none",
    }


def labels(rows: list[ContactDescription], primary: str, sentiment: str | None) -> list[dict[str, Any]]:
    """A description set as [{id, sentiment}]; the primary alone if the set is missing (never expected)."""
    if not rows:
        return [{"id": primary, "sentiment": sentiment}]
    return [{"id": r.description_id, "sentiment": r.sentiment} for r in rows]
