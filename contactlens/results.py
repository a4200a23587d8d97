"""The public shapes of what the project answers, typed: a suggestion (this module's first half) and an
evaluation; the drift report's is beside its checks (`contactlens.drift.result`). Each is a frozen dataclass
whose `to_dict()` is the JSON contract the README documents, key for key; the API schemas, the CLI,
`predict`, the pyfunc and the gates read the attributes.

The one review rule lives here too (`needs_review`, `review_reasons`): suggest, batch, predict, the pyfunc,
evaluate and drift all apply it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import ClassVar, TypeAlias

import numpy as np

# A JSON value as `json.dumps` writes it (the shapes' `to_dict` return these).
JSON: TypeAlias = str | int | float | bool | None | list["JSON"] | dict[str, "JSON"]

LOW_CONFIDENCE, FITS_NO_DESCRIPTION = "low_confidence", "fits_no_description"


def needs_review(confidence: np.ndarray, fits_none: np.ndarray | None, threshold: float) -> np.ndarray:
    """The one review rule: the top confidence is below the review threshold, or the contact fits no
    description (`novelty.evidence`). Suggest, batch, predict, the pyfunc, evaluate and drift all use it."""
    flags = np.asarray(confidence) < threshold
    return flags if fits_none is None else flags | np.asarray(fits_none, dtype=bool)


def review_reasons(low_confidence: bool, fits_none: bool) -> list[str]:
    """Why a suggestion needs review, as the review queue names it (empty: it needs none)."""
    return [r for r, hit in ((LOW_CONFIDENCE, low_confidence), (FITS_NO_DESCRIPTION, fits_none)) if hit]


def review_decisions(
    confidence: np.ndarray, fits_none: np.ndarray | None, threshold: float
) -> tuple[np.ndarray, list[list[str]]]:
    """`needs_review` for each contact and its reasons, from the same rule (a contact needs review exactly
    when it has a reason)."""
    flags = needs_review(confidence, fits_none, threshold)
    low = np.asarray(confidence) < threshold
    none = np.zeros(len(low), dtype=bool) if fits_none is None else np.asarray(fits_none, dtype=bool)
    return flags, [review_reasons(bool(a), bool(b)) for a, b in zip(low, none, strict=True)]


# ------------------------------------------------------------------------------------------------- suggest


@dataclass(frozen=True, slots=True)
class RankedDescription:
    """One ranked description of a suggestion, as the API and CLI show it."""

    id: str
    name: str
    group: str
    group_id: str
    owner: str
    confidence: float

    def to_dict(self) -> dict[str, JSON]:
        return {
            "id": self.id,
            "name": self.name,
            "group": self.group,
            "group_id": self.group_id,
            "owner": self.owner,
            "confidence": self.confidence,
        }


@dataclass(frozen=True, slots=True)
class Sentiment:
    """A sentiment label and its confidence."""

    label: str
    confidence: float

    def to_dict(self) -> dict[str, JSON]:
        return {"label": self.label, "confidence": self.confidence}


@dataclass(frozen=True, slots=True)
class DecidedDescription(RankedDescription):
    """A description the model decided applies, with the sentiment of what the verbatim says about it."""

    sentiment: Sentiment | None

    def to_dict(self) -> dict[str, JSON]:
        return {
            **RankedDescription.to_dict(self),
            "sentiment": self.sentiment.to_dict() if self.sentiment else None,
        }

    def brief(self) -> dict[str, JSON]:
        """As stored or exported: {id, confidence, sentiment label}."""
        return {
            "id": self.id,
            "confidence": self.confidence,
            "sentiment": self.sentiment.label if self.sentiment else None,
        }


@dataclass(frozen=True, slots=True)
class ExplanationExample:
    text: str  # a labelled training text (redacted)
    similarity: float

    def to_dict(self) -> dict[str, JSON]:
        return {"text": self.text, "similarity": self.similarity}


@dataclass(frozen=True, slots=True)
class ExplanationTerm:
    term: str
    weight: float

    def to_dict(self) -> dict[str, JSON]:
        return {"term": self.term, "weight": self.weight}


@dataclass(frozen=True, slots=True)
class Explanation:
    """Why one description was suggested: its nearest training examples and the terms that pushed it."""

    id: str
    examples: tuple[ExplanationExample, ...]
    terms: tuple[ExplanationTerm, ...]

    def to_dict(self) -> dict[str, JSON]:
        return {
            "id": self.id,
            "examples": [e.to_dict() for e in self.examples],
            "terms": [t.to_dict() for t in self.terms],
        }


@dataclass(frozen=True, slots=True)
class Suggestion:
    """The answer of `ContactModel.suggest` for one verbatim.

    `descriptions` is the multi-label decision (None only for an answer that carries none: it is then left
    out of the JSON and stored as null). `explanations` is None unless explanations were asked for; then
    both it and `explanation_note` are in the JSON.
    """

    suggestions: tuple[RankedDescription, ...]
    descriptions: tuple[DecidedDescription, ...] | None
    sentiment: Sentiment | None
    needs_review: bool
    fits_no_description: bool
    novelty_score: float | None
    review_reasons: tuple[str, ...]
    redacted_text: str
    explanations: tuple[Explanation, ...] | None = None
    explanation_note: str | None = None

    @property
    def top(self) -> RankedDescription:
        return self.suggestions[0]

    def brief_decision(self) -> list[dict[str, JSON]] | None:
        """The decision as stored or exported: [{id, confidence, sentiment label}] (None: no decision)."""
        return None if self.descriptions is None else [d.brief() for d in self.descriptions]

    def to_dict(self) -> dict[str, JSON]:
        out: dict[str, JSON] = {"suggestions": [s.to_dict() for s in self.suggestions]}
        if self.descriptions is not None:
            out["descriptions"] = [d.to_dict() for d in self.descriptions]
        out |= {
            "sentiment": self.sentiment.to_dict() if self.sentiment else None,
            "needs_review": self.needs_review,
            "fits_no_description": self.fits_no_description,
            "novelty_score": self.novelty_score,
            "review_reasons": list(self.review_reasons),
            "redacted_text": self.redacted_text,
        }
        if self.explanations is not None:
            out["explanations"] = [e.to_dict() for e in self.explanations]
            out["explanation_note"] = self.explanation_note
        return out


# ------------------------------------------------------------------------------------------------ evaluate

# Per-key tables: per description (precision, recall, f1, support), per group or slice (accuracy, n).
Table: TypeAlias = dict[str, dict[str, float]]


@dataclass(frozen=True, slots=True)
class LabelAudit:
    """Likely label errors in an evaluated file: how many, the first rows (row, given, suggested, confidence),
    and why there are none to look for (`note`, left out of the JSON when None)."""

    label_issues: int
    rows: list[dict[str, JSON]]
    note: str | None = None

    def to_dict(self) -> dict[str, JSON]:
        out: dict[str, JSON] = {"label_issues": self.label_issues, "rows": list(self.rows)}
        if self.note is not None:
            out["note"] = self.note
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, object]) -> LabelAudit:
        return cls(**data)  # type: ignore[arg-type]


@dataclass(frozen=True, slots=True)
class Evaluation:
    """Every metric of `contactlens evaluate` (`training.evaluate.evaluate_frame`); `to_dict()` is the
    evaluate JSON (metrics.json, the test metrics in an artifact's metadata, the promotion record).

    The headline figures are typed fields; the tables (per description, per group, per channel, reliability
    bins, confused pairs) stay plain dicts and lists. Fields in `OPTIONAL` are left out of the JSON when None
    (no taxonomy, no short texts, no channel, no labelled sentiment, no decision); the other None values are
    written as null.
    """

    n: int
    accuracy: float
    macro_f1: float
    top3_accuracy: float
    ece: float
    accuracy_at_coverage_80: float
    coverage_at_accuracy_97: float
    per_description: Table
    confused_pairs: list[dict[str, str | int]]
    reliability: list[dict[str, float]]
    group_accuracy: float | None
    per_group: Table | None
    review_threshold: float
    review_rate: float
    fits_no_description_rate: float | None
    accuracy_when_not_reviewed: float | None
    accuracy_when_not_reviewed_target: float
    slice_short_texts: dict[str, float] | None
    per_channel: Table | None
    sentiment_accuracy: float | None
    sentiment_macro_f1: float | None
    sentiment_ece: float | None
    multilabel_micro_f1: float
    multilabel_macro_f1: float
    exact_match: float
    labels_per_contact: float
    multilabel_per_description: Table
    multilabel_ece: float | None
    sentiment_per_description_accuracy: float | None
    sentiment_per_description_n: int
    sentiment_per_description_accuracy_multi: float | None
    sentiment_per_description_multi_n: int
    label_audit: LabelAudit

    OPTIONAL: ClassVar[frozenset[str]] = frozenset(
        {
            "group_accuracy",
            "per_group",
            "slice_short_texts",
            "per_channel",
            "sentiment_accuracy",
            "sentiment_macro_f1",
            "sentiment_ece",
            "multilabel_ece",
        }
    )

    def to_dict(self) -> dict[str, JSON]:
        out: dict[str, JSON] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if value is not None or f.name not in self.OPTIONAL:
                out[f.name] = value.to_dict() if isinstance(value, LabelAudit) else value
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, object]) -> Evaluation:
        """An evaluation read back from its JSON (e.g. an artifact's test metrics); unknown keys refused."""
        names = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - names)
        missing = sorted(names - cls.OPTIONAL - set(data))
        if unknown or missing:
            raise ValueError(f"not an evaluation: unknown keys {unknown}, missing keys {missing}")
        values = {name: data.get(name) for name in names}
        values["label_audit"] = LabelAudit.from_dict(data["label_audit"])  # type: ignore[arg-type]
        return cls(**values)  # type: ignore[arg-type]
