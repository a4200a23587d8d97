"""Management information from the store: counts, acceptance, review rate and agreement per value, per
period (month or ISO week) with the change against the previous period and whether it is significant.

Used by `/v1/reports/summary`, the Insights page and `contactlens report` (the monthly pack). All counting is
SQL grouped by day; days are bucketed into periods in Python, which works the same on SQLite and PostgreSQL.
"""

from __future__ import annotations

import csv
import io
import math
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import Integer, Select, case, func, or_, select
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from contactlens.errors import ContactLensError
from contactlens.store import DECIDED, Contact, ReviewItem, Suggestion

COLUMNS = {
    "group": Contact.current_group_id,
    "description": Contact.current_description_id,
    "owner": Contact.current_owner,
    "channel": Contact.channel,
    "site": Contact.site,
    "sentiment": Contact.current_sentiment,
}
PERIODS = ("month", "week")
COUNTS = ("contacts", "with_suggestion", "accepted_top1", "accepted_top3", "queued", "reviewed", "agreed")
ALPHA = 0.05  # false discovery rate for the significance flag (Benjamini-Hochberg across the rows)


class RangeError(ContactLensError):
    """A date range that ends before it starts."""


# ------------------------------------------------------------------------------------------------ ranges


def to_utc(value: datetime) -> datetime:
    """Naive UTC, as stored; a naive input is taken to be UTC already."""
    return value.astimezone(UTC).replace(tzinfo=None) if value.tzinfo else value


def bounds(from_: date | None, to: date | None) -> tuple[datetime | None, datetime | None]:
    """A half-open [start, end) in naive UTC; a bare date as `to` includes that whole day.

    Raises:
        RangeError: `from` later than `to` (an empty report would hide the mistake).
    """
    start = end = None
    if from_ is not None:
        start = to_utc(from_) if isinstance(from_, datetime) else datetime.combine(from_, time())
    if to is not None:
        end = to_utc(to) if isinstance(to, datetime) else datetime.combine(to + timedelta(days=1), time())
    if start is not None and end is not None and start >= end:
        raise RangeError(f"field 'from': {from_} is not before 'to' ({to}); swap them")
    return start, end


def date_range(stmt: Select, from_: date | None, to: date | None) -> Select:
    start, end = bounds(from_, to)
    if start is not None:
        stmt = stmt.where(Contact.received_at >= start)
    if end is not None:
        stmt = stmt.where(Contact.received_at < end)
    return stmt


BASELINE_CONTACTS = 1000  # the most live contacts a drift baseline holds (the latest)


def trained_at(model: Any) -> datetime | None:
    """When the model was trained (naive UTC), from its metadata; None when it does not say."""
    stamp = (getattr(model, "metadata", None) or {}).get("created_at")
    try:
        return to_utc(datetime.fromisoformat(stamp)) if stamp else None
    except (TypeError, ValueError):
        return None


def live_baseline(
    session: Session, model: Any, before: datetime | None, limit: int = BASELINE_CONTACTS
) -> list[tuple[str, datetime]]:
    """(text, received_at) of the latest `limit` contacts received before `before` that were logged with a
    suggestion from this model, after it was trained: live contacts it cannot have trained on, the drift
    checks' baseline period. Contacts stored without such a suggestion (imports, back-filled history, which
    may be the training data itself) do not count. Empty when the model does not say when it was trained, or
    when `before` is None (no start to the window)."""
    since = trained_at(model)
    if since is None or before is None:
        return []
    stmt = (
        select(Contact.text, Contact.received_at)
        .join(Suggestion, Contact.suggestion_id == Suggestion.id)
        .where(Suggestion.model_version == model.version, Contact.logged_at > since)
        .where(Contact.received_at < before)
        .order_by(Contact.received_at.desc(), Contact.id.desc())
        .limit(limit)
    )
    return [(t, r) for t, r in session.execute(stmt).all()][::-1]


# ----------------------------------------------------------------------------------------------- summary


def count_if(condition: ColumnElement[bool]) -> ColumnElement[int]:
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0).cast(Integer)


def _counts() -> list[ColumnElement[Any]]:
    decided = ReviewItem.status == DECIDED
    logged = Contact.description_id
    return [
        func.count(Contact.id).label("contacts"),
        func.count(Suggestion.id).label("with_suggestion"),
        count_if(Suggestion.top1_id == logged).label("accepted_top1"),
        count_if(
            or_(Suggestion.top1_id == logged, Suggestion.top2_id == logged, Suggestion.top3_id == logged)
        ).label("accepted_top3"),
        func.count(ReviewItem.id).label("queued"),
        count_if(decided).label("reviewed"),
        count_if(decided & (Suggestion.top1_id == Contact.current_description_id)).label("agreed"),
    ]


def _grouped(session: Session, keys: list[ColumnElement[Any]], from_: Any, to: Any) -> list[dict[str, Any]]:
    stmt = (
        select(*keys, *_counts())
        .select_from(Contact)
        .outerjoin(Suggestion, Contact.suggestion_id == Suggestion.id)
        .outerjoin(ReviewItem, ReviewItem.contact_id == Contact.id)
        .group_by(*keys)
    )
    return [dict(r._mapping) for r in session.execute(date_range(stmt, from_, to))]


def summary(session: Session, by: str = "group", from_: Any = None, to: Any = None) -> dict[str, Any]:
    """Per value of `by` (a key of `COLUMNS`): contacts, acceptance of the top-1/top-3 suggestion, review
    rate, reviewer agreement; most contacts first."""
    rows = _grouped(session, [COLUMNS[by].label("value")], from_, to)
    rows.sort(key=lambda r: (-r["contacts"], r["value"] or ""))
    total = {k: sum(r[k] for r in rows) for k in COUNTS}
    start, end = bounds(from_, to)
    return {"by": by, "from": start, "to": end, "total": rates(total), "rows": [rates(r) for r in rows]}


def rates(counts: dict[str, Any]) -> dict[str, Any]:
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


# ------------------------------------------------------------------------------------------------ periods


def period_of(day: date, period: str) -> str:
    """`2026-10` for a month, `2026-W43` for an ISO week."""
    if period == "month":
        return f"{day.year:04d}-{day.month:02d}"
    year, week, _ = day.isocalendar()
    return f"{year:04d}-W{week:02d}"


def _previous(key: str, period: str) -> str:
    if period == "month":
        y, m = int(key[:4]), int(key[5:7])
        return f"{y - (m == 1):04d}-{(m - 2) % 12 + 1:02d}"
    monday = date.fromisocalendar(int(key[:4]), int(key[6:]), 1)
    return period_of(monday - timedelta(days=7), "week")


def _day(value: Any) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])  # SQLite's date() is text


def by_period(
    session: Session, period: str, split: str | None = None, from_: Any = None, to: Any = None
) -> dict[str, Any]:
    """Per period (and value of `split`): the summary counts and rates, the share of the period's contacts,
    and the change from the previous period with a significance flag.

    Without `split`, a period's volume is compared with the previous one's by an exact binomial test
    (equal rates, so half of the two periods' contacts expected in each); with `split`, a value's share of
    its period by a two-proportion z-test. p-values are adjusted across all rows (Benjamini-Hochberg) and
    `significant` is set at a false discovery rate of `ALPHA`. The first period has no comparison.
    """
    if period not in PERIODS:
        raise ContactLensError(f"field 'by': period must be one of {', '.join(PERIODS)}, not '{period}'")
    day = func.date(Contact.received_at).label("day")
    keys: list[ColumnElement[Any]] = [day]
    if split is not None:
        keys.append(COLUMNS[split].label("value"))
    table: dict[tuple[str, str | None], dict[str, int]] = {}
    for r in _grouped(session, keys, from_, to):
        key = (period_of(_day(r["day"]), period), r.get("value"))
        slot = table.setdefault(key, dict.fromkeys(COUNTS, 0))
        for k in COUNTS:
            slot[k] += int(r[k])
    totals: dict[str, int] = {}
    for (p, _), c in table.items():
        totals[p] = totals.get(p, 0) + c["contacts"]
    periods = sorted(totals)
    values = sorted({v for _, v in table}, key=lambda v: (v is None, v or ""))
    rows = []
    for p in periods:
        prev = _previous(p, period)
        for v in values:
            cell = table.get((p, v))
            before = table.get((prev, v), {}).get("contacts", 0) if prev in totals else None
            if cell is None and not before:
                continue
            counts = cell or dict.fromkeys(COUNTS, 0)
            row = {**rates({**counts, "value": v}), "period": p}
            rows.append(_change(row, counts, totals[p], before, totals.get(prev), volume=split is None))
    _flag(rows)
    start, end = bounds(from_, to)
    return {"by": period, "split": split, "from": start, "to": end, "periods": periods, "rows": rows}


def _change(
    row: dict[str, Any],
    counts: dict[str, int],
    total: int,
    before: int | None,
    total_before: int | None,
    volume: bool,
) -> dict[str, Any]:
    n = counts["contacts"]
    row["share"] = round(n / total, 4) if total else None
    row["previous_contacts"] = before
    row["previous_share"] = round(before / total_before, 4) if before is not None and total_before else None
    row["change"] = n - before if before is not None else None
    row["change_pct"] = round(100 * (n - before) / before, 1) if before else None
    p = None
    if before is not None and total_before:
        p = _p_volume(n, before) if volume else _p_share(n, total, before, total_before)
    row["p_value"] = p
    return row


def _p_volume(n: int, before: int) -> float:
    from scipy.stats import binomtest

    return float(binomtest(n, n + before, 0.5).pvalue) if n + before else 1.0


def _p_share(x1: int, n1: int, x2: int, n2: int) -> float:
    """Two-sided two-proportion z-test (pooled); 1.0 when the pooled share is 0 or 1."""
    pooled = (x1 + x2) / (n1 + n2)
    se = math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    if se == 0:
        return 1.0
    z = (x1 / n1 - x2 / n2) / se
    return math.erfc(abs(z) / math.sqrt(2))


def _flag(rows: list[dict[str, Any]]) -> None:
    tested = [r for r in rows if r["p_value"] is not None]
    if tested:
        from scipy.stats import false_discovery_control

        adjusted = false_discovery_control([r["p_value"] for r in tested], method="bh")
        for r, q in zip(tested, adjusted, strict=True):
            r["q_value"] = round(float(q), 6)
            r["significant"] = bool(q < ALPHA)
    for r in rows:
        r.setdefault("q_value", None)
        r.setdefault("significant", None)
        if r["p_value"] is not None:
            r["p_value"] = round(r["p_value"], 6)


CSV_COLUMNS = (
    "period",
    "value",
    "contacts",
    "share",
    "previous_contacts",
    "previous_share",
    "change",
    "change_pct",
    "p_value",
    "q_value",
    "significant",
    "with_suggestion",
    "acceptance_top1",
    "acceptance_top3",
    "review_rate",
    "reviewed",
    "reviewer_agreement",
)


def to_csv(rows: list[dict[str, Any]]) -> str:
    """Report rows as CSV (the columns rows have, in `CSV_COLUMNS` order)."""
    present = [c for c in CSV_COLUMNS if any(c in r for r in rows)] if rows else ["value", "contacts"]
    out = io.StringIO()
    writer = csv.DictWriter(out, present, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()
