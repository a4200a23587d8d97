"""What the review pages show, built from the store and the served model (no HTTP; see service.ui.pages).

The queue uses the API's queue listing (`contactlens.reviews.list_items`), the insights the summary report
(`contactlens.reports`), and decisions go through `contactlens.reviews.record_decision` (via
`service.deps.decide_item`), so the pages and the API cannot disagree. No route function is called here.
"""

from __future__ import annotations

import logging
import threading
import time as clock
from datetime import date, datetime, time
from typing import TYPE_CHECKING, Any

from sqlalchemy import extract, func, select
from sqlalchemy.orm import InstrumentedAttribute, Session

from contactlens import reports, reviews
from contactlens.errors import ContactLensError
from contactlens.model import ContactModel
from contactlens.redaction import clean_full
from contactlens.reviews import AlreadyDecided
from contactlens.store import DECIDED, PENDING, Contact, ReviewDecision, ReviewItem, utcnow
from contactlens.taxonomy import Taxonomy
from service.auth import Principal
from service.common import item_public
from service.ui import charts as ui_charts

if TYPE_CHECKING:
    from contactlens.drift import DriftReport

log = logging.getLogger(__name__)

QUEUE_PAGE = 100  # items rendered at once; the page reloads for more when they are done
EXPLAINED = 20  # items whose suggestions the page explains (one scoring pass, about 5 ms an item)
REASONS = {
    "low_confidence": "low confidence",
    "disagreement": "logged differently from the top suggestion",
    "descriptions_differ": "logged descriptions differ from the model's decision",
    "fits_no_description": "fits no description (unlike every description the model knows)",
}


def label(tax: Taxonomy, description_id: str) -> dict[str, Any]:
    """A description's id (migrated), name and group; an id the taxonomy lacks is shown as it is."""
    did = tax.migrate(description_id)
    d = tax.descriptions.get(did)
    if d is None:
        return {"id": description_id, "name": description_id, "group": "not in the taxonomy", "active": False}
    return {"id": did, "name": d.name, "group": tax.group_names.get(d.group, d.group), "active": d.active}


def when(value: datetime | None) -> str:
    return f"{value:%Y-%m-%d %H:%M} UTC" if value else "an unknown time"


# ------------------------------------------------------------------------------------------------- queue


def counts(session: Session, reviewer: str) -> dict[str, int]:
    """Pending items, items decided today (UTC) and this reviewer's decisions today."""
    midnight = datetime.combine(utcnow().date(), time())
    pending = session.scalar(select(func.count(ReviewItem.id)).where(ReviewItem.status == PENDING))
    today = (ReviewItem.status == DECIDED) & (ReviewItem.decided_at >= midnight)
    done = session.scalar(select(func.count(ReviewItem.id)).where(today))
    mine = session.scalar(
        select(func.count(ReviewDecision.id)).where(
            ReviewDecision.reviewer == reviewer, ReviewDecision.decided_at >= midnight
        )
    )
    return {"pending": pending or 0, "done_today": done or 0, "mine_today": mine or 0}


def queue(session: Session, model: ContactModel, who: Principal) -> dict[str, Any]:
    """The queue page: pending items oldest first (the API's own listing), counts and the search index."""
    _, _, items = reviews.list_items(session, status="pending", limit=QUEUE_PAGE, offset=0)
    tax = model.taxonomy
    shown = [_item(tax, item_public(i)) for i in items]
    explain(model, shown[:EXPLAINED])
    return {
        "items": shown,
        "search_index": search_index(tax),
        "taxonomy_version": tax.version,
        **counts(session, who.name),
    }


def _item(tax: Taxonomy, raw: dict[str, Any]) -> dict[str, Any]:
    c = raw["contact"]
    suggestions = [
        {**label(tax, s["id"]), "rank": rank, "pct": (p := round(100 * s["confidence"])), "shown": _pct(p, s)}
        for rank, s in enumerate(raw["suggestions"][:3], start=1)
    ]
    return {
        "id": raw["id"],
        "contact_id": c["id"],
        "reasons": [REASONS.get(r, r) for r in raw["reason"].split(",") if r],
        "received": c["received_at"],
        "channel": c["channel"],
        "site": c["site"],
        # Stored redacted unless the service keeps raw text; the page shows the redacted form either way.
        "text": c["text"] if c["text_redacted"] else clean_full(c["text"]),
        "logged": label(tax, c["description"]),
        "logged_also": [{**label(tax, d["id"]), "sentiment": d["sentiment"]} for d in c["descriptions"][1:]],
        "logged_by": c["logged_by"],
        "sentiment": c["current_sentiment"] or c["sentiment"],
        "suggestions": suggestions,
        "model": [
            {
                **label(tax, d["id"]),
                "shown": _pct(round(100 * d["confidence"]), d),
                "sentiment": d.get("sentiment"),
            }
            for d in raw["model_descriptions"]
        ],
    }


def explain(model: ContactModel, items: list[dict[str, Any]]) -> None:
    """Add to each item's suggestions why they fit: the nearest training examples and the strongest terms
    (one scoring pass for all the items; suggestions the served model does not know get none)."""
    if not items:
        return
    from contactlens.explain import explainer

    scores = model.score([i["text"] for i in items])
    tfidf = scores.tfidf.tocsr() if scores.tfidf is not None else None
    ex = explainer(model)
    for k, item in enumerate(items):
        row = tfidf[k] if tfidf is not None else None
        for s in item["suggestions"]:
            s["why"] = ex.explain(scores.embeddings[k], row, s["id"])
        item["why_note"] = ex.note


def _pct(rounded: int, suggestion: dict[str, Any]) -> str:
    return "<1%" if rounded == 0 and suggestion["confidence"] > 0 else f"{rounded}%"


def search_index(tax: Taxonomy) -> list[dict[str, str]]:
    """Active descriptions with the words the queue's search box matches (name, group, guidance, id)."""
    active = (d for d in tax.descriptions.values() if d.active)
    return [{**label(tax, d.id), "owner": d.owner, "guidance": d.guidance} for d in active]


def conflict(
    session: Session, model: ContactModel, item_id: int, exc: AlreadyDecided, description: str, note: str
) -> dict[str, Any]:
    """What the page shows when someone decided first: who, when, their label, and the choice not saved."""
    session.expire_all()
    item = session.get_one(ReviewItem, item_id)
    tax = model.taxonomy
    yours = label(tax, description)
    trail = [
        {
            "reviewer": d.reviewer,
            "decided_at": when(d.decided_at),
            "description": label(tax, d.description_id)["name"],
            "override": d.override,
            "note": d.note,
        }
        for d in item.decisions
    ]
    latest = trail[-1]["description"] if trail else "?"
    message = (
        f'Item {item_id} was already decided by {exc.decided_by} at {when(exc.decided_at)} as "{latest}". '
        f'Your choice "{yours["name"]}" was not saved. Save it as well only if you are sure (override): '
        "both decisions stay in the audit trail."
    )
    return {
        "message": message,
        "item": item_id,
        "decided_by": exc.decided_by,
        "decided_at": when(exc.decided_at),
        "decisions": trail,
        "yours": yours,
        "note": note,
    }


# ---------------------------------------------------------------------------------------------- taxonomy


def matches(query: str, haystack: str) -> bool:
    """Every word of the query appears in the text (what the pages' filter boxes do too)."""
    return all(word in haystack for word in query.lower().split())


def taxonomy(model: ContactModel, who: Principal, query: str = "") -> dict[str, Any]:
    """The taxonomy page: the API's listing, each description with the text its filter box searches."""
    raw = model.taxonomy.to_dict()
    groups, total, shown = [], 0, 0
    for g in raw["groups"]:
        descriptions = []
        for d in g["descriptions"]:
            words = " ".join([d["id"], d["name"], g["name"], d["owner"], d["guidance"], *d["examples"]])
            hit = matches(query, words.lower())
            descriptions.append({**d, "search": words.lower(), "hidden": not hit})
            total, shown = total + 1, shown + hit
        groups.append({**g, "descriptions": descriptions, "hidden": all(d["hidden"] for d in descriptions)})
    return {
        "groups": groups,
        "q": query,
        "total": total,
        "shown": shown,
        "name": model.taxonomy.name,
        "version": model.taxonomy.version,
    }


# ---------------------------------------------------------------------------------------------- insights


def insights(
    session: Session, model: ContactModel, who: Principal, from_: date | None = None, to: date | None = None
) -> dict[str, Any]:
    """Review rate and acceptance (the summary report, by group), the month-by-month comparison with its
    significance flags, and the mix by month: by group, and the descriptions that moved most."""
    tax = model.taxonomy
    report = reports.summary(session, "group", from_, to)
    names = tax.group_names
    rows = [{**r, "name": names.get(r["value"] or "", r["value"] or "none")} for r in report["rows"]]
    desc_names = {d.id: d.name for d in tax.descriptions.values()}
    by_group = month_mix(session, Contact.current_group_id, names, from_=from_, to=to)
    by_description = month_mix(session, Contact.current_description_id, desc_names, top=9, from_=from_, to=to)
    months = reports.by_period(session, "month", None, from_, to)["rows"]
    return {
        "total": report["total"],
        "rows": rows,
        "months": months[::-1],
        "from": from_.isoformat() if from_ else "",
        "to": to.isoformat() if to else "",
        "group_chart": ui_charts.stacked_bars(by_group),
        "description_chart": ui_charts.stacked_bars(by_description),
    }


def insights_csv(session: Session, from_: date | None = None, to: date | None = None) -> str:
    """The month-by-month report split by group, as CSV (the Insights page's export)."""
    return reports.to_csv(reports.by_period(session, "month", "group", from_, to)["rows"])


def month_mix(
    session: Session,
    column: InstrumentedAttribute[str],
    names: dict[str, str],
    months: int = 12,
    top: int | None = None,
    from_: date | None = None,
    to: date | None = None,
) -> dict[str, Any]:
    """Contacts per month (received, the last `months` with data) split by `column`. With `top`, only the
    `top` values that moved most between the last two months (absolute change; the commonest first when
    there is one month), so the chart shows what changed rather than a grey 'Other'."""
    year, month = extract("year", Contact.received_at), extract("month", Contact.received_at)
    stmt = reports.date_range(
        select(year, month, column, func.count(Contact.id)).group_by(year, month, column), from_, to
    )
    rows = session.execute(stmt).all()
    if not rows:
        return {"months": [], "series": []}
    present = sorted({(int(y), int(m)) for y, m, _, _ in rows})
    last = present[-1][0] * 12 + present[-1][1] - 1
    first = max(present[0][0] * 12 + present[0][1] - 1, last - months + 1)
    keys = [f"{i // 12:04d}-{i % 12 + 1:02d}" for i in range(first, last + 1)]
    table: dict[str, dict[str, int]] = {}
    for y, m, value, n in rows:
        key = f"{int(y):04d}-{int(m):02d}"
        if key in keys:
            table.setdefault(value or "none", dict.fromkeys(keys, 0))[key] += n
    order = sorted(table, key=lambda v: (-sum(table[v].values()), v))
    if top is not None and len(order) > top:
        if len(keys) > 1:
            moved = {v: abs(table[v][keys[-1]] - table[v][keys[-2]]) for v in order}
            order = sorted(order, key=lambda v: (-moved[v], -sum(table[v].values()), v))
        order = order[:top]
    series = [{"name": names.get(v, v), "counts": list(table[v].values())} for v in order]
    return {"months": keys, "series": series}


# ------------------------------------------------------------------------------------------------- drift

DRIFT_WINDOW = 1000  # the latest contacts the checks look at
DRIFT_WAIT = 3.0  # seconds a page waits for a fresh result before showing the last one
DRIFT_REFRESH = 600.0  # a report younger than this is shown even if contacts arrived since
_drift_lock = threading.Lock()


class DriftCache:
    """The latest drift findings, computed in a background thread so a page never waits long for them."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._key: tuple[Any, ...] | None = None
        self._result: dict[str, Any] | None = None
        self._thread: threading.Thread | None = None

    def latest(self, model: ContactModel, sessions: Any) -> dict[str, Any]:
        with sessions() as session:
            key = (
                model.version,
                session.scalar(select(func.count(Contact.id))),
                session.scalar(select(func.max(Contact.id))),
            )
        with self._lock:
            result, same_model = self._result, self._key is not None and self._key[0] == key[0]
            age = clock.monotonic() - result["at"] if result is not None else None
            recent = result is not None and "report" in result and age is not None and age < DRIFT_REFRESH
            if result is not None and (self._key == key or (same_model and recent)):
                return result
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, args=(model, sessions, key), daemon=True)
                self._thread.start()
            thread = self._thread
        thread.join(DRIFT_WAIT)
        with self._lock:
            if self._key == key and self._result is not None:
                return self._result
            return {**(self._result or {}), "running": True, "n": key[1]}

    def _run(self, model: ContactModel, sessions: Any, key: tuple[Any, ...]) -> None:
        result = _drift(model, sessions)
        result.update(at=clock.monotonic(), computed_at=when(utcnow()), n=key[1])
        with self._lock:
            self._key, self._result = key, result


def drift_findings(state: Any, model: ContactModel, sessions: Any) -> dict[str, Any]:
    """The insights page's drift section: `report` (the findings) or `message` (why there are none)."""
    with _drift_lock:
        cache = getattr(state, "ui_drift", None)
        if cache is None:
            cache = state.ui_drift = DriftCache()
    return cache.latest(model, sessions)


def _drift(model: ContactModel, sessions: Any) -> dict[str, Any]:
    try:
        from contactlens.drift import run_drift
    except ImportError:
        return {"message": "drift checks are not part of this installation"}
    import pandas as pd

    from contactlens.drift import DriftConfig
    from contactlens.reports import live_baseline

    with sessions() as session:
        newest = (Contact.received_at.desc(), Contact.id.desc())
        stmt = select(Contact.text, Contact.received_at).order_by(*newest).limit(DRIFT_WINDOW)
        rows = session.execute(stmt).all()
        # The contacts before those logged with this model's suggestions: the novelty check's baseline.
        before = live_baseline(session, model, rows[-1][1] if rows else None)
    cols = ["text", "received_at"]
    frame = pd.DataFrame(rows[::-1], columns=cols)
    base = pd.DataFrame(before, columns=cols) if len(before) >= DriftConfig().min_window else None
    try:
        return {"report": findings(run_drift(model, frame, baseline=base))}
    except ContactLensError as exc:  # too few contacts, or a model without a drift reference
        return {"message": str(exc)}
    except Exception:  # a background thread: say so on the page rather than die silently
        log.exception("drift checks failed")
        return {"message": "the drift checks failed; the service log says why"}


def findings(report: DriftReport) -> dict[str, Any]:
    """The parts of a drift report the page shows (the clusters read defensively: a row may grow)."""
    clusters = [
        {
            "name": c.get("proposed_name", "unnamed"),
            "size": c.get("size", 0),
            "share": c.get("share"),
            "keywords": list(c.get("keywords", []))[:8],
            "examples": list(c.get("examples", []))[:3],
            "filed_as": (c.get("filed_as") or {}).get("name"),
        }
        for c in (report.novel_clusters or [])[:5]
    ]
    return {
        "revisit": report.revisit_taxonomy,
        "reasons": list(report.reasons),
        "window": report.window.to_dict(),
        "clusters": clusters,
    }
