"""Promotion: the gate a challenger must pass, moving the registry aliases, and a person's overrides.

The gate compares evaluations (`contactlens.results.Evaluation`, from `training.evaluate.evaluate_frame`)
computed on the *same* held-out set (and, when given, the same frozen golden set). It is pure: no model, no
registry; tested on hand-made evaluations.
The aliases: `champion` (served), `previous` (the champion before it, for rollback), `challenger` (the latest
retrained model). Also the tables the retraining notebook shows.
"""

from __future__ import annotations

import getpass
import os
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

import pandas as pd

from contactlens.errors import ContactLensError, ModelError, first_line
from contactlens.registry import alias_version, check_registry, client, delete_alias, set_alias
from contactlens.results import Evaluation, Table
from contactlens.settings import Settings


@dataclass(frozen=True)
class GatePolicy:
    """The bounds a challenger must respect to be promoted (all on held-out data unless said otherwise).

    Attributes:
        min_gain: the challenger's accuracy must exceed the champion's, by at least this much.
        max_f1_drop: no description (with `min_support` held-out examples or more) may lose more F1.
        max_ece_increase: the expected calibration error may grow by at most this much.
        min_support: descriptions with fewer held-out examples are too noisy to judge one by one.
        max_golden_drop: accuracy on the frozen golden set may fall by at most this much.
    """

    min_gain: float = 0.0
    max_f1_drop: float = 0.10
    max_ece_increase: float = 0.02
    min_support: int = 10
    max_golden_drop: float = 0.02

    def as_dict(self) -> dict[str, float]:
        return asdict(self)


def f1_changes(before: Table, after: Table, min_support: int = 0) -> list[dict[str, Any]]:
    """Per-description F1 of both models on the same set (their `per_description` tables), largest drop first.

    Only descriptions that occur in the evaluation set (support > 0) and have at least `min_support` examples
    are listed; a description the challenger never predicts counts as F1 0.
    """
    rows = []
    for did in sorted(set(before) | set(after)):
        support = int((before.get(did) or after.get(did) or {}).get("support", 0))
        if support == 0 or support < min_support:
            continue
        f1_before = float(before.get(did, {}).get("f1", 0.0))
        f1_after = float(after.get(did, {}).get("f1", 0.0))
        rows.append(
            {
                "description": did,
                "support": support,
                "f1_champion": f1_before,
                "f1_challenger": f1_after,
                "change": f1_after - f1_before,
            }
        )
    return sorted(rows, key=lambda r: (r["change"], r["description"]))


def gate(
    champion: Evaluation,
    challenger: Evaluation,
    policy: GatePolicy = GatePolicy(),
    golden_champion: Evaluation | None = None,
    golden_challenger: Evaluation | None = None,
) -> tuple[bool, list[str]]:
    """Decide a promotion.

    Returns:
        (passed, reasons): on failure the failed checks; on success what each check saw.
    """
    failed: list[str] = []
    passed: list[str] = []
    gain = challenger.accuracy - champion.accuracy
    accuracy = (
        f"held-out accuracy {champion.accuracy:.4f} -> {challenger.accuracy:.4f} "
        f"(gain {gain:+.4f}, required > 0 and >= {policy.min_gain:.4f})"
    )
    (passed if gain > 0 and gain >= policy.min_gain else failed).append(accuracy)
    changes = f1_changes(champion.per_description, challenger.per_description, policy.min_support)
    drops = [r for r in changes if -r["change"] > policy.max_f1_drop]
    for r in drops:
        failed.append(
            f"description {r['description']} F1 {r['f1_champion']:.3f} -> {r['f1_challenger']:.3f} "
            f"(drop {-r['change']:.3f} > {policy.max_f1_drop:.3f}, support {r['support']})"
        )
    if not drops:
        passed.append(
            f"no description with support >= {policy.min_support} lost more than {policy.max_f1_drop:.3f} F1"
        )
    ece_up = challenger.ece - champion.ece
    ece = (
        f"ECE {champion.ece:.4f} -> {challenger.ece:.4f} "
        f"(increase {ece_up:+.4f}, allowed {policy.max_ece_increase:.4f})"
    )
    (passed if ece_up <= policy.max_ece_increase else failed).append(ece)
    if golden_champion is not None and golden_challenger is not None:
        drop = golden_champion.accuracy - golden_challenger.accuracy
        golden = (
            f"golden accuracy {golden_champion.accuracy:.4f} -> {golden_challenger.accuracy:.4f} "
            f"(drop {drop:+.4f}, allowed {policy.max_golden_drop:.4f})"
        )
        (passed if drop <= policy.max_golden_drop else failed).append(golden)
    return (not failed, failed or passed)


# ------------------------------------------------------------------------------------ tables for the notebook

SUMMARY_METRICS = (
    "n",
    "accuracy",
    "macro_f1",
    "top3_accuracy",
    "ece",
    "review_rate",
    "accuracy_at_coverage_80",
)


def summary_table(record: dict[str, Any]) -> pd.DataFrame:
    """Champion and challenger side by side on each evaluation set of a promotion record."""
    rows = []
    for split, pair in record["metrics"].items():
        if not pair:
            continue
        for metric in SUMMARY_METRICS:
            a, b = pair["champion"].get(metric), pair["challenger"].get(metric)
            if a is None or b is None:
                continue
            rows.append({"set": split, "metric": metric, "champion": a, "challenger": b, "change": b - a})
    return pd.DataFrame(rows, columns=["set", "metric", "champion", "challenger", "change"])


def description_table(record: dict[str, Any], split: str = "heldout", min_support: int = 1) -> pd.DataFrame:
    """Per-description F1 of champion and challenger on one evaluation set, largest drop first."""
    pair = record["metrics"].get(split)
    columns = ["description", "support", "f1_champion", "f1_challenger", "change"]
    if not pair:
        return pd.DataFrame(columns=columns)
    rows = f1_changes(pair["champion"]["per_description"], pair["challenger"]["per_description"], min_support)
    return pd.DataFrame(rows, columns=columns)


def f1_change_figure(table: pd.DataFrame) -> Any:
    """Horizontal bars of each description's F1 change, challenger minus champion (losses in red)."""
    from matplotlib.figure import Figure

    table = table.sort_values("change")
    fig = Figure(figsize=(7, max(3.0, 0.22 * len(table) + 1)))
    ax = fig.subplots()
    colors = ["tab:red" if c < 0 else "tab:green" for c in table["change"]]
    ax.barh(table["description"], table["change"], color=colors)
    ax.axvline(0, color="grey", linewidth=0.8)
    ax.tick_params(axis="y", labelsize=7)
    ax.set_xlabel("F1 change (challenger - champion)")
    ax.set_title("Per-description F1 change on the held-out set")
    fig.tight_layout()
    return fig


# ------------------------------------------------------------------------------------------------ aliases


def current_champion(settings: Settings) -> str:
    """The champion's version; a ModelError when there is none or the registry cannot be read."""
    version = alias_version(settings, "champion")
    if version is None:
        raise ModelError(
            f"registry {settings.tracking_uri}: {settings.registered_model_name} has no champion; "
            "train one first (contactlens train)"
        )
    return version


def move_champion(settings: Settings, version: str, old: str | None) -> None:
    """Point `champion` at `version` and `previous` at the old champion.

    A `challenger` alias on the promoted version is removed: it is no longer a candidate.
    """
    if old is not None:
        set_alias(settings, "previous", old)
    set_alias(settings, "champion", version)
    if alias_version(settings, "challenger") == version:
        delete_alias(settings, "challenger")


# ------------------------------------------------------------------------------------------------ overrides


def _who(by: str | None) -> str:
    if by:
        return by
    try:
        return getpass.getuser()
    except Exception:  # no login name in some containers
        return os.environ.get("USER", "unknown")


def _override(settings: Settings, action: str, version: str, reason: str, by: str | None) -> str:
    """Point `champion` at `version`, `previous` at the old champion, tag who/when/why; returns the line."""
    if not reason.strip():
        raise ContactLensError(f"{action} needs a reason (--reason)")
    old = alias_version(settings, "champion")
    if old == version:
        raise ContactLensError(f"version {version} is the champion already; nothing changed")
    move_champion(settings, version, old)
    mc, name = client(settings), settings.registered_model_name
    who, when = _who(by), datetime.now(UTC).isoformat(timespec="seconds")
    tags = {"action": action, "by": who, "at": when, "reason": reason[:4900], "replaced_version": old or ""}
    for key, value in tags.items():
        mc.set_model_version_tag(name, version, f"override.{key}", value)
    was = old or "none"
    return f"{action}: {name} version {version} is the champion (was {was}); by {who} at {when}: {reason}"


def promote(settings: Settings, version: str, reason: str, by: str | None = None) -> str:
    """A person's override: make `version` the champion."""
    check_registry(settings)
    try:
        client(settings).get_model_version(settings.registered_model_name, version)
    except Exception as exc:
        raise ModelError(
            f"registry {settings.tracking_uri}: no {settings.registered_model_name} version {version} "
            f"({first_line(exc)})"
        ) from None
    return _override(settings, "promote", version, reason, by)


def rollback(settings: Settings, reason: str, by: str | None = None) -> str:
    """A person's override: the `previous` version becomes the champion again (the current one `previous`)."""
    previous = alias_version(settings, "previous")
    if previous is None:
        raise ModelError(f"{settings.registered_model_name} has no 'previous' alias: nothing to roll back to")
    return _override(settings, "rollback", previous, reason, by)
