"""`/v1/reports/summary`: counts, suggestion acceptance, review rate, reviewer agreement; and
`/v1/reports/descriptions`: every description of every contact with its sentiments (both in SQL)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from sqlalchemy import Integer, case, func, or_, select
from sqlalchemy.sql.elements import ColumnElement

from contactlens.store import CURRENT, DECIDED, Contact, ContactDescription, ReviewItem, Suggestion
from service.auth import Analyst
from service.common import bounds, date_range
from service.deps import ModelDep, SessionDep
from service.schemas import DateBound, DescriptionReport, ReportBy, ReportSummary

router = APIRouter(prefix="/v1/reports", tags=["reports"])

_BY = {
    "group": Contact.current_group_id,
    "description": Contact.current_description_id,
    "channel": Contact.channel,
    "site": Contact.site,
    "sentiment": Contact.current_sentiment,
}
_COUNTS = ("contacts", "with_suggestion", "accepted_top1", "accepted_top3", "queued", "reviewed", "agreed")


def _count_if(condition: ColumnElement[bool]) -> ColumnElement[int]:
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0).cast(Integer)


@router.get("/summary", response_model=ReportSummary)
def summary(
    session: SessionDep,
    _: Analyst,
    by: ReportBy = "group",
    from_: Annotated[DateBound | None, Query(alias="from", description="Received at or after.")] = None,
    to: Annotated[DateBound | None, Query(description="Received before (a date includes that day).")] = None,
) -> Any:
    """Per value of `by`: contacts, acceptance of the top-1/top-3 suggestion, review rate, reviewer agreement.

    Acceptance compares the description logged with the suggestion it answered; agreement compares a
    reviewer's latest decision with the top suggestion.
    """
    value = _BY[by]
    decided = ReviewItem.status == DECIDED
    logged = Contact.description_id
    stmt = (
        select(
            value.label("value"),
            func.count(Contact.id).label("contacts"),
            func.count(Suggestion.id).label("with_suggestion"),
            _count_if(Suggestion.top1_id == logged).label("accepted_top1"),
            _count_if(
                or_(Suggestion.top1_id == logged, Suggestion.top2_id == logged, Suggestion.top3_id == logged)
            ).label("accepted_top3"),
            func.count(ReviewItem.id).label("queued"),
            _count_if(decided).label("reviewed"),
            _count_if(decided & (Suggestion.top1_id == Contact.current_description_id)).label("agreed"),
        )
        .select_from(Contact)
        .outerjoin(Suggestion, Contact.suggestion_id == Suggestion.id)
        .outerjoin(ReviewItem, ReviewItem.contact_id == Contact.id)
        .group_by(value)
    )
    rows = [dict(r._mapping) for r in session.execute(date_range(stmt, from_, to))]
    rows.sort(key=lambda r: (-r["contacts"], r["value"] or ""))
    total = {k: sum(r[k] for r in rows) for k in _COUNTS}
    start, end = bounds(from_, to)
    return {"by": by, "from": start, "to": end, "total": _rates(total), "rows": [_rates(r) for r in rows]}


@router.get("/descriptions", response_model=DescriptionReport)
def descriptions(
    session: SessionDep,
    model: ModelDep,
    _: Analyst,
    from_: Annotated[DateBound | None, Query(alias="from", description="Received at or after.")] = None,
    to: Annotated[DateBound | None, Query(description="Received before (a date includes that day).")] = None,
) -> Any:
    """Per description: the contacts it is one of the current descriptions of (primary or not; each
    description of each contact counted once) and how many of them were negative, neutral, positive about it
    or had no sentiment recorded for it. Most frequent first."""
    row = ContactDescription
    stmt = (
        select(
            row.description_id.label("description"),
            func.max(row.group_id).label("group"),
            func.count(row.id).label("contacts"),
            *(_count_if(row.sentiment == s).label(s) for s in ("negative", "neutral", "positive")),
            _count_if(row.sentiment.is_(None)).label("unknown"),
        )
        .select_from(row)
        .join(Contact, Contact.id == row.contact_id)
        .where(row.kind == CURRENT)
        .group_by(row.description_id)
    )
    rows = [dict(r._mapping) for r in session.execute(date_range(stmt, from_, to))]
    tax = model.taxonomy
    for r in rows:  # a group left unknown in the store: the served taxonomy's
        if r["group"] is None and tax.migrate(r["description"]) in tax.descriptions:
            r["group"] = tax.descriptions[tax.migrate(r["description"])].group
    rows.sort(key=lambda r: (-r["contacts"], r["description"]))
    contacts = session.scalar(date_range(select(func.count(Contact.id)), from_, to)) or 0
    start, end = bounds(from_, to)
    total = sum(r["contacts"] for r in rows)
    return {"from": start, "to": end, "contacts": contacts, "descriptions": total, "rows": rows}


def _rates(counts: dict[str, Any]) -> dict[str, Any]:
    def ratio(num: str, den: str) -> float | None:
        return round(counts[num] / counts[den], 4) if counts[den] else None

    return {
        "value": counts.get("value"),
        "contacts": counts["contacts"],
        "with_suggestion": counts["with_suggestion"],
        "acceptance_top1": ratio("accepted_top1", "with_suggestion"),
        "acceptance_top3": ratio("accepted_top3", "with_suggestion"),
        "review_rate": ratio("queued", "contacts"),
        "reviewed": counts["reviewed"],
        "reviewer_agreement": ratio("agreed", "reviewed"),
    }
