"""The public shapes of what the project answers, typed: a suggestion (this module's first half), an
evaluation and a drift report. Each is a frozen dataclass whose `to_dict()` is the JSON contract the README
documents, key for key; the API schemas, the CLI, `predict`, the pyfunc and the gates read the attributes.

The one review rule lives here too (`needs_review`, `review_reasons`): suggest, batch, predict, the pyfunc,
evaluate and drift all apply it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeAlias

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
