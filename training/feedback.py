"""Reviewed labels from the service's store, ready to train on.

A contact's label is its review item's latest decision (decisions are append-only; the highest id wins),
mapped through the taxonomy's migrations. A decision with several descriptions becomes a label cell
`id1:sentiment1;id2:sentiment2` (primary first, `:sentiment` left out where the reviewer gave none), the form
`contactlens.data` reads; each id is migrated, and a description a migration makes appear twice is kept once
(where it first appears). Texts that are the same once normalised but carry different labels are conflicts:
they are reported and left out, since a model cannot learn both.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import pandas as pd
from sqlalchemy import func, inspect, select
from sqlalchemy.engine import Engine

from contactlens.data import LabelPair, format_labels, near_key, parse_labels
from contactlens.errors import DataError
from contactlens.store import (
    Contact,
    ReviewDecision,
    ReviewItem,
    describe_url,
    description_list,
    make_engine,
    short_error,
)
from contactlens.taxonomy import Taxonomy

COLUMNS = [
    "contact_id",
    "review_item_id",
    "text",
    "description",
    "original_description",
    "sentiment",
    "channel",
    "reviewer",
    "decided_at",
]


@dataclass
class Feedback:
    """The reviewed labels (`frame`, one row per contact) and what was done to them on the way."""

    frame: pd.DataFrame
    conflicts: list[dict[str, Any]] = field(default_factory=list)
    migrated: int = 0
    since: datetime | None = None

    def summary(self) -> list[str]:
        """Lines for a person: counts, migrations, each conflict by contact ids (never the verbatim)."""
        since = f" decided since {self.since:%Y-%m-%d %H:%M}" if self.since else ""
        lines = [f"reviewed labels{since}: {len(self.frame)} contacts"]
        if self.migrated:
            lines.append(f"{self.migrated} labels migrated to the current taxonomy")
        for c in self.conflicts:
            labels = "; ".join(
                f"{label}: contacts {', '.join(map(str, ids))}" for label, ids in c["labels"].items()
            )
            lines.append(f"conflict, left out (same text, different labels): {labels}")
        return lines


def open_store(url: str) -> Engine:
    """An engine on the service's database; a clear error when it holds no review tables."""
    engine = make_engine(url)
    try:
        ready = inspect(engine).has_table(ReviewDecision.__tablename__)
    except Exception as exc:  # any driver error: the database cannot be reached
        engine.dispose()
        raise DataError(f"database {describe_url(engine)}: cannot be read ({short_error(exc)})") from None
    if not ready:
        engine.dispose()
        raise DataError(
            f"database {describe_url(engine)}: no review tables; point CONTACTLENS_DATABASE_URL at the "
            "service's database (the service creates them)"
        )
    return engine


def latest_decisions(engine: Engine, since: datetime | None = None) -> pd.DataFrame:
    """One row per decided contact: its latest decision, optionally only those decided at or after `since`."""
    latest = select(func.max(ReviewDecision.id)).group_by(ReviewDecision.review_item_id).scalar_subquery()
    stmt = (
        select(
            Contact.id,
            ReviewDecision.review_item_id,
            Contact.text,
            ReviewDecision.description_id,
            func.coalesce(ReviewDecision.sentiment, Contact.current_sentiment, ""),
            Contact.channel,
            ReviewDecision.reviewer,
            ReviewDecision.decided_at,
            ReviewDecision.sentiment,
            ReviewDecision.descriptions,
        )
        .select_from(ReviewDecision)
        .join(ReviewItem, ReviewItem.id == ReviewDecision.review_item_id)
        .join(Contact, Contact.id == ReviewItem.contact_id)
        .where(ReviewDecision.id.in_(latest))
        .order_by(ReviewDecision.id)
    )
    if since is not None:
        stmt = stmt.where(ReviewDecision.decided_at >= since)
    with engine.connect() as conn:
        rows = [_labelled(tuple(r)) for r in conn.execute(stmt)]
    names = [c for c in COLUMNS if c != "description"]
    frame = pd.DataFrame(rows, columns=names)
    frame.insert(3, "description", frame["original_description"])
    return frame


def _labelled(row: tuple[Any, ...]) -> tuple[Any, ...]:
    """A query row with the decision's label cell in place of its primary id (one description: the id)."""
    base, (sentiment, descriptions) = list(row[:8]), row[8:]
    chosen = description_list(base[3], sentiment, descriptions)
    if len(chosen) > 1:
        base[3] = format_labels([(d["id"], d["sentiment"]) for d in chosen])
    return tuple(base)


def migrate_cell(cell: str, taxonomy: Taxonomy) -> str:
    """A label cell with each id migrated; an id a migration repeats is kept once, where it first appears."""
    pairs: list[LabelPair] = []
    for did, sentiment in parse_labels(cell):
        new = taxonomy.migrate(did)
        if all(new != kept for kept, _ in pairs):
            pairs.append((new, sentiment))
    if not pairs:  # an empty cell stays empty
        return cell
    return format_labels(pairs) if len(pairs) > 1 or pairs[0][1] else pairs[0][0]


def check_labels(frame: pd.DataFrame, taxonomy: Taxonomy) -> None:
    """Refuse labels a model of this taxonomy cannot learn, naming the descriptions and their contacts.

    A label cell of several descriptions is checked id by id (`original_description` names the id as stored).
    """
    frame = _by_id(frame, taxonomy)
    unknown = frame[~frame["description"].isin(list(taxonomy.descriptions))]
    if len(unknown):
        raise DataError(
            f"reviewed labels not in taxonomy {taxonomy.version}: {_by_label(unknown)}; add them to the "
            "taxonomy or map them with a migration"
        )
    retired = frame[frame["description"].map(lambda d: not taxonomy.descriptions[d].active)]
    if len(retired):
        raise DataError(
            f"reviewed labels of retired descriptions with no migration in taxonomy {taxonomy.version}: "
            f"{_by_label(retired)}; add a migration (from -> to) to the taxonomy or re-review those contacts"
        )


def _by_id(frame: pd.DataFrame, taxonomy: Taxonomy) -> pd.DataFrame:
    """One row per (contact, description id): the migrated id and the id as stored."""
    rows = [
        (cid, taxonomy.migrate(did), did)
        for cid, cell in zip(frame["contact_id"], frame["original_description"], strict=True)
        for did, _ in parse_labels(cell)
    ]
    return pd.DataFrame(rows, columns=["contact_id", "description", "original_description"])


def _by_label(frame: pd.DataFrame, limit: int = 3) -> str:
    parts = []
    for label, ids in list(frame.groupby("original_description")["contact_id"])[:limit]:
        shown = ", ".join(str(i) for i in list(ids)[:5]) + (" ..." if len(ids) > 5 else "")
        parts.append(f"{label} (contacts {shown})")
    more = frame["original_description"].nunique() - limit
    return "; ".join(parts) + (f" and {more} more" if more > 0 else "")


def find_conflicts(frame: pd.DataFrame) -> tuple[pd.DataFrame, list[dict[str, Any]]]:
    """Split off the contacts whose normalised text carries more than one label; returns (kept, conflicts)."""
    keys = frame["text"].map(near_key)
    conflicts = []
    bad = pd.Series(False, index=frame.index)
    for _, group in frame.groupby(keys, sort=False):
        if group["description"].nunique() > 1:
            bad[group.index] = True
            labels = {
                str(lab): sorted(int(i) for i in g["contact_id"]) for lab, g in group.groupby("description")
            }
            conflicts.append({"labels": labels})
    return frame[~bad].reset_index(drop=True), conflicts


def gather(engine: Engine, taxonomy: Taxonomy, since: datetime | None = None) -> Feedback:
    """The reviewed labels to retrain on, migrated and checked against `taxonomy`, conflicts left out.

    Raises:
        DataError: a label outside the taxonomy, or of a retired description with no migration.
    """
    frame = latest_decisions(engine, since)
    frame = frame[frame["text"].str.strip() != ""].reset_index(drop=True)
    try:
        frame["description"] = frame["original_description"].map(lambda cell: migrate_cell(cell, taxonomy))
    except ValueError as exc:  # a stored decision the label-cell parser refuses (the API never writes one)
        raise DataError(f"a stored review decision: {exc}") from None
    migrated = int((frame["description"] != frame["original_description"]).sum())
    check_labels(frame, taxonomy)
    frame, conflicts = find_conflicts(frame)
    return Feedback(frame, conflicts, migrated, since)
