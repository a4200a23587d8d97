"""Routing: the team that owns a contact is the owner of its primary description, stored with the contact.

The owner is written when a contact is logged (`owner`, `current_owner`) and `current_owner` again when a
review changes the primary. Stored, not looked up, so a later taxonomy that moves, renames or retires a
description keeps each contact where it was routed. Rows stored before the columns existed (migration 0003)
or by code that does not set them are filled from the served taxonomy by `backfill_owners`.
"""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from contactlens.store import Contact
from contactlens.taxonomy import Taxonomy


def owners(tax: Taxonomy) -> dict[str, str]:
    """Description id -> owner team, for every description with an owner (old ids through migrations)."""
    out = {d.id: d.owner for d in tax.descriptions.values() if d.owner}
    for m in tax.migrations:
        if m.source not in out and tax.migrate(m.source) in out:
            out[m.source] = out[tax.migrate(m.source)]
    return out


def backfill_owners(session: Session, tax: Taxonomy) -> int:
    """Fill the owners a contact lacks from `tax` (one UPDATE per description); how many rows changed."""
    table = owners(tax)
    changed = 0
    for column, by in (
        (Contact.owner, Contact.description_id),
        (Contact.current_owner, Contact.current_description_id),
    ):
        missing = session.scalars(select(by).where(column.is_(None)).distinct()).all()
        for did in missing:
            if did in table:
                result = session.execute(
                    update(Contact).where(column.is_(None), by == did).values({column.key: table[did]})
                )
                changed += result.rowcount  # type: ignore[attr-defined]
    return changed
