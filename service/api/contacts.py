"""`/v1/contacts`: log contacts (one transaction each, doubtful ones queued); list them."""

from __future__ import annotations

import logging
import time
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, Query, Request
from sqlalchemy import func, select

from contactlens import retention
from contactlens.redaction import clean_full
from contactlens.reports import date_range, to_utc
from contactlens.results import review_reasons as suggestion_reasons
from contactlens.routing import owners
from contactlens.store import (
    CURRENT,
    LOGGED,
    Contact,
    ContactDescription,
    ReviewItem,
    Suggestion,
    set_descriptions,
    utcnow,
)
from service.auth import Analyst, Logger, Reader, Reviewer
from service.common import contact_public
from service.deps import (
    ModelDep,
    SessionDep,
    SettingsDep,
    check_descriptions,
    check_lengths,
    invalid,
    review_threshold,
)
from service.schemas import (
    MAX_ID,
    Channel,
    ContactCreate,
    ContactPage,
    ContactPublic,
    DateBound,
    ErasurePublic,
    Sentiment,
)

log = logging.getLogger(__name__)
router = APIRouter(prefix="/v1/contacts", tags=["contacts"])
owners_router = APIRouter(prefix="/v1/owners", tags=["contacts"])


@router.post("", response_model=ContactPublic, status_code=201)
def log_contact(
    body: ContactCreate,
    request: Request,
    model: ModelDep,
    settings: SettingsDep,
    session: SessionDep,
    who: Logger,
) -> Any:
    """Log a contact with one description (`description`) or several (`descriptions`, primary first).

    It joins the review queue (reasons, comma-separated) when its suggestion was doubtful (`low_confidence`,
    or `fits_no_description` when the contact was unlike every description),
    when the primary is not the top suggestion (`disagreement`), or, for a contact logged with several
    descriptions, when the model's multi-label decision was stored with its suggestion and is not the same
    set of descriptions (`descriptions_differ`: order and sentiments aside). A contact logged with one
    description is queued by the first two rules alone, as before: the primary is what they judge.
    """
    check_lengths([body.text], settings)
    chosen = check_descriptions(model, body)
    with session.begin():
        suggestion = _suggestion(
            session, body.suggestion_id, getattr(request.app.state, "suggestion_log", None)
        )
        contact = Contact(
            text=body.text if settings.store_raw_text else clean_full(body.text),
            text_redacted=not settings.store_raw_text,
            channel=body.channel,
            site=body.site,
            received_at=to_utc(body.received_at) if body.received_at else utcnow(),
            logged_by=who.name,
            suggestion_id=suggestion.id if suggestion else None,
        )
        contact.owner = contact.current_owner = owners(model.taxonomy).get(chosen[0][0])
        set_descriptions(contact, LOGGED, chosen)
        set_descriptions(contact, CURRENT, chosen)
        session.add(contact)
        reasons = review_reasons(suggestion, [did for did, _, _ in chosen], review_threshold(model, settings))
        if reasons:
            contact.review = ReviewItem(reason=",".join(reasons))
        session.flush()
        return contact_public(contact)


@router.get("", response_model=ContactPage)
def list_contacts(
    session: SessionDep,
    _: Reader,
    from_: Annotated[DateBound | None, Query(alias="from", description="Received at or after.")] = None,
    to: Annotated[DateBound | None, Query(description="Received before (a date includes that day).")] = None,
    description: Annotated[str | None, Query(max_length=200)] = None,
    group: Annotated[str | None, Query(max_length=200)] = None,
    channel: Channel | None = None,
    site: Annotated[str | None, Query(max_length=200)] = None,
    sentiment: Sentiment | None = None,
    owner: Annotated[str | None, Query(max_length=200, description="The current owner team.")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=MAX_ID)] = 0,
) -> Any:
    """Contacts, newest first, filtered by date range and current labels, a page at a time.

    `description` matches any of a contact's current descriptions; `group`, `sentiment` and `owner` the
    primary's.
    """
    return contact_page(
        session,
        from_,
        to,
        limit,
        offset,
        description=description,
        group=group,
        channel=channel,
        site=site,
        sentiment=sentiment,
        owner=owner,
    )


def contact_page(
    session: SessionDep,
    from_: Any,
    to: Any,
    limit: int,
    offset: int,
    *,
    description: str | None = None,
    group: str | None = None,
    channel: str | None = None,
    site: str | None = None,
    sentiment: str | None = None,
    owner: str | None = None,
) -> dict[str, Any]:
    """A page of contacts, newest first (the listing of `GET /v1/contacts` and an owner's queue)."""
    stmt = date_range(select(Contact), from_, to)
    if description is not None:
        stmt = stmt.where(
            select(ContactDescription.id)
            .where(
                ContactDescription.contact_id == Contact.id,
                ContactDescription.kind == CURRENT,
                ContactDescription.description_id == description,
            )
            .exists()
        )
    filters = {
        Contact.current_group_id: group,
        Contact.channel: channel,
        Contact.site: site,
        Contact.current_sentiment: sentiment,
        Contact.current_owner: owner,
    }
    for column, value in filters.items():
        if value is not None:
            stmt = stmt.where(column == value)
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    rows = session.scalars(
        stmt.order_by(Contact.received_at.desc(), Contact.id.desc()).limit(limit).offset(offset)
    )
    return {
        "total": total,
        "limit": limit,
        "offset": offset,
        "items": [contact_public(c) for c in rows.unique()],
    }


@owners_router.get("/{owner}/contacts", response_model=ContactPage)
def owner_contacts(
    owner: Annotated[str, Path(max_length=200)],
    session: SessionDep,
    _: Reviewer,
    from_: Annotated[DateBound | None, Query(alias="from", description="Received at or after.")] = None,
    to: Annotated[DateBound | None, Query(description="Received before (a date includes that day).")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> Any:
    """A team's queue: the contacts routed to `owner` now (the owner of their current primary description),
    newest first. For reviewers and analysts."""
    return contact_page(session, from_, to, limit, offset, owner=owner)


@router.get("/{contact_id}", response_model=ContactPublic)
def get_contact(contact_id: int, session: SessionDep, _: Reader) -> Any:
    """One contact by id."""
    # an id beyond the database's integer range cannot exist: asking the database would be a data error
    contact = session.get(Contact, contact_id) if 0 < contact_id <= MAX_ID else None
    if contact is None:
        raise HTTPException(404, f"no contact with id {contact_id}")
    return contact_public(contact)


@router.delete("/{contact_id}", response_model=ErasurePublic)
def erase_contact(contact_id: int, session: SessionDep, who: Analyst) -> Any:
    """Erase one contact and what derives from it (right to erasure); an audit record says who and when."""
    with session.begin():
        counts = retention.erase_contact(session, contact_id, who.name)
    if counts is None:
        raise HTTPException(404, f"no contact with id {contact_id}")
    return {"contact_id": contact_id, "deleted": counts}


# ------------------------------------------------------------------------------------------------ helpers


# With several workers the suggestion may sit in another worker's write-behind log for a few milliseconds.
_OTHER_WORKER_WAITS = (0.01, 0.02, 0.05, 0.1, 0.2, 0.3)  # 0.68 s at most, only for an id not found


def _suggestion(session: SessionDep, suggestion_id: str | None, writer: Any = None) -> Suggestion | None:
    """The suggestion a contact answers. Suggestion logs are written behind the answer (`writer`): an id
    not found yet is looked up again once this worker's log is flushed, then a few more times in the next
    moments (another worker may have answered it); one whose log this worker dropped is left unlinked."""
    if suggestion_id is None:
        return None
    suggestion = session.get(Suggestion, suggestion_id)
    if suggestion is None and writer is not None:
        if writer.was_dropped(suggestion_id):
            log.warning(
                "suggestion %s was never stored (its log was dropped): contact logged without it",
                suggestion_id,
            )
            return None
        writer.flush()
        suggestion = session.get(Suggestion, suggestion_id)
        for wait in _OTHER_WORKER_WAITS:  # another worker answered it: its own log writes it within moments
            if suggestion is not None:
                break
            time.sleep(wait)
            suggestion = session.get(Suggestion, suggestion_id)
    if suggestion is None:
        invalid("suggestion_id", f"unknown suggestion id '{suggestion_id}'", suggestion_id)
    answered = session.scalar(select(Contact.id).where(Contact.suggestion_id == suggestion_id))
    if answered is not None:
        raise HTTPException(409, f"suggestion {suggestion_id} was already logged as contact {answered}")
    return suggestion


def review_reasons(
    suggestion: Suggestion | None, description_ids: list[str], threshold: float = 1.0
) -> list[str]:
    """Why a contact needs a reviewer: a doubtful suggestion, one the person logging it did not follow, or
    a set of descriptions the model's multi-label decision does not share (see `log_contact`)."""
    if suggestion is None:
        return []
    # A suggestion needs review for low confidence, for fitting no description (`fits_no_description`), or
    # both (`model.needs_review`); `threshold` tells them apart when the contact also fits no description.
    fits_none = bool(suggestion.fits_no_description)
    low = suggestion.needs_review and (not fits_none or suggestion.top1_confidence < threshold)
    reasons = suggestion_reasons(low, fits_none)
    if suggestion.top1_id != description_ids[0]:
        reasons.append("disagreement")
    decided = suggestion.descriptions
    if (
        len(description_ids) > 1
        and decided is not None
        and {d["id"] for d in decided} != set(description_ids)
    ):
        reasons.append("descriptions_differ")
    return reasons
