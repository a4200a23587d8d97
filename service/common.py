"""What the route modules and the pages share, so that none imports another: a request's date window (from
`contactlens.reports`, where `from` later than `to` is refused) and the public shapes of a contact
(`ContactPublic`) and a review item (`ReviewItemPublic`)."""

from __future__ import annotations

from typing import Any

from contactlens.reports import bounds, date_range, to_utc
from contactlens.store import Contact, ContactDescription, ReviewItem, decided_descriptions

__all__ = ["bounds", "contact_public", "date_range", "item_public", "labels", "to_utc"]


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
        "owner": c.owner,
        "current_owner": c.current_owner,
        "suggestion_id": c.suggestion_id,
        "review_status": c.review.status if c.review else "none",
    }


def labels(rows: list[ContactDescription], primary: str, sentiment: str | None) -> list[dict[str, Any]]:
    """A description set as [{id, sentiment}]; the primary alone if the set is missing (never expected)."""
    if not rows:
        return [{"id": primary, "sentiment": sentiment}]
    return [{"id": r.description_id, "sentiment": r.sentiment} for r in rows]


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
        "comments": [
            {"id": c.id, "author": c.author, "created_at": c.created_at, "note": c.note}
            for c in item.comments
        ],
    }
