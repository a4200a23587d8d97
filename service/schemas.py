"""Typed request and response bodies, split by direction: `*Request`/`*Create` come in, `*Public` go out.

Limits live in `Field(...)`. The text length limit is a setting (`max_text_chars`), so it is checked in the
route (see `service.deps.check_lengths`); the rules that never change (not blank, no control characters) are
checked here.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, PlainValidator, WithJsonSchema

from contactlens.data import CHANNELS, SENTIMENTS
from contactlens.text import contains_control_chars, normalise

MAX_BATCH = 256
Channel = Literal[CHANNELS]  # type: ignore[valid-type]
Sentiment = Literal[SENTIMENTS]  # type: ignore[valid-type]
Role = Literal["logger", "reviewer", "analyst"]
ReportBy = Literal["group", "description", "owner", "channel", "site", "sentiment"]
ReportPeriod = Literal["month", "week"]
MAX_DESCRIPTIONS = 20
MAX_ID = 2**31 - 1  # ids are 32-bit integers on PostgreSQL; a larger one cannot exist on either database
TopK = Annotated[int, Field(ge=1, le=10, strict=True, description="How many ranked suggestions to return.")]


def _check_text(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be empty or only whitespace")
    if contains_control_chars(value):
        pos = next(i for i, ch in enumerate(value) if contains_control_chars(ch))
        raise ValueError(
            f"holds a NUL or other control character (U+{ord(value[pos]):04X} at position {pos})"
        )
    if not normalise(value):  # what the model and the store would see: zero-width characters, entities...
        raise ValueError("has no visible characters (only zero-width or formatting characters)")
    return value


Verbatim = Annotated[
    str, AfterValidator(_check_text), Field(description="The verbatim as typed or received.")
]


def _check_short(value: str) -> str:
    if not value.isprintable():
        pos = next(i for i, ch in enumerate(value) if not ch.isprintable())
        raise ValueError(f"must be printable (U+{ord(value[pos]):04X} at position {pos})")
    return value


# A short label such as a site: printable (no NUL, tab or line break), at most 100 characters.
ShortText = Annotated[str, Field(max_length=100), AfterValidator(_check_short)]
DescriptionId = Annotated[str, Field(min_length=1, max_length=200, description="A taxonomy description id.")]


def _parse_bound(value: object) -> date | datetime:
    if isinstance(value, date):
        return _in_calendar(value)
    text = str(value).strip()
    try:
        parsed = date.fromisoformat(text) if len(text) == 10 else datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"'{text[:40]}' is not a date (YYYY-MM-DD) or ISO 8601 date-time") from None
    return _in_calendar(parsed)


def _in_calendar(value: date) -> date:
    """Refuse a date or time that cannot be turned into a UTC range (the last day of year 9999, a time zone
    pushing it past year 1 or 9999): stored times are naive UTC, and a bare date as `to` ends a day later."""
    try:
        if isinstance(value, datetime):
            if value.tzinfo is not None:
                value.astimezone(UTC)
        else:
            value + timedelta(days=1)
    except OverflowError:
        raise ValueError(
            f"{value.isoformat()} is too close to the edge of the calendar: give a date between "
            "0001-01-02 and 9999-12-30"
        ) from None
    return value


# A bare date as `to` includes that whole day (see service.common.bounds).
DateBound = Annotated[
    date | datetime,
    PlainValidator(_parse_bound),
    WithJsonSchema({"type": "string", "description": "YYYY-MM-DD or an ISO 8601 date-time"}),
]


# Stored times are naive UTC and answered as such (no offset: `2026-03-01T08:30:00`), which is not an RFC 3339
# `date-time`: the schema says what is sent.
UtcTime = Annotated[
    datetime,
    WithJsonSchema(
        {
            "type": "string",
            "description": "A UTC time, ISO 8601 without an offset (YYYY-MM-DDTHH:MM:SS[.ffffff])",
            "examples": ["2026-03-01T08:30:00"],
        },
        mode="serialization",
    ),
]


class Strict(BaseModel):
    """Request bodies refuse unknown fields, so a misspelt field is an error rather than silently ignored."""

    model_config = ConfigDict(extra="forbid")


# ------------------------------------------------------------------------------------------------ suggest


class SuggestRequest(Strict):
    text: Verbatim
    channel: Channel | None = None
    top_k: TopK = 3


class BatchSuggestRequest(Strict):
    texts: list[Verbatim] = Field(min_length=1, max_length=MAX_BATCH)
    channel: Channel | None = None
    top_k: TopK = 3


class Suggestion(BaseModel):
    id: str
    name: str
    group: str
    group_id: str
    owner: str
    confidence: float


class SentimentPublic(BaseModel):
    label: str
    confidence: float


class DescriptionDecision(Suggestion):
    """One description the model decided applies (above its own threshold), with its own sentiment."""

    sentiment: SentimentPublic | None = Field(
        description="The sentiment of what the verbatim says about this description; null without a model."
    )


class ExplanationExample(BaseModel):
    text: str = Field(description="A labelled training text (redacted).")
    similarity: float = Field(description="Cosine of the embeddings.")


class ExplanationTerm(BaseModel):
    term: str
    weight: float = Field(description="The TF-IDF member's coefficient times the text's TF-IDF value.")


class Explanation(BaseModel):
    id: str = Field(description="The suggested description explained.")
    examples: list[ExplanationExample] = Field(description="Its 3 nearest labelled training examples.")
    terms: list[ExplanationTerm] = Field(description="The words that pushed its score most.")


class SuggestResponse(BaseModel):
    suggestion_id: str | None = Field(
        description="Quote it when logging the contact; null if it was not stored."
    )
    suggestions: list[Suggestion]
    descriptions: list[DescriptionDecision] = Field(
        default_factory=list,
        description="The multi-label decision: every description that applies, most confident first "
        "(a single-label model gives its top suggestion alone).",
    )
    sentiment: SentimentPublic | None
    needs_review: bool = Field(
        description="True when the top confidence is below the review threshold or the contact fits no "
        "description."
    )
    fits_no_description: bool = Field(
        False, description="The contact is unlike the training contacts of every description (novelty rule)."
    )
    novelty_score: float | None = Field(
        None, description="0-1: how unlike every description the contact is; null without a drift reference."
    )
    review_reasons: list[str] = Field(
        default_factory=list, description="Why it needs review: low_confidence, fits_no_description."
    )
    redacted_text: str
    model_version: str
    taxonomy_version: str
    explanations: list[Explanation] | None = Field(
        None, description="With explain=true: one per suggestion, in the same order."
    )
    explanation_note: str | None = Field(None, description="Why explanations are partial, if they are.")


class BatchSuggestResponse(BaseModel):
    results: list[SuggestResponse]


# ----------------------------------------------------------------------------------------------- contacts


class DescriptionChoice(Strict):
    """A description given with a contact or a review decision, with the sentiment about it if known."""

    id: DescriptionId
    sentiment: Sentiment | None = None


class DescriptionLabel(BaseModel):
    id: str
    sentiment: str | None


class Labelled(Strict):
    """`description` (one id), `descriptions` (several, primary first), or both when they agree."""

    description: DescriptionId | None = Field(None, description="The primary description.")
    descriptions: list[DescriptionChoice] | None = Field(
        None,
        max_length=MAX_DESCRIPTIONS,
        description="Every description, primary first, each listed once with its own sentiment "
        "(the primary's may instead be given as `sentiment`). With `description`, the first must equal it.",
    )
    sentiment: Sentiment | None = Field(None, description="The sentiment of the primary description.")


class ContactCreate(Labelled):
    text: Verbatim
    channel: Channel
    site: ShortText | None = None
    received_at: Annotated[datetime, AfterValidator(_in_calendar)] | None = Field(
        None, description="When the contact arrived (default: now)."
    )
    suggestion_id: str | None = Field(None, max_length=32, description="The /v1/suggest answer it follows.")


class ContactPublic(BaseModel):
    id: int
    text: str
    text_redacted: bool
    channel: str
    site: str | None
    received_at: UtcTime
    logged_at: UtcTime
    logged_by: str
    description: str = Field(description="The description chosen when logging.")
    sentiment: str | None
    current_description: str = Field(description="The latest reviewed description, else the logged one.")
    current_group: str
    current_sentiment: str | None
    descriptions: list[DescriptionLabel] = Field(description="Every description as logged, primary first.")
    current_descriptions: list[DescriptionLabel] = Field(
        description="Every description after the latest review (else as logged), primary first."
    )
    owner: str | None = Field(None, description="The primary description's owner team when logged.")
    current_owner: str | None = Field(None, description="The owner team now (after the latest review).")
    suggestion_id: str | None
    review_status: Literal["none", "pending", "decided"]


class ErasurePublic(BaseModel):
    contact_id: int
    deleted: dict[str, int] = Field(description="Rows deleted per table.")


class ContactPage(BaseModel):
    total: int
    limit: int
    offset: int
    items: list[ContactPublic]


# ------------------------------------------------------------------------------------------------- review


class ReviewDecisionCreate(Labelled):
    note: str | None = Field(None, max_length=2000)
    no_description_fits: bool = Field(
        False,
        description="No description of the taxonomy fits this contact (the chosen one is the nearest). Kept "
        "as evidence for the drift report's new descriptions, never used as a training label.",
    )
    override: bool = Field(False, description="Replace an earlier decision (both stay in the audit trail).")


class ReviewDecisionPublic(BaseModel):
    id: int
    reviewer: str
    decided_at: UtcTime
    description: str
    sentiment: str | None
    descriptions: list[DescriptionLabel] = Field(description="Every description chosen, primary first.")
    note: str | None
    override: bool
    no_description_fits: bool = False


class ReviewCommentCreate(Strict):
    note: str = Field(min_length=1, max_length=2000)


class ReviewCommentPublic(BaseModel):
    id: int
    author: str
    created_at: UtcTime
    note: str


class RankedSuggestion(BaseModel):
    id: str
    confidence: float


class ModelDescription(BaseModel):
    id: str
    confidence: float
    sentiment: str | None


class ReviewItemPublic(BaseModel):
    id: int
    status: Literal["pending", "decided"]
    reason: str
    created_at: UtcTime
    decided_by: str | None
    decided_at: UtcTime | None
    contact: ContactPublic
    suggestions: list[RankedSuggestion]
    model_descriptions: list[ModelDescription] = Field(
        description="The model's multi-label decision when the contact was suggested (empty if not stored)."
    )
    decisions: list[ReviewDecisionPublic]
    comments: list[ReviewCommentPublic] = Field(
        default_factory=list, description="Notes reviewers left without a decision."
    )


class ReviewPage(BaseModel):
    total: int
    pending: int
    limit: int
    offset: int
    items: list[ReviewItemPublic]


# ------------------------------------------------------------------------------------------------ catalog


class DescriptionPublic(BaseModel):
    id: str
    name: str
    owner: str
    guidance: str
    examples: list[str]
    status: str


class GroupPublic(BaseModel):
    id: str
    name: str
    descriptions: list[DescriptionPublic]


class TaxonomyPublic(BaseModel):
    name: str
    version: str
    groups: list[GroupPublic]
    migrations: list[dict[str, str]]


class ModelPublic(BaseModel):
    version: str
    taxonomy_name: str
    taxonomy_version: str
    created_at: str | None
    n_train: int | None
    descriptions: int
    sentiment_available: bool
    review_threshold: float
    metrics: dict[str, dict[str, float]] = Field(description="Scalar metrics per split (validation, test).")


# ------------------------------------------------------------------------------------------------ reports


class ReportRow(BaseModel):
    value: str | None
    contacts: int
    with_suggestion: int
    acceptance_top1: float | None
    acceptance_top3: float | None
    review_rate: float | None
    reviewed: int
    reviewer_agreement: float | None


class ReportSummary(BaseModel):
    by: ReportBy
    from_: UtcTime | None = Field(alias="from")
    to: UtcTime | None
    total: ReportRow
    rows: list[ReportRow]

    model_config = ConfigDict(populate_by_name=True)


class PeriodReportRow(ReportRow):
    period: str = Field(description="`2026-10` (month) or `2026-W43` (ISO week).")
    share: float | None = Field(description="Share of the period's contacts (1.0 without a split).")
    previous_contacts: int | None = Field(description="The same value's contacts in the previous period.")
    previous_share: float | None
    change: int | None
    change_pct: float | None
    p_value: float | None = Field(
        description="Without a split: exact binomial test of the volume change; with one: two-proportion "
        "z-test of the share."
    )
    q_value: float | None = Field(description="Benjamini-Hochberg adjusted across the rows.")
    significant: bool | None = Field(description="q_value below 0.05; null for the first period.")


class PeriodReport(BaseModel):
    by: ReportPeriod
    split: ReportBy | None
    from_: UtcTime | None = Field(alias="from")
    to: UtcTime | None
    periods: list[str]
    rows: list[PeriodReportRow]

    model_config = ConfigDict(populate_by_name=True)


class DescriptionReportRow(BaseModel):
    description: str
    group: str | None
    contacts: int = Field(description="Contacts with this description among their current descriptions.")
    negative: int
    neutral: int
    positive: int
    unknown: int = Field(description="No sentiment recorded for this description.")


class DescriptionReport(BaseModel):
    from_: UtcTime | None = Field(alias="from")
    to: UtcTime | None
    contacts: int = Field(description="Contacts received in the range.")
    descriptions: int = Field(description="Descriptions counted: each description of each contact once.")
    rows: list[DescriptionReportRow]

    model_config = ConfigDict(populate_by_name=True)


# ------------------------------------------------------------------------------------------------- admin


class ReloadResponse(BaseModel):
    reloaded: bool
    model_version: str
    previous_version: str
    taxonomy_version: str
    seconds: float


class Health(BaseModel):
    status: str
    model_version: str | None = None
    database: str | None = None
    reason: str | None = None


# ------------------------------------------------------------------------------------------------ errors


class ErrorPublic(BaseModel):
    """The body of a 401, 403, 404, 409, 413 or 503."""

    detail: str


class ValidationErrorItem(BaseModel):
    loc: list[str | int]
    msg: str
    type: str
    ctx: dict[str, Any] | None = None


class ValidationErrorPublic(BaseModel):
    """The body of a 422: FastAPI's list of errors (inputs not echoed) and one line naming the first field."""

    detail: list[ValidationErrorItem]
    message: str
