"""The central store: SQLAlchemy 2 typed ORM tables, the engine, and Alembic migrations applied at start-up.

Tables: `suggestions` (what the model proposed, so acceptance can be reported), `contacts` (every logged
contact), `contact_descriptions` (every description of a contact, as logged and as currently labelled, in
order: the first is the primary), `review_items` (the queue) with `review_decisions` (append-only audit trail)
and `review_comments` (notes without a decision), and `api_keys`.

Invariant, kept by a `before_flush` hook whoever writes a contact: a contact's first logged description is
`(description_id, sentiment)` and its first current description `(current_description_id, current_sentiment)`.
Code that only sets the primary columns (older code, label imports) gets a one-description set; code that
labels several descriptions calls `set_descriptions`.
"""

from __future__ import annotations

import contextlib
import logging
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    and_,
    create_engine,
    event,
    false,
    inspect,
    text,
)
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.orm import (
    DeclarativeBase,
    Mapped,
    Session,
    foreign,
    mapped_column,
    relationship,
    sessionmaker,
)

from contactlens.errors import first_line

log = logging.getLogger(__name__)

PENDING, DECIDED = "pending", "decided"
LOGGED, CURRENT = "logged", "current"  # the two sets of a contact's descriptions
MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def utcnow() -> datetime:
    """Naive UTC: what every timestamp column holds (SQLite keeps no time zone)."""
    return datetime.now(UTC).replace(tzinfo=None)


def new_id() -> str:
    return uuid.uuid4().hex


class Base(DeclarativeBase):
    pass


class Suggestion(Base):
    """One `/v1/suggest` answer. Ranks 1-3 are columns so acceptance can be counted in SQL."""

    __tablename__ = "suggestions"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    model_version: Mapped[str] = mapped_column(String(200))
    taxonomy_version: Mapped[str] = mapped_column(String(100))
    channel: Mapped[str | None] = mapped_column(String(32))
    top1_id: Mapped[str] = mapped_column(String(200))
    top2_id: Mapped[str | None] = mapped_column(String(200))
    top3_id: Mapped[str | None] = mapped_column(String(200))
    top1_confidence: Mapped[float] = mapped_column(Float)
    ranked: Mapped[list[dict[str, Any]]] = mapped_column(JSON)  # [{id, confidence}] best first
    sentiment: Mapped[str | None] = mapped_column(String(32))
    needs_review: Mapped[bool] = mapped_column(Boolean)
    # The model's multi-label decision, [{id, confidence, sentiment}] (sentiment a label or null); null when
    # the model gave none (stored before it did).
    descriptions: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON(none_as_null=True))
    # The contact fit no description (novelty rule); null on rows stored before migration 0013.
    fits_no_description: Mapped[bool | None] = mapped_column(Boolean, nullable=True)


class Contact(Base):
    """A logged contact. `description_id`/`sentiment` are as logged; `current_*` follow the latest review."""

    __tablename__ = "contacts"
    __table_args__ = (Index("ix_contacts_received_at", "received_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    text: Mapped[str] = mapped_column(Text)
    text_redacted: Mapped[bool] = mapped_column(Boolean)
    channel: Mapped[str] = mapped_column(String(32), index=True)
    site: Mapped[str | None] = mapped_column(String(200), index=True)
    received_at: Mapped[datetime] = mapped_column(DateTime)
    logged_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    logged_by: Mapped[str] = mapped_column(String(200))
    description_id: Mapped[str] = mapped_column(String(200))
    sentiment: Mapped[str | None] = mapped_column(String(32))
    current_description_id: Mapped[str] = mapped_column(String(200), index=True)
    current_group_id: Mapped[str] = mapped_column(String(200), index=True)
    current_sentiment: Mapped[str | None] = mapped_column(String(32), index=True)
    # The team that owns the primary description: when logged, and now (after review). Stored, so a later
    # taxonomy that moves or retires the description does not rewrite where a contact was routed.
    owner: Mapped[str | None] = mapped_column(String(200))
    current_owner: Mapped[str | None] = mapped_column(String(200), index=True)
    suggestion_id: Mapped[str | None] = mapped_column(ForeignKey("suggestions.id"), unique=True)

    suggestion: Mapped[Suggestion | None] = relationship(lazy="joined")
    review: Mapped[ReviewItem | None] = relationship(back_populates="contact", lazy="joined")
    logged_descriptions: Mapped[list[ContactDescription]] = relationship(
        primaryjoin=lambda: and_(
            Contact.id == foreign(ContactDescription.contact_id), ContactDescription.kind == LOGGED
        ),
        order_by=lambda: ContactDescription.position,
        cascade="all, delete-orphan",
        lazy="selectin",
        overlaps="current_descriptions",
    )
    current_descriptions: Mapped[list[ContactDescription]] = relationship(
        primaryjoin=lambda: and_(
            Contact.id == foreign(ContactDescription.contact_id), ContactDescription.kind == CURRENT
        ),
        order_by=lambda: ContactDescription.position,
        cascade="all, delete-orphan",
        lazy="selectin",
        overlaps="logged_descriptions",
    )


class ContactDescription(Base):
    """One description of a contact: `kind` logged (as the person logging it chose) or current (the latest
    review, else as logged); `position` 0 is the primary. Each description is listed once per set.
    `group_id` is the description's group when it was stored (null only for a logged description backfilled
    by migration 0002 that a review had since replaced)."""

    __tablename__ = "contact_descriptions"
    __table_args__ = (
        UniqueConstraint("contact_id", "kind", "position", name="uq_contact_descriptions_position"),
        Index("ix_contact_descriptions_kind_description", "kind", "description_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id"))
    kind: Mapped[str] = mapped_column(String(16))
    position: Mapped[int] = mapped_column(Integer)
    description_id: Mapped[str] = mapped_column(String(200))
    group_id: Mapped[str | None] = mapped_column(String(200))
    sentiment: Mapped[str | None] = mapped_column(String(32))


class ReviewItem(Base):
    """A contact in the review queue; `status` is pending until a reviewer decides."""

    __tablename__ = "review_items"
    __table_args__ = (Index("ix_review_items_status_created", "status", "created_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id"), unique=True)
    reason: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    status: Mapped[str] = mapped_column(String(16), default=PENDING)
    decided_by: Mapped[str | None] = mapped_column(String(200))
    decided_at: Mapped[datetime | None] = mapped_column(DateTime)

    contact: Mapped[Contact] = relationship(back_populates="review", lazy="joined")
    decisions: Mapped[list[ReviewDecision]] = relationship(
        order_by="ReviewDecision.id", lazy="selectin", back_populates="item"
    )
    comments: Mapped[list[ReviewComment]] = relationship(order_by="ReviewComment.id", lazy="selectin")


class ReviewDecision(Base):
    """One reviewer's label for a review item. Never updated or deleted: the audit trail."""

    __tablename__ = "review_decisions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    review_item_id: Mapped[int] = mapped_column(ForeignKey("review_items.id"), index=True)
    reviewer: Mapped[str] = mapped_column(String(200))
    decided_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    description_id: Mapped[str] = mapped_column(String(200))
    sentiment: Mapped[str | None] = mapped_column(String(32))
    note: Mapped[str | None] = mapped_column(Text)
    override: Mapped[bool] = mapped_column(Boolean, default=False)
    # Every description chosen, [{id, sentiment}], primary first (= description_id/sentiment); null for
    # decisions recorded before migration 0002 or by code that sets only the primary: read it with
    # `decided_descriptions`.
    descriptions: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON(none_as_null=True))
    # The reviewer found no description that fits: drift evidence, never a training label.
    no_description_fits: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())

    item: Mapped[ReviewItem] = relationship(back_populates="decisions")


class ReviewComment(Base):
    """A reviewer's note on a review item written without a decision (it changes no label)."""

    __tablename__ = "review_comments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    review_item_id: Mapped[int] = mapped_column(ForeignKey("review_items.id"), index=True)
    author: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    note: Mapped[str] = mapped_column(Text)


def decided_descriptions(decision: ReviewDecision) -> list[dict[str, Any]]:
    """The descriptions a decision chose, [{id, sentiment}], primary first (older rows: the primary alone)."""
    return description_list(decision.description_id, decision.sentiment, decision.descriptions)


def description_list(
    description_id: str, sentiment: str | None, descriptions: list[dict[str, Any]] | None
) -> list[dict[str, Any]]:
    """A decision's columns as [{id, sentiment}]: the `descriptions` list, else the primary alone."""
    if descriptions:
        return [{"id": d["id"], "sentiment": d.get("sentiment")} for d in descriptions]
    return [{"id": description_id, "sentiment": sentiment}]


class ApiKey(Base):
    """An API key: only its SHA-256 hash is stored."""

    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    role: Mapped[str] = mapped_column(String(16))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime)


class RetentionAudit(Base):
    """One purge or erasure: when, who, what cut-off, how many rows of each table. Never any content."""

    __tablename__ = "retention_audit"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, index=True)
    actor: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(16))  # purge | erasure | scheduled_purge
    cutoff: Mapped[datetime | None] = mapped_column(DateTime)
    contact_id: Mapped[int | None] = mapped_column(Integer)  # the erased contact's id (no longer exists)
    contacts: Mapped[int] = mapped_column(Integer)
    counts: Mapped[dict[str, int]] = mapped_column(JSON)


# ------------------------------------------------------------------------------------------ descriptions

Pairs = Sequence[tuple[str, str | None, str | None]]  # (description id, group id, sentiment), primary first


def set_descriptions(contact: Contact, kind: str, pairs: Pairs) -> None:
    """Make a contact's `kind` set exactly `pairs` (primary first) and its primary columns follow.

    Rows are updated in place by position, so the (contact, kind, position) constraint holds at every step.
    """
    if not pairs:
        raise ValueError("a contact has at least one description")
    first_id, first_group, first_sentiment = pairs[0]
    if kind == LOGGED:
        contact.description_id, contact.sentiment = first_id, first_sentiment
    elif kind == CURRENT:
        contact.current_description_id, contact.current_sentiment = first_id, first_sentiment
        if first_group is not None:
            contact.current_group_id = first_group
    else:
        raise ValueError(f"unknown description set '{kind}'")
    _replace_rows(contact, kind, pairs)


def _rows(contact: Contact, kind: str) -> list[ContactDescription]:
    return contact.logged_descriptions if kind == LOGGED else contact.current_descriptions


def _replace_rows(contact: Contact, kind: str, pairs: Pairs) -> None:
    rows = _rows(contact, kind)
    for position, (did, group, sentiment) in enumerate(pairs):
        if position < len(rows):
            row = rows[position]
            row.description_id, row.group_id, row.sentiment = did, group, sentiment
        else:
            rows.append(
                ContactDescription(
                    kind=kind, position=position, description_id=did, group_id=group, sentiment=sentiment
                )
            )
    del rows[len(pairs) :]


def _primary(contact: Contact, kind: str) -> tuple[str, str | None, str | None]:
    if kind == CURRENT:
        return contact.current_description_id, contact.current_group_id, contact.current_sentiment
    group = contact.current_group_id if contact.description_id == contact.current_description_id else None
    return contact.description_id, group, contact.sentiment


def _changed(contact: Contact, *names: str) -> bool:
    state = inspect(contact)
    return any(state.attrs[n].history.has_changes() for n in names)


@event.listens_for(Session, "before_flush")
def _keep_primaries(session: Session, _context: Any, _instances: Any) -> None:
    """Keep each set's first row equal to the contact's primary columns (see the module docstring)."""
    for contact in [*session.new, *session.dirty]:
        if not isinstance(contact, Contact):
            continue
        fresh = contact in session.new
        for kind, names in (
            (LOGGED, ("description_id", "sentiment")),
            (CURRENT, ("current_description_id", "current_group_id", "current_sentiment")),
        ):
            if not fresh and not _changed(contact, *names):
                continue
            did, group, sentiment = _primary(contact, kind)
            rows = _rows(contact, kind)
            if rows and rows[0].description_id == did:
                rows[0].sentiment = sentiment
                rows[0].group_id = group if group is not None else rows[0].group_id
            else:  # the primary changed behind the set's back: the set is that description alone
                _replace_rows(contact, kind, [(did, group, sentiment)])


# ------------------------------------------------------------------------------------------------ engine


def make_engine(url: str) -> Engine:
    """An engine for `url`: SQLite gets WAL, foreign keys and a busy timeout; PostgreSQL a connect timeout."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            with contextlib.suppress(OSError):  # if it cannot be made, connecting fails and says so
                Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 5})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    args = {"connect_timeout": 3} if parsed.get_backend_name() == "postgresql" else {}
    return create_engine(url, pool_pre_ping=True, connect_args=args)


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA journal_mode=WAL")
    # In WAL mode NORMAL is corruption-safe and survives a crash of the service; only a power cut can undo the
    # last commits. It halves the cost of the suggest insert. Use PostgreSQL where that matters.
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.close()


def session_factory(engine: Engine) -> sessionmaker:
    return sessionmaker(engine, expire_on_commit=False)


MIGRATION_LOCK = 0x636C656E73  # "clens": the PostgreSQL advisory lock key held while migrating


def upgrade(engine: Engine) -> None:
    """Apply the Alembic migrations up to head (a no-op when the schema is current)."""
    from alembic import command
    from alembic.config import Config

    cfg = Config(str(Path(__file__).resolve().parent / "alembic.ini"))
    cfg.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            # Whatever starts the workers (uvicorn, gunicorn, several hosts), one migrates at a time; the
            # others wait here, then find the schema current. Released when the transaction ends.
            conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK})
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")


def ping(engine: Engine) -> None:
    """Raise if the database cannot answer a trivial query."""
    with engine.connect() as conn:
        conn.execute(text("SELECT 1"))


def describe_url(engine: Engine) -> str:
    """The database URL without its password, for log lines."""
    return engine.url.render_as_string(hide_password=True)


UNAVAILABLE, BUSY, INVALID, CONFLICT, BUG = "unavailable", "busy", "invalid", "conflict", "bug"
# PostgreSQL SQLSTATE classes and codes meaning "the server cannot be reached or is going away".
_PG_DOWN = ("08", "53", "57P", "58")  # connection exception, insufficient resources, shutdown, system error
_PG_BUSY = ("40", "55P03", "57014")  # serialization failure / deadlock, lock not available, query cancelled


def classify_error(exc: BaseException) -> str:
    """What a database error means for the caller, so that only a real outage is reported as one.

    `unavailable` (connection refused or lost, the server shutting down, a file that cannot be opened: 503 and
    an outage logged), `busy` (a lock or deadlock that a retry can clear: 503 without an outage), `invalid`
    (a value the database refuses, such as an integer out of range: 422), `conflict` (a constraint: 409),
    `bug` (anything else, a programming error: 500).
    """
    from sqlalchemy import exc as sa_exc

    if isinstance(exc, sa_exc.IntegrityError):
        return CONFLICT
    if isinstance(exc, sa_exc.DataError):
        return INVALID
    if isinstance(exc, sa_exc.InterfaceError | sa_exc.DisconnectionError | sa_exc.TimeoutError):
        return UNAVAILABLE  # TimeoutError: no pooled connection came free in time
    if isinstance(exc, sa_exc.DBAPIError) and exc.connection_invalidated:
        return UNAVAILABLE
    if isinstance(exc, sa_exc.OperationalError):
        orig = exc.orig
        code = getattr(orig, "sqlstate", None)  # psycopg; sqlite3 has none
        if code:
            if code.startswith(_PG_BUSY):
                return BUSY
            return UNAVAILABLE if code.startswith(_PG_DOWN) else BUG
        message = str(orig).lower()
        if "locked" in message or "busy" in message:  # SQLite: another connection holds the write lock
            return BUSY
        return UNAVAILABLE  # no SQLSTATE: the connection itself failed (or SQLite cannot open its file)
    if getattr(getattr(exc, "orig", None), "sqlstate", None) == "42P01":
        return UNAVAILABLE  # no such table: the schema is not migrated yet (the database was down at start)
    return BUG


# The first line of an error, for log lines and messages (driver errors run to many lines); the name the
# service's modules import.
short_error = first_line
