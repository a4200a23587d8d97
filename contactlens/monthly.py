"""The monthly management-information pack an analyst presents: volumes and trends by group and owner, the
top movers against the previous month, sentiment by group, review rate and suggestion acceptance, the drift
verdict, with charts (matplotlib PNGs embedded as base64). Built by `contactlens report --month`.

`pack` gathers the figures (SQL through `contactlens.reports`), `render_html` fills the Jinja template
`templates/monthly.html`, `to_csv` writes the movers and volumes as one CSV.
"""

from __future__ import annotations

import base64
import io
from datetime import date
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from contactlens import reports
from contactlens.errors import ContactLensError
from contactlens.store import Contact
from contactlens.taxonomy import Taxonomy

TEMPLATES = Path(__file__).resolve().parent / "templates"
TREND_MONTHS = 6  # months shown in the trend charts, ending with the reported month
MOVERS = 10
SENTIMENTS = ("negative", "neutral", "positive")


def parse_month(value: str) -> date:
    """`2026-10` as the first day of that month, else a one-line error."""
    try:
        year, month = value.split("-")
        return date(int(year), int(month), 1)
    except ValueError:
        raise ContactLensError(f"--month: '{value}' is not a month like 2026-10") from None


def _shift(first: date, months: int) -> date:
    index = first.year * 12 + first.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def pack(session: Session, tax: Taxonomy, month: date, drift: dict[str, Any] | None = None) -> dict[str, Any]:
    """Every figure of the month's pack (JSON-ready; charts are added by `render_html`)."""
    key = reports.period_of(month, "month")
    start, after = _shift(month, -(TREND_MONTHS - 1)), _shift(month, 1)
    end = date.fromordinal(after.toordinal() - 1)
    names = {**tax.group_names, **{d.id: d.name for d in tax.descriptions.values()}}

    def period(split: str | None) -> dict[str, Any]:
        return reports.by_period(session, "month", split, start, end)

    def this_month(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        out = [
            {**r, "name": names.get(r["value"] or "", r["value"] or "none")}
            for r in rows
            if r["period"] == key
        ]
        return sorted(out, key=lambda r: (-r["contacts"], r["name"]))

    volume, by_group, by_owner = period(None), period("group"), period("owner")
    descriptions = this_month(period("description")["rows"])
    movers = sorted(
        (r for r in descriptions if r["change"] is not None),
        key=lambda r: (-abs(r["change"]), r["name"]),
    )[:MOVERS]
    total = next((r for r in volume["rows"] if r["period"] == key), None)
    summary = reports.summary(session, "group", month, end)
    return {
        "month": key,
        "previous": reports.period_of(_shift(month, -1), "month"),
        "taxonomy": f"{tax.name} {tax.version}",
        "contacts": total["contacts"] if total else 0,
        "change": total,
        "trend": volume["rows"],
        "groups": this_month(by_group["rows"]),
        "owners": this_month(by_owner["rows"]),
        "movers": movers,
        "sentiment": _sentiment_by_group(session, month, end, names),
        "service": summary["total"],
        "group_trend": _series(by_group["rows"], volume["periods"], names),
        "owner_trend": _series(by_owner["rows"], volume["periods"], names),
        "drift": drift,
    }


def _series(rows: list[dict[str, Any]], periods: list[str], names: dict[str, str]) -> dict[str, Any]:
    table: dict[str, dict[str, int]] = {}
    for r in rows:
        table.setdefault(names.get(r["value"] or "", r["value"] or "none"), dict.fromkeys(periods, 0))[
            r["period"]
        ] = r["contacts"]
    order = sorted(table, key=lambda v: -sum(table[v].values()))
    return {"periods": periods, "series": [{"name": v, "counts": list(table[v].values())} for v in order]}


def _sentiment_by_group(
    session: Session, first: date, last: date, names: dict[str, str]
) -> list[dict[str, Any]]:
    stmt = reports.date_range(
        select(Contact.current_group_id, Contact.current_sentiment, func.count(Contact.id)).group_by(
            Contact.current_group_id, Contact.current_sentiment
        ),
        first,
        last,
    )
    table: dict[str, dict[str, int]] = {}
    for group, sentiment, n in session.execute(stmt):
        row = table.setdefault(group, {s: 0 for s in (*SENTIMENTS, "unknown")})
        row[sentiment if sentiment in SENTIMENTS else "unknown"] += n
    out = []
    for group, counts in table.items():
        total = sum(counts.values())
        scored = total - counts["unknown"]
        negative = round(counts["negative"] / scored, 4) if scored else None
        out.append(
            {"group": names.get(group, group), "contacts": total, **counts, "negative_share": negative}
        )
    return sorted(out, key=lambda r: -r["contacts"])


# ------------------------------------------------------------------------------------------------ output


def _png(fig: Any) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90, bbox_inches="tight")
    return base64.b64encode(buf.getvalue()).decode("ascii")


def charts(report: dict[str, Any]) -> dict[str, str]:
    """The pack's charts as base64 PNGs: trends by group and by owner, the top movers, sentiment by group."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out: dict[str, str] = {}
    for key in ("group_trend", "owner_trend"):
        data = report[key]
        fig, ax = plt.subplots(figsize=(8, 3.2))
        bottom = [0] * len(data["periods"])
        for s in data["series"][:10]:
            ax.bar(data["periods"], s["counts"], bottom=bottom, label=s["name"][:30])
            bottom = [b + c for b, c in zip(bottom, s["counts"], strict=True)]
        ax.set_ylabel("contacts")
        ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1, 1))
        out[key] = _png(fig)
        plt.close(fig)
    movers = report["movers"]
    fig, ax = plt.subplots(figsize=(8, 0.35 * max(len(movers), 1) + 0.8))
    ax.barh(
        [m["name"][:40] for m in movers][::-1],
        [m["change"] for m in movers][::-1],
        color=["#c0392b" if m["change"] > 0 else "#2471a3" for m in movers][::-1],
    )
    ax.set_xlabel(f"change in contacts, {report['month']} vs {report['previous']}")
    out["movers"] = _png(fig)
    plt.close(fig)
    sentiment = report["sentiment"][:12]
    fig, ax = plt.subplots(figsize=(8, 0.35 * max(len(sentiment), 1) + 0.8))
    left = [0] * len(sentiment)
    for s, colour in zip((*SENTIMENTS, "unknown"), ("#c0392b", "#aab7b8", "#27ae60", "#e5e8e8"), strict=True):
        values = [r[s] for r in sentiment]
        ax.barh([r["group"][:40] for r in sentiment], values, left=left, color=colour, label=s)
        left = [a + b for a, b in zip(left, values, strict=True)]
    ax.legend(fontsize=7)
    out["sentiment"] = _png(fig)
    plt.close(fig)
    return out


def render_html(report: dict[str, Any]) -> str:
    """The pack as one self-contained HTML page (charts embedded)."""
    from jinja2 import Environment, FileSystemLoader, select_autoescape

    env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html"]))
    return env.get_template("monthly.html").render(r=report, charts=charts(report))


def to_csv(report: dict[str, Any]) -> str:
    """Groups, owners and descriptions that moved, one row each, with the section as the first column."""
    rows = [{"section": section, **r} for section in ("groups", "owners", "movers") for r in report[section]]
    text = reports.to_csv(rows)
    header, _, body = text.partition("\n")
    return (
        "section,"
        + header
        + "\n"
        + "\n".join(f"{r['section']},{line}" for r, line in zip(rows, body.splitlines(), strict=True))
        + ("\n" if rows else "")
    )


DRIFT_WINDOW = 1000  # the month's latest contacts the drift checks look at


def drift_verdict(session: Session, model: Any, month: date) -> dict[str, Any]:
    """The drift checks on the month's contacts: `revisit` and `reasons`, or `message` saying why not."""
    import pandas as pd

    after = _shift(month, 1)
    end = date.fromordinal(after.toordinal() - 1)
    newest = (Contact.received_at.desc(), Contact.id.desc())
    stmt = reports.date_range(select(Contact.text, Contact.received_at), month, end)
    rows = session.execute(stmt.order_by(*newest).limit(DRIFT_WINDOW)).all()
    # The months before, as far as the model cannot have trained on them: a baseline of live contacts
    # (`reports.live_baseline`) finds novelty spread too thin for the training reference to tell from wording.
    before = reports.live_baseline(session, model, reports.bounds(month, None)[0])
    cols = ["text", "received_at"]
    try:
        from contactlens.drift import DriftConfig, run_drift

        base = pd.DataFrame(before, columns=cols) if len(before) >= DriftConfig().min_window else None
        found = run_drift(model, pd.DataFrame(rows[::-1], columns=cols), baseline=base)
    except ContactLensError as exc:  # too few contacts, or a model without a drift reference
        return {"message": f"drift not checked: {exc}"}
    out: dict[str, Any] = {"revisit": found.revisit_taxonomy, "reasons": list(found.reasons)}
    out["baseline_contacts"] = 0 if base is None else len(base)
    return out
