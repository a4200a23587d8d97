"""Run the registered checks on a window of contacts and decide whether the taxonomy needs revisiting.

`run_drift(model, frame)` scores a window (a file, or the contacts logged in a date range) and returns the
report (`result.DriftReport`) whose JSON's top-level keys are a public contract (README): `revisit_taxonomy`,
`reasons`, `input_drift`, `mix_drift`, `confidence_drift`, `novel_clusters`, `unused_descriptions`,
`confused_pairs`, `split_candidates`, plus `novelty`, `window` and `mix_by_month`. No I/O here: the CLI and
the service read the contacts and write the report.

`reference_extras` is called at training time to store what the checks need beyond the basic reference.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import numpy as np

from contactlens.drift import checks as registry
from contactlens.drift import novelty
from contactlens.drift.base import Baseline, Check, DriftConfig, TrainingData, Window
from contactlens.drift.result import DriftReport, WindowInfo
from contactlens.errors import ContactLensError, ModelError

if TYPE_CHECKING:
    import pandas as pd

    from contactlens.model import ContactModel, Scores

REQUIRED = ("classes", "class_share", "centroids", "spreads", "sample_embeddings", "review_rate")
REPORT_KEYS = DriftReport.CONTRACT


def _checks(checks: Sequence[Check] | None) -> Sequence[Check]:
    return registry.CHECKS if checks is None else checks


def reference_extras(
    embeddings: np.ndarray,
    y_idx: np.ndarray,
    oof: np.ndarray,
    cleaned: list[str],
    seed: int = 0,
    neighbours: int = novelty.NEIGHBOURS,
    folds: list | None = None,
    known_rate: float = novelty.KNOWN_RATE,
    checks: Sequence[Check] | None = None,
) -> dict[str, np.ndarray]:
    """What the checks need from the training data beyond centroids and samples (stored in reference.npz).

    Each check contributes its own arrays (`Check.fit_reference`); two checks may not store the same key.

    Args:
        embeddings: L2-normalised training embeddings.
        y_idx: class index of each training row.
        oof: out-of-fold description probabilities.
        cleaned: the redacted training texts (only word counts are kept).
        neighbours: the most training embeddings kept (float16) for the novelty test's nearest neighbours.
        folds: the folds of `oof`; the novelty statistics are measured on contacts held out of them.
        known_rate: the share of held-out known contacts the "fits no description" rule may flag.
    """
    data = TrainingData(embeddings, y_idx, oof, cleaned, seed, neighbours, folds, known_rate)
    out: dict[str, np.ndarray] = {}
    for check in _checks(checks):
        arrays = check.fit_reference(data)
        clash = sorted(set(arrays) & set(out))
        if clash:
            raise ValueError(f"{type(check).__name__} stores reference keys another check stores: {clash}")
        out |= arrays
    return out


def check_reference(model: ContactModel) -> None:
    """Refuse a model whose artifact holds no (or an incomplete) drift reference."""
    missing = [key for key in REQUIRED if key not in model.reference]
    if missing:
        where = model.path or "the model"
        raise ModelError(
            f"{where}: no drift reference (reference.npz lacks {', '.join(missing)}); retrain the model "
            "with this ContactLens version to store one"
        )
    if list(model.reference["classes"]) != model.classes:
        raise ModelError(f"{model.path}: reference.npz does not match the model's descriptions; retrain")


def check_size(n: int, cfg: DriftConfig, what: str = "window") -> None:
    """Refuse an empty window (or baseline period), or one too small to tell drift from noise."""
    if n == 0:
        raise ContactLensError(
            f"the {what} holds no contacts (an empty file or date range): nothing to check"
        )
    if n < cfg.min_window:
        raise ContactLensError(
            f"the {what} holds {n} contacts; drift checks need at least {cfg.min_window} "
            "to tell drift from noise"
        )


def analyse(
    model: ContactModel,
    scores: Scores,
    dates: pd.Series | None = None,
    corrections: list[tuple[str, str]] | None = None,
    config: DriftConfig | None = None,
    checks: Sequence[Check] | None = None,
    baseline: Scores | None = None,
) -> DriftReport:
    """Run every registered check on an already scored window and decide whether to revisit the taxonomy.

    `baseline`: the scored contacts of a baseline period (live contacts from before the window, which the
    model did not train on); the novelty check then also compares the window's share of contacts fitting no
    description with the baseline's.
    """
    cfg = config or DriftConfig()
    check_reference(model)
    n = len(scores.cleaned)
    check_size(n, cfg)
    base = None
    if baseline is not None:
        check_size(len(baseline.cleaned), cfg, "baseline period")
        reference = {"review_threshold": np.array([model.review_threshold]), **model.reference}
        base = Baseline(
            baseline.proba.argmax(axis=1),
            novelty.evidence(baseline.embeddings, baseline.top_confidence, reference),
        )
    w = Window(
        embeddings=scores.embeddings,
        confidence=scores.top_confidence,
        predicted=scores.proba.argmax(axis=1),
        texts=scores.cleaned,
        classes=model.classes,
        reference=model.reference,
        taxonomy=model.taxonomy,
        review_threshold=model.review_threshold,
        baseline=base,
    )
    found: dict[str, Any] = {}
    for check in _checks(checks):
        sections = check.compute(w, cfg, corrections or [])
        if set(sections) != set(check.keys):
            raise ValueError(f"{type(check).__name__} returned {sorted(sections)}, declares {check.keys}")
        found |= sections
    # Beyond the contract: the window and the mix over time.
    report = DriftReport.from_sections(_window_info(model, n, dates), found, mix_by_month(w, dates))
    return report.with_reasons(reasons(report, checks))


def run_drift(
    model: ContactModel,
    frame: pd.DataFrame,
    store_corrections: list[tuple[str, str]] | None = None,
    config: DriftConfig | None = None,
    no_fit_rows: set[Any] | None = None,
    baseline: pd.DataFrame | None = None,
) -> DriftReport:
    """Score a window of contacts and return the drift report (`to_dict()` is the JSON contract; see module
    doc).

    Args:
        model: a loaded model whose artifact holds a drift reference.
        frame: the window: a `text` column, optionally `received_at` (for the mix over time).
        store_corrections: (suggested, decided) description pairs of reviews in the window, if any.
        config: levels and sizes of the checks.
        no_fit_rows: row labels of `frame` that a reviewer said no description fits: each novel cluster
            counts them (`reviewer_no_fit`), and the window reports how many there are.
        baseline: a baseline period's contacts (a `text` column), live contacts from before the window: the
            window's share of contacts fitting no description is compared with theirs too (see `analyse`).

    Raises:
        ContactLensError: an empty or too small window or baseline; ModelError for a model without a
            reference.
    """
    cfg = config or DriftConfig()
    check_reference(model)
    frame = _texts(frame, cfg, "window")  # before scoring: say so at once
    base = None if baseline is None else _texts(baseline, cfg, "baseline period")
    n_window = len(frame)
    if n_window > cfg.max_contacts:
        frame = frame.sample(n=cfg.max_contacts, random_state=cfg.seed).sort_index()
    scores = model.score(frame["text"].astype(str).tolist())
    base_scores = None
    if base is not None:
        if len(base) > cfg.max_contacts:
            base = base.sample(n=cfg.max_contacts, random_state=cfg.seed)
        base_scores = model.score(base["text"].astype(str).tolist())
    dates = frame["received_at"] if "received_at" in frame.columns else None
    report = analyse(model, scores, dates, store_corrections, cfg, baseline=base_scores)
    no_fit = no_fit_rows or set()
    window = replace(  # n_contacts were checked: a sample when the window is larger
        report.window, n_in_window=n_window, reviewer_no_fit=sum(1 for i in frame.index if i in no_fit)
    )
    for c in report.novel_clusters or []:  # positions among the non-empty texts -> the frame's own row labels
        c["rows"] = [frame.index[i] for i in c["rows"]]
        c["reviewer_no_fit"] = sum(1 for i in c["rows"] if i in no_fit)
    plain = replace(report, window=window).to_dict()
    redact_examples(plain)
    return DriftReport.from_dict(plain)


def _texts(frame: pd.DataFrame, cfg: DriftConfig, what: str) -> pd.DataFrame:
    """The rows of `frame` with a non-empty text, refused when too few."""
    if "text" not in frame.columns:
        raise ContactLensError(f"the {what} has no 'text' column")
    frame = frame[frame["text"].fillna("").astype(str).str.strip() != ""]
    check_size(len(frame), cfg, what)
    return frame


def redact_examples(report: Any) -> None:
    """Give every example quoted in the report the full redaction pass (NER names too), in place.

    The window is scored with the fast rule pass; the few texts a report quotes are what a person reads,
    so they get the pass stored text gets ("HI ITS FATIMA ..." must not reach the HTML report).
    """
    from contactlens.redaction import clean_many

    holders: list[list[Any]] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "examples" and isinstance(value, list) and all(isinstance(v, str) for v in value):
                    holders.append(value)
                else:
                    walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(report)
    if not any(holders):
        return
    flat = clean_many([t for h in holders for t in h])
    for h in holders:
        h[:], flat = flat[: len(h)], flat[len(h) :]


def _window_info(model: ContactModel, n: int, dates: pd.Series | None) -> WindowInfo:
    info = WindowInfo(n, model.version, model.taxonomy.version, int(model.metadata.get("n_train", 0)))
    parsed = _parse_dates(dates)
    if parsed is not None and parsed.notna().any():
        info = replace(info, from_=parsed.min().date().isoformat(), to=parsed.max().date().isoformat())
    return info


def _parse_dates(dates: pd.Series | None) -> pd.Series | None:
    if dates is None:
        return None
    import pandas as pd  # here, not at import: the service loads pandas (and pyarrow) only for drift reports

    parsed = pd.to_datetime(pd.Series(list(dates)), errors="coerce", utc=True, format="mixed")
    return parsed.dt.tz_localize(None)


def mix_by_month(w: Window, dates: pd.Series | None, top: int = 8) -> dict[str, Any] | None:
    """Share of the suggested descriptions (the `top` commonest, the rest as 'other') and groups per month."""
    parsed = _parse_dates(dates)
    if parsed is None or parsed.notna().sum() == 0:
        return None
    month = parsed.dt.to_period("M").astype(str).where(parsed.notna(), None)
    ids = np.asarray(w.classes)[w.predicted]
    import pandas as pd

    frame = pd.DataFrame({"month": month, "id": ids}).dropna()
    commonest = frame["id"].value_counts().index[:top].tolist()
    frame["shown"] = frame["id"].where(frame["id"].isin(commonest), "other")
    frame["group"] = [w.taxonomy.group_of(i).id if i in w.taxonomy.descriptions else "?" for i in frame["id"]]
    months = sorted(frame["month"].unique())
    totals = frame.groupby("month").size().reindex(months)

    def shares(col: str) -> dict[str, list[float]]:
        table = frame.groupby(["month", col]).size().unstack(fill_value=0).reindex(months, fill_value=0)
        return {str(c): [round(float(v), 4) for v in table[c] / totals] for c in table.columns}

    names = {c: w.name(c) for c in commonest} | {"other": "Other descriptions"}
    group_names = {g.id: g.name for g in w.taxonomy.groups}
    return {
        "months": months,
        "contacts": [int(v) for v in totals],
        "descriptions": shares("shown"),
        "description_names": names,
        "groups": shares("group"),
        "group_names": group_names,
    }


def reasons(report: DriftReport, checks: Sequence[Check] | None = None) -> list[str]:
    """One sentence an analyst understands per finding; an empty list means no need to revisit."""
    return [sentence for check in _checks(checks) for sentence in check.reasons(report)]
