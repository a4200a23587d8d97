"""Label exchange with annotation tools: pending review items out (with pre-annotations), labels back in.

Export formats: `csv` and `jsonl` (one row per pending item; the `description` column is left empty for the
annotator, the model's guess is in `predicted_description`, so an untouched file imports nothing) and
`label-studio` (JSON tasks whose `predictions` Label Studio shows as pre-annotations, and a labelling config).
Import reads csv, jsonl, or a Label Studio JSON export (full or JSON-MIN), validates every row against the
taxonomy before writing anything, and records each label as a review decision, as a reviewer would.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from xml.sax.saxutils import quoteattr

import pandas as pd
from sqlalchemy import select
from sqlalchemy.engine import Engine

from contactlens.data import SENTIMENTS, parse_labels
from contactlens.errors import DataError, first_line
from contactlens.model import ContactModel
from contactlens.results import Suggestion
from contactlens.reviews import record_decision
from contactlens.routing import owners
from contactlens.store import (
    DECIDED,
    PENDING,
    Contact,
    ReviewItem,
    session_factory,
    utcnow,
)
from contactlens.taxonomy import Taxonomy

FORMATS = ("csv", "jsonl", "label-studio")
FROM_NAME, SENTIMENT_NAME, TO_NAME = "description", "sentiment", "text"
EXPORT_COLUMNS = [
    "review_item_id",
    "contact_id",
    "text",
    "channel",
    "received_at",
    "reason",
    "logged_description",
    "predicted_description",
    "confidence",
    "suggestions",
    "predicted_sentiment",
    "model_version",
    "description",
    "sentiment",
    "reviewer",
    "note",
]

# ------------------------------------------------------------------------------------------------ export


def pending_frame(engine: Engine, limit: int | None = None) -> pd.DataFrame:
    """The pending review items, oldest first, with their contact's (redacted) text."""
    stmt = (
        select(
            ReviewItem.id,
            Contact.id,
            Contact.text,
            Contact.channel,
            Contact.received_at,
            ReviewItem.reason,
            Contact.description_id,
        )
        .join(Contact, Contact.id == ReviewItem.contact_id)
        .where(ReviewItem.status == PENDING)
        .order_by(ReviewItem.created_at, ReviewItem.id)
        .limit(limit)
    )
    with engine.connect() as conn:
        rows = [tuple(r) for r in conn.execute(stmt)]
    return pd.DataFrame(rows, columns=EXPORT_COLUMNS[:7])


def add_predictions(frame: pd.DataFrame, model: ContactModel, batch: int = 256) -> pd.DataFrame:
    """The model's top-3 suggestions and sentiment for each row (the pre-annotations)."""
    results: list[Suggestion] = []
    texts = frame["text"].tolist()
    for start in range(0, len(texts), batch):
        results.extend(model.suggest(texts[start : start + batch], top_k=3))
    out = frame.copy()
    out["predicted_description"] = [r.top.id for r in results]
    out["confidence"] = [r.top.confidence for r in results]
    out["suggestions"] = [
        json.dumps([{"id": s.id, "confidence": s.confidence} for s in r.suggestions]) for r in results
    ]
    out["predicted_sentiment"] = [r.sentiment.label if r.sentiment else "" for r in results]
    out["model_version"] = model.version
    for col in ("description", "sentiment", "reviewer", "note"):
        out[col] = ""
    return out[EXPORT_COLUMNS]


def label_studio_tasks(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Label Studio tasks: the contact as `data`, the model's top suggestion as a pre-annotation."""
    tasks = []
    for row in frame.to_dict("records"):
        result = [_choice(FROM_NAME, row["predicted_description"])]
        if row["predicted_sentiment"]:
            result.append(_choice(SENTIMENT_NAME, row["predicted_sentiment"]))
        data = {k: row[k] for k in ("text", "review_item_id", "contact_id", "channel", "reason")}
        data["received_at"] = str(row["received_at"])
        data["logged_description"] = row["logged_description"]
        data["suggestions"] = json.loads(row["suggestions"])
        prediction = {
            "model_version": row["model_version"],
            "score": float(row["confidence"]),
            "result": result,
        }
        tasks.append({"data": data, "predictions": [prediction]})
    return tasks


def _choice(from_name: str, value: str) -> dict[str, Any]:
    return {"from_name": from_name, "to_name": TO_NAME, "type": "choices", "value": {"choices": [value]}}


def label_config(taxonomy: Taxonomy) -> str:
    """A Label Studio labelling config matching the exported tasks: one description, one sentiment."""
    choices = "\n".join(
        f"    <Choice value={quoteattr(d.id)} hint={quoteattr(d.name)}/>"
        for d in taxonomy.descriptions.values()
        if d.active
    )
    sentiments = "\n".join(f"    <Choice value={quoteattr(s)}/>" for s in SENTIMENTS)
    return (
        f'<View>\n  <Text name="{TO_NAME}" value="$text"/>\n'
        f'  <Choices name="{FROM_NAME}" toName="{TO_NAME}" choice="single" required="true">\n'
        f"{choices}\n  </Choices>\n"
        f'  <Choices name="{SENTIMENT_NAME}" toName="{TO_NAME}" choice="single" showInline="true">\n'
        f"{sentiments}\n  </Choices>\n</View>\n"
    )


def write_export(frame: pd.DataFrame, fmt: str, out: Path, taxonomy: Taxonomy) -> list[Path]:
    """Write the exported rows; returns the files written (Label Studio also gets its labelling config)."""
    if fmt not in FORMATS:
        raise DataError(f"unknown export format '{fmt}', expected one of {', '.join(FORMATS)}")
    out.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "csv":
        frame.to_csv(out, index=False)
    elif fmt == "jsonl":
        frame.to_json(out, orient="records", lines=True, date_format="iso", force_ascii=False)
    else:
        out.write_text(json.dumps(label_studio_tasks(frame), indent=1, ensure_ascii=False, default=str))
        config = out.with_name(out.stem + ".label_config.xml")
        config.write_text(label_config(taxonomy))
        return [out, config]
    return [out]


# ------------------------------------------------------------------------------------------------ import


@dataclass
class Label:
    """One label read from a file; `where` names its row for error messages."""

    where: str
    review_item_id: int
    description: str
    sentiment: str = ""
    reviewer: str = ""
    note: str = ""
    # Further descriptions of the same contact (a cell `a;b:positive`): (id, sentiment or "").
    others: list[tuple[str, str]] = field(default_factory=list)


def read_labels(path: Path, reviewer: str | None = None) -> tuple[list[Label], int]:
    """The labelled rows of a csv, jsonl or Label Studio JSON file, and how many rows had no label yet."""
    if not path.is_file():
        raise DataError(f"{path}: no such file")
    suffix = path.suffix.lower()
    if suffix == ".csv":
        records = [(f"row {i + 1}", r) for i, r in enumerate(_read_csv(path))]
    elif suffix in (".jsonl", ".ndjson"):
        records = [(f"line {i + 1}", r) for i, r in enumerate(_read_jsonl(path))]
    elif suffix == ".json":
        records = _read_label_studio(path)
    else:
        raise DataError(
            f"{path}: unknown file type '{path.suffix}', expected .csv, .jsonl or .json (Label Studio)"
        )
    labels, unlabelled = [], 0
    for where, rec in records:
        if not str(rec.get("description") or "").strip():
            unlabelled += 1
            continue
        labels.append(_label(path, where, rec, reviewer))
    return labels, unlabelled


def _label(path: Path, where: str, rec: dict[str, Any], reviewer: str | None) -> Label:
    raw_id = str(rec.get("review_item_id") or "").strip()
    if not raw_id.isdigit():
        raise DataError(f"{path} {where}: review_item_id '{raw_id}' is missing or not a number")
    name = str(rec.get("reviewer") or "").strip() or (reviewer or "")
    if not name:
        raise DataError(f"{path} {where}: no reviewer name; add a reviewer column or pass --reviewer")
    sentiment = str(rec.get("sentiment") or "").strip().lower()
    try:
        pairs = parse_labels(str(rec["description"]))
    except ValueError as exc:
        raise DataError(f"{path} {where}: {exc}; nothing was imported") from None
    (first, first_sentiment), rest = pairs[0], pairs[1:]
    return Label(
        where,
        int(raw_id),
        first,
        first_sentiment or sentiment,
        name,
        str(rec.get("note") or ""),
        [(d, s or "") for d, s in rest],
    )


def _read_csv(path: Path) -> list[dict[str, Any]]:
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8")
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, ValueError) as exc:
        raise DataError(f"{path}: cannot be read as csv ({first_line(exc)})") from None
    missing = [c for c in ("review_item_id", "description") if c not in frame.columns]
    if missing:
        raise DataError(
            f"{path}: missing column {', '.join(missing)} (export a file with `contactlens export`)"
        )
    return frame.to_dict("records")


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    records = []
    for i, line in enumerate(path.read_text(encoding="utf-8").splitlines()):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
        except json.JSONDecodeError as exc:
            raise DataError(f"{path} line {i + 1}: not valid JSON ({exc.msg})") from None
        if not isinstance(rec, dict):
            raise DataError(f"{path} line {i + 1}: expected a JSON object")
        records.append(rec)
    return records


def _read_label_studio(path: Path) -> list[tuple[str, dict[str, Any]]]:
    try:
        tasks = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise DataError(f"{path}: not valid JSON ({exc.msg}, line {exc.lineno})") from None
    if not isinstance(tasks, list):
        raise DataError(f"{path}: expected a Label Studio export (a JSON list of tasks)")
    return [(f"task {i + 1}", _task_record(t)) for i, t in enumerate(tasks) if isinstance(t, dict)]


def _task_record(task: dict[str, Any]) -> dict[str, Any]:
    """One task of a Label Studio export as a flat record; JSON-MIN exports are flat already."""
    if "data" not in task:
        return {
            **task,
            "description": _min_choice(task.get(FROM_NAME)),
            "sentiment": _min_choice(task.get(SENTIMENT_NAME)),
        }
    rec: dict[str, Any] = {"review_item_id": task["data"].get("review_item_id")}
    done = [a for a in task.get("annotations") or [] if not a.get("was_cancelled")]
    if not done:
        return rec
    latest = max(done, key=lambda a: str(a.get("updated_at") or a.get("created_at") or ""))
    for item in latest.get("result") or []:
        choices = (item.get("value") or {}).get("choices") or []
        if item.get("from_name") in (FROM_NAME, SENTIMENT_NAME) and choices:
            rec[item["from_name"]] = choices[0]
    who = latest.get("completed_by")
    if isinstance(who, dict) and who.get("email"):
        rec["reviewer"] = who["email"]
    return rec


def _min_choice(value: Any) -> str:
    if isinstance(value, dict):  # JSON-MIN writes {"choices": [...]} when several may be picked
        value = (value.get("choices") or [""])[0]
    return str(value or "")


def validate_labels(labels: list[Label], taxonomy: Taxonomy, source: Path) -> list[Label]:
    """Migrate each label to the current taxonomy; the first bad row raises one error naming it."""
    errors: list[str] = []
    seen: dict[int, str] = {}
    for lab in labels:
        did = taxonomy.id_of(lab.description)
        problem = _id_problem(lab, taxonomy)
        if problem:
            errors.append(problem)
        elif lab.sentiment and lab.sentiment not in SENTIMENTS:
            errors.append(f"{lab.where}: sentiment '{lab.sentiment}' is not one of {', '.join(SENTIMENTS)}")
        elif lab.review_item_id in seen:
            errors.append(
                f"{lab.where}: review item {lab.review_item_id} is labelled twice "
                f"(also {seen[lab.review_item_id]})"
            )
        lab.description = did
        others: dict[str, str] = {}
        for other, sentiment in lab.others:  # a migration may map two ids to one: keep it once
            migrated = taxonomy.id_of(other)
            if migrated != did:
                others.setdefault(migrated, sentiment)
        lab.others = list(others.items())
        seen.setdefault(lab.review_item_id, lab.where)
    if errors:
        more = f" (and {len(errors) - 1} more rows)" if len(errors) > 1 else ""
        raise DataError(f"{source} {errors[0]}{more}; nothing was imported")
    return labels


def _id_problem(lab: Label, taxonomy: Taxonomy) -> str | None:
    """Why a label's ids cannot be recorded (unknown or retired), or None."""
    for raw in [lab.description] + [d for d, _ in lab.others]:
        did = taxonomy.id_of(raw)
        if did not in taxonomy.descriptions:
            return f"{lab.where}: unknown description id '{raw}' (taxonomy {taxonomy.version})"
        if not taxonomy.descriptions[did].active:
            return f"{lab.where}: description '{raw}' is retired in taxonomy {taxonomy.version}"
    return None


@dataclass
class ImportResult:
    written: int
    already_decided: list[int]


def write_decisions(
    engine: Engine, labels: list[Label], taxonomy: Taxonomy, source: Path, override: bool = False
) -> ImportResult:
    """Record the labels as review decisions in one transaction (all or nothing), with the review API's own
    `contactlens.reviews.record_decision` (the claim, the list form, the owner after review).

    Items decided already are left alone unless `override`: then the import adds a decision that wins.
    """
    now, written, skipped, table = utcnow(), 0, [], owners(taxonomy)
    with session_factory(engine)() as session, session.begin():
        items = {
            i.id: i
            for i in session.scalars(
                select(ReviewItem).where(ReviewItem.id.in_([x.review_item_id for x in labels]))
            )
        }
        for lab in labels:
            item = items.get(lab.review_item_id)
            if item is None:
                raise DataError(
                    f"{source} {lab.where}: no review item {lab.review_item_id} in the store; "
                    "nothing was imported"
                )
            was_decided = item.status == DECIDED
            if was_decided and not override:
                skipped.append(item.id)
                continue
            chosen = [(lab.description, lab.sentiment), *lab.others]
            record_decision(
                session,
                item.id,
                [(d, taxonomy.descriptions[d].group, s or None) for d, s in chosen],
                lab.reviewer,
                note=lab.note or f"imported from {source.name}",
                override=was_decided,
                owners=table,
                now=now,
            )
            written += 1
    return ImportResult(written, skipped)
