"""The drift report, typed: what `analyse` and `run_drift` return, and `to_dict()` its JSON (the README's
contract, key for key and in order).

The top level is typed: the verdict, its reasons, the window, and one field per check's section. The small
summaries are typed where that is cheap (`NoveltySummary`, `WindowInfo`); the checks' tables stay plain
dicts and lists (`Section`, `Rows`), each check reading its own through `DriftReport.section(key)`. A section
is None when its check did not run (a custom list of checks): it is then left out of the JSON. Sections of
checks beyond the contract live in `extra`, in the checks' order.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from typing import Any, ClassVar, TypeAlias

import numpy as np

from contactlens.results import JSON

# A check's free-form section, and a list of rows (clusters, pairs, candidates, descriptions).
Section: TypeAlias = dict[str, Any]
Rows: TypeAlias = list[dict[str, Any]]


def to_jsonable(value: Any) -> Any:
    """`value` with numpy scalars and arrays turned into plain Python (NaN and inf become None)."""
    if isinstance(value, DriftReport | NoveltySummary | WindowInfo):
        return value.to_dict()
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return to_jsonable(value.tolist())
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


@dataclass(frozen=True, slots=True)
class NoveltySummary:
    """Contacts that fit no description: how many, against training, and which tests found them
    (`detected_by`: `rate`, `distance`, `clusters`, `baseline`). `distance_test` is the encoder distance
    test's free-form result (None for a reference without one); `baseline` the comparison with a baseline
    period's contacts (None when the window was checked against training alone)."""

    detected: bool
    detected_by: list[str]
    n_novel: int
    share: float
    reference_share: float
    p_value: float
    distance_test: Section | None
    min_cluster_size: int
    examples: list[str]  # the redacted texts that fit worst
    baseline: Section | None = None

    def to_dict(self) -> dict[str, JSON]:
        return {f.name: to_jsonable(getattr(self, f.name)) for f in fields(self)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> NoveltySummary:
        return cls(**data)


@dataclass(frozen=True, slots=True)
class WindowInfo:
    """The window checked: `n_contacts` scored (a sample of `n_in_window` when larger), the model and
    taxonomy versions, the training size, its date range when dated, and how many contacts a reviewer said
    no description fits. None values are left out of the JSON."""

    n_contacts: int
    model_version: str
    taxonomy_version: str
    n_reference: int
    from_: str | None = None
    to: str | None = None
    n_in_window: int | None = None
    reviewer_no_fit: int | None = None

    def to_dict(self) -> dict[str, JSON]:
        values = ((f.name.rstrip("_"), getattr(self, f.name)) for f in fields(self))
        return {key: to_jsonable(value) for key, value in values if value is not None}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> WindowInfo:
        return cls(**{("from_" if key == "from" else key): value for key, value in data.items()})


@dataclass(frozen=True, slots=True)
class DriftReport:
    """Does the taxonomy need revisiting (`revisit_taxonomy`, exactly when there are `reasons`), and the
    checks' findings. `to_dict()` is the JSON of `contactlens drift --json` and `GET /v1/drift`."""

    revisit_taxonomy: bool
    reasons: list[str]
    window: WindowInfo
    input_drift: Section | None = None
    mix_drift: Section | None = None
    confidence_drift: Section | None = None
    novelty: NoveltySummary | None = None
    novel_clusters: Rows | None = None
    unused_descriptions: Rows | None = None
    confused_pairs: Rows | None = None
    split_candidates: Rows | None = None
    mix_by_month: Section | None = None  # None (null in the JSON) for a window without dates
    extra: dict[str, Any] = field(default_factory=dict)  # sections of checks beyond the contract

    # The JSON's order: the contract's keys (README), then the sections beyond it, then the window and the mix
    # over time. A check's section that is None (the check did not run) is left out.
    CONTRACT: ClassVar[tuple[str, ...]] = (
        "revisit_taxonomy",
        "reasons",
        "input_drift",
        "mix_drift",
        "confidence_drift",
        "novel_clusters",
        "unused_descriptions",
        "confused_pairs",
        "split_candidates",
    )
    SECTIONS: ClassVar[frozenset[str]] = frozenset(CONTRACT[2:]) | {"novelty"}

    def section(self, key: str) -> Any:
        """A check's section by its key (`Check.keys`); KeyError when no check computed it."""
        value = getattr(self, key) if key in self.SECTIONS else self.extra.get(key)
        if value is None:
            raise KeyError(key)
        return value

    def to_dict(self) -> dict[str, JSON]:
        out: dict[str, Any] = {}
        for key in (*self.CONTRACT, "novelty"):
            value = getattr(self, key)
            if value is not None or key not in self.SECTIONS:
                out[key] = value
        out |= self.extra
        out["window"] = self.window
        out["mix_by_month"] = self.mix_by_month
        jsonable: dict[str, JSON] = to_jsonable(out)
        return jsonable

    @classmethod
    def from_sections(
        cls, window: WindowInfo, sections: Mapping[str, Any], mix_by_month: Section | None
    ) -> DriftReport:
        """A report without its verdict yet (no reasons) from the checks' sections, by key."""
        typed = {key: value for key, value in sections.items() if key in cls.SECTIONS}
        if isinstance(typed.get("novelty"), Mapping):
            typed["novelty"] = NoveltySummary.from_dict(typed["novelty"])
        extra = {key: value for key, value in sections.items() if key not in cls.SECTIONS}
        return cls(False, [], window, mix_by_month=mix_by_month, extra=extra, **typed)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> DriftReport:
        """A report read back from its JSON."""
        top = {"revisit_taxonomy", "reasons", "window", "mix_by_month"}
        missing = sorted(top - set(data))
        if missing:
            raise ValueError(f"not a drift report: missing keys {missing}")
        sections = {key: value for key, value in data.items() if key not in top}
        report = cls.from_sections(WindowInfo.from_dict(data["window"]), sections, data["mix_by_month"])
        return report.with_reasons(list(data["reasons"]), bool(data["revisit_taxonomy"]))

    def with_reasons(self, reasons: list[str], revisit: bool | None = None) -> DriftReport:
        """The report with its reasons; the verdict is whether there are any unless given."""
        return replace(self, reasons=reasons, revisit_taxonomy=bool(reasons) if revisit is None else revisit)
