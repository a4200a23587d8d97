"""GET /v1/drift: does the taxonomy need revisiting, judged on the contacts received in a date range."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from sqlalchemy import func, select

from contactlens.drift import DriftConfig, run_drift
from contactlens.errors import ContactLensError
from contactlens.reports import live_baseline
from contactlens.store import DECIDED, Contact, ReviewDecision, ReviewItem, Suggestion
from service.auth import Analyst
from service.common import bounds, date_range
from service.deps import ModelDep, SessionDep
from service.schemas import DateBound

router = APIRouter(prefix="/v1", tags=["drift"])


@router.get("/drift")
def drift(
    session: SessionDep,
    model: ModelDep,
    _: Analyst,
    from_: Annotated[DateBound | None, Query(alias="from", description="Received at or after.")] = None,
    to: Annotated[DateBound | None, Query(description="Received before (a date includes that day).")] = None,
    baseline_from: Annotated[
        DateBound | None,
        Query(description="A baseline period: received at or after (with `baseline_to`, or alone)."),
    ] = None,
    baseline_to: Annotated[
        DateBound | None, Query(description="The baseline period: received before (a date includes it).")
    ] = None,
    auto_baseline: Annotated[
        bool,
        Query(
            description="Without a baseline period given: compare with the latest 1,000 contacts received "
            "before `from` and logged with a suggestion from this model (when there are at least 100)."
        ),
    ] = True,
) -> dict[str, Any]:
    """The drift report (see the README's contract) over the contacts received in [from, to).

    With a baseline period (`baseline_from` and/or `baseline_to`, say the months before the window; or by
    default the contacts before `from` logged with this model's suggestions), the share of contacts fitting no
    description is also compared with that period's (the report's `novelty.baseline`, with its `source`).
    """
    # A plain `def`: the checks are CPU-bound, so FastAPI runs them in its threadpool.
    frame = _window(session, from_, to, "no contacts received")
    base, source = None, None
    if baseline_from is not None or baseline_to is not None:
        base = _window(session, baseline_from, baseline_to, "the baseline period: no contacts received")
        source = "given"
    elif auto_baseline:
        import pandas as pd

        rows = live_baseline(session, model, bounds(from_, to)[0])
        if len(rows) >= DriftConfig().min_window:
            base = pd.DataFrame(rows, columns=["text", "received_at"])
            source = "auto: contacts received before the window, logged with this model's suggestions"
    cfg = DriftConfig(max_contacts=5000)
    report = run_drift(
        model,
        frame,
        store_corrections=_corrections(session, from_, to),
        config=cfg,
        no_fit_rows=_no_fit(session, from_, to),
        baseline=base,
    )
    out: dict[str, Any] = report.to_dict()
    found = (out.get("novelty") or {}).get("baseline")
    if source is not None and isinstance(found, dict):
        found["source"] = source
    return out


def _window(session: Any, from_: Any, to: Any, empty: str) -> Any:
    """The contacts received in [from_, to) as a frame (id, text, received_at); refused when none."""
    stmt = select(Contact.id, Contact.text, Contact.received_at)
    rows = session.execute(date_range(stmt, from_, to)).all()
    if not rows:
        start, end = bounds(from_, to)
        raise ContactLensError(f"{empty} between {start or 'the first'} and {end or 'now'}: nothing to check")
    import pandas as pd  # here: a worker loads pandas (and pyarrow, about 100 MB) only for this report

    return pd.DataFrame(rows, columns=["id", "text", "received_at"]).set_index("id")


def _latest_decisions() -> Any:
    return (
        select(ReviewDecision.review_item_id, func.max(ReviewDecision.id).label("id"))
        .group_by(ReviewDecision.review_item_id)
        .subquery()
    )


def _no_fit(session: Any, from_: Any, to: Any) -> set[int]:
    """Contacts whose latest review decision says no description fits (evidence for new descriptions)."""
    latest = _latest_decisions()
    stmt = (
        select(Contact.id)
        .join(ReviewItem, ReviewItem.contact_id == Contact.id)
        .join(latest, latest.c.review_item_id == ReviewItem.id)
        .join(ReviewDecision, ReviewDecision.id == latest.c.id)
        .where(ReviewDecision.no_description_fits.is_(True))
    )
    return {int(i) for (i,) in session.execute(date_range(stmt, from_, to)).all()}


def _corrections(session: Any, from_: Any, to: Any) -> list[tuple[str, str]]:
    """(top suggestion, latest decision) of reviewed contacts; agreements count too (the denominator)."""
    latest = _latest_decisions()
    stmt = (
        select(Suggestion.top1_id, ReviewDecision.description_id)
        .select_from(Contact)
        .join(Suggestion, Contact.suggestion_id == Suggestion.id)
        .join(ReviewItem, (ReviewItem.contact_id == Contact.id) & (ReviewItem.status == DECIDED))
        .join(latest, latest.c.review_item_id == ReviewItem.id)
        .join(ReviewDecision, ReviewDecision.id == latest.c.id)
        .where(ReviewDecision.no_description_fits.is_not(True))  # the nearest description, not a correction
    )
    return [(s, d) for s, d in session.execute(date_range(stmt, from_, to)).all()]
