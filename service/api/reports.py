"""`/v1/reports/summary`: counts, suggestion acceptance, review rate, reviewer agreement, per value or per
period with the change from the previous one; and `/v1/reports/descriptions`: every description of every
contact with its sentiments (both in SQL, see `contactlens.reports`)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from fastapi.responses import Response
from sqlalchemy import func, select

from contactlens import reports
from contactlens.reports import bounds, count_if, date_range
from contactlens.store import CURRENT, Contact, ContactDescription
from service.auth import Analyst
from service.deps import ModelDep, SessionDep, invalid
from service.schemas import (
    DateBound,
    DescriptionReport,
    PeriodReport,
    ReportBy,
    ReportGrouping,
    ReportSummary,
)

router = APIRouter(prefix="/v1/reports", tags=["reports"])


# `format=csv` answers text/csv: documented beside the JSON, so that clients generated from the OpenAPI (and
# schemathesis, which found it missing) expect it.
_CSV: dict[int | str, dict[str, Any]] = {
    200: {"content": {"text/csv": {"schema": {"type": "string"}}}, "description": "The report."}
}


@router.get("/summary", response_model=ReportSummary | PeriodReport, responses=_CSV)
def summary(
    session: SessionDep,
    _: Analyst,
    by: ReportGrouping = "group",
    split: Annotated[
        ReportBy | None, Query(description="With by=month|week: one row per period and value of this.")
    ] = None,
    from_: Annotated[DateBound | None, Query(alias="from", description="Received at or after.")] = None,
    to: Annotated[DateBound | None, Query(description="Received before (a date includes that day).")] = None,
    format: Literal["json", "csv"] = "json",
) -> Any:
    """Per value of `by`: contacts, acceptance of the top-1/top-3 suggestion, review rate, reviewer agreement.

    `by=month` or `by=week` (optionally `split` by group, description, owner, channel, site or sentiment):
    one row per period (and value) with its share of the period, the change from the previous period and a
    significance flag (Benjamini-Hochberg across the rows). `format=csv` returns the rows as CSV.
    Acceptance compares the description logged with the suggestion it answered; agreement compares a
    reviewer's latest decision with the top suggestion.
    """
    if split is not None and by not in reports.PERIODS:
        invalid("split", "goes with by=month or by=week; use by alone for one row per value", split, "query")
    if by in reports.PERIODS:
        report = reports.by_period(session, by, split, from_, to)
    else:
        report = reports.summary(session, by, from_, to)
    if format == "csv":
        name = f"summary-by-{by}{f'-{split}' if split and by in reports.PERIODS else ''}.csv"
        headers = {"Content-Disposition": f'attachment; filename="{name}"'}
        return Response(reports.to_csv(report["rows"]), media_type="text/csv", headers=headers)
    return report


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
            *(count_if(row.sentiment == s).label(s) for s in ("negative", "neutral", "positive")),
            count_if(row.sentiment.is_(None)).label("unknown"),
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
