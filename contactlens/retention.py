"""Retention: purge contacts past their retention period and erase one contact on request.

A contact takes with it everything derived from it: its review decisions, its review item, its description
rows and the suggestion it was logged from. A purge deletes in batches, one transaction per batch, so a
large purge neither holds long locks nor loses its work halfway. Suggestions never logged as a contact are
purged by their creation time. Every purge and erasure writes one `retention_audit` row: when, who, the
cut-off, how many rows of each table; never content.

Reports and drift windows read the contacts that remain, so after a purge they are what they would have
been had the purged contacts never been logged: no row refers to a deleted one.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, select, text
from sqlalchemy.orm import Session, sessionmaker

from contactlens.store import (
    Contact,
    ContactDescription,
    RetentionAudit,
    ReviewDecision,
    ReviewItem,
    Suggestion,
    utcnow,
)

__all__ = ["TABLES", "cutoff_for", "erase_contact", "purge", "scheduled_purge"]

log = logging.getLogger(__name__)

TABLES = ("review_decisions", "review_items", "contact_descriptions", "contacts", "suggestions")
SCHEDULED = "scheduled_purge"
_LOCK_KEY = 0x434C5250  # "CLRP": the PostgreSQL advisory lock the scheduled purge takes


def cutoff_for(days: int, now: datetime | None = None) -> datetime:
    """The cut-off (naive UTC) for keeping `days` days: contacts received before it are purged."""
    if days < 1:
        raise ValueError(f"retention must be at least 1 day, not {days}")
    return (now or utcnow()) - timedelta(days=days)


def _zero() -> dict[str, int]:
    return dict.fromkeys(TABLES, 0)


def _rowcount(session: Session, stmt: Any) -> int:
    result = session.execute(stmt.execution_options(synchronize_session=False))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]  # a CursorResult for a DELETE


def _delete_contacts(session: Session, ids: Sequence[int]) -> dict[str, int]:
    """Delete contacts `ids` and what derives from them, children first; the counts per table."""
    items = select(ReviewItem.id).where(ReviewItem.contact_id.in_(ids))
    suggestion_ids = [
        s for s in session.scalars(select(Contact.suggestion_id).where(Contact.id.in_(ids))) if s is not None
    ]
    counts = {
        "review_decisions": _rowcount(
            session, delete(ReviewDecision).where(ReviewDecision.review_item_id.in_(items))
        ),
        "review_items": _rowcount(session, delete(ReviewItem).where(ReviewItem.contact_id.in_(ids))),
        "contact_descriptions": _rowcount(
            session, delete(ContactDescription).where(ContactDescription.contact_id.in_(ids))
        ),
        "contacts": _rowcount(session, delete(Contact).where(Contact.id.in_(ids))),
        "suggestions": 0,
    }
    if suggestion_ids:
        counts["suggestions"] = _rowcount(
            session, delete(Suggestion).where(Suggestion.id.in_(suggestion_ids))
        )
    return counts


def _count(session: Session, cutoff: datetime) -> dict[str, int]:
    """What a purge at `cutoff` would delete (the dry run)."""
    old = select(Contact.id).where(Contact.received_at < cutoff)
    items = select(ReviewItem.id).where(ReviewItem.contact_id.in_(old))
    logged = select(Contact.suggestion_id).where(Contact.received_at < cutoff)
    orphan = select(Suggestion.id).where(
        Suggestion.created_at < cutoff,
        ~select(Contact.id).where(Contact.suggestion_id == Suggestion.id).exists(),
    )

    def n(stmt: Any) -> int:
        return int(session.scalar(select(func.count()).select_from(stmt.subquery())) or 0)

    return {
        "review_decisions": n(select(ReviewDecision.id).where(ReviewDecision.review_item_id.in_(items))),
        "review_items": n(items),
        "contact_descriptions": n(
            select(ContactDescription.id).where(ContactDescription.contact_id.in_(old))
        ),
        "contacts": n(old),
        "suggestions": n(select(Suggestion.id).where(Suggestion.id.in_(logged))) + n(orphan),
    }


def purge(
    sessions: sessionmaker,
    cutoff: datetime,
    actor: str,
    *,
    batch_size: int = 500,
    dry_run: bool = False,
    action: str = "purge",
    audit_id: int | None = None,
) -> dict[str, int]:
    """Delete every contact received before `cutoff` with what derives from it, `batch_size` a transaction.

    Args:
        sessions: A session factory on the store.
        cutoff: Naive UTC; contacts received strictly before it go.
        actor: Who asked (an API key's name, "cli", "scheduler"), for the audit record.
        batch_size: Contacts per transaction.
        dry_run: Count only; nothing is deleted and no audit record is written.
        action: The audit record's action.
        audit_id: An audit row already written (the scheduled purge's claim) to fill in instead of a new one.

    Returns:
        Rows deleted (or that would be) per table, :data:`TABLES`.
    """
    if dry_run:
        with sessions() as session:
            return _count(session, cutoff)
    totals = _zero()
    while True:
        with sessions.begin() as session:
            ids = list(
                session.scalars(
                    select(Contact.id)
                    .where(Contact.received_at < cutoff)
                    .order_by(Contact.id)
                    .limit(batch_size)
                )
            )
            if not ids:
                break
            for table, n in _delete_contacts(session, ids).items():
                totals[table] += n
    while True:  # suggestions never logged as a contact: by when they were made
        with sessions.begin() as session:
            orphans = list(
                session.scalars(
                    select(Suggestion.id)
                    .where(
                        Suggestion.created_at < cutoff,
                        ~select(Contact.id).where(Contact.suggestion_id == Suggestion.id).exists(),
                    )
                    .limit(batch_size)
                )
            )
            if not orphans:
                break
            totals["suggestions"] += _rowcount(session, delete(Suggestion).where(Suggestion.id.in_(orphans)))
    with sessions.begin() as session:
        record = session.get(RetentionAudit, audit_id) if audit_id is not None else None
        if record is None:
            record = RetentionAudit(actor=actor, action=action)
            session.add(record)
        record.cutoff, record.contacts, record.counts = cutoff, totals["contacts"], totals
    log.info("%s by %s before %s: %s", action, actor, cutoff.isoformat(), totals)
    return totals


def erase_contact(session: Session, contact_id: int, actor: str) -> dict[str, int] | None:
    """Erase one contact and what derives from it (right to erasure), in the caller's transaction.

    Returns:
        Rows deleted per table, or None when there is no such contact (nothing is written then).
    """
    # an id beyond a 32-bit integer cannot exist (asking the database would be a data error)
    if not 0 < contact_id < 2**31 or session.get(Contact, contact_id) is None:
        return None
    session.expunge_all()  # the bulk deletes below bypass the identity map
    counts = _delete_contacts(session, [contact_id])
    session.add(
        RetentionAudit(
            actor=actor, action="erasure", contact_id=contact_id, contacts=counts["contacts"], counts=counts
        )
    )
    return counts


def scheduled_purge(
    sessions: sessionmaker, retention_days: int, min_interval: timedelta = timedelta(hours=20)
) -> dict[str, int] | None:
    """The daily purge, safe with several workers: only one claims each day's run.

    The claim is the audit row itself, inserted in a transaction that holds a PostgreSQL advisory lock (on
    SQLite, the write lock its first statement takes), after checking that no scheduled purge started in the
    last `min_interval`. A worker that finds one does nothing.

    Returns:
        The counts, or None when another worker ran it (or is running it).
    """
    cutoff = cutoff_for(retention_days)
    with sessions.begin() as session:
        if session.get_bind().dialect.name == "postgresql":
            session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _LOCK_KEY})
        else:  # take SQLite's write lock before reading, so two workers cannot both see "not yet"
            session.execute(text("UPDATE retention_audit SET id = id WHERE 0 = 1"))
        last = session.scalar(select(func.max(RetentionAudit.at)).where(RetentionAudit.action == SCHEDULED))
        if last is not None and utcnow() - last < min_interval:
            return None
        claim = RetentionAudit(actor="scheduler", action=SCHEDULED, cutoff=cutoff, contacts=0, counts=_zero())
        session.add(claim)
        session.flush()
        claim_id = claim.id
    return purge(sessions, cutoff, "scheduler", action=SCHEDULED, audit_id=claim_id)
