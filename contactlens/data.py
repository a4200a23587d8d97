"""Loading labelled verbatims from CSV, JSONL or Parquet, with column mapping, and checking them."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from contactlens.errors import DataError, first_line
from contactlens.taxonomy import Taxonomy

SENTIMENTS = ("negative", "neutral", "positive")
CHANNELS = ("letter", "email", "phone", "txt", "web", "face_to_face", "fax")
FORMATS = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "jsonl", ".parquet": "parquet"}


@dataclass(frozen=True)
class Columns:
    """Where the canonical columns live in a file. The loaded frame always uses the canonical names."""

    text: str = "text"
    label: str = "description"
    sentiment: str = "sentiment"
    date: str = "received_at"
    channel: str = "channel"
    site: str = "site"

    def renames(self) -> dict[str, str]:
        canonical = {"text": self.text, "description": self.label, "sentiment": self.sentiment}
        canonical |= {"received_at": self.date, "channel": self.channel, "site": self.site}
        return {src: dst for dst, src in canonical.items() if src != dst}


def _format(path: Path) -> str:
    fmt = FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise DataError(f"{path}: unknown file type '{path.suffix}', expected one of {', '.join(FORMATS)}")
    return fmt


def _read(path: Path, chunksize: int | None = None) -> Any:
    if not path.is_file():
        raise DataError(f"{path}: no such file")
    if path.stat().st_size == 0:
        raise DataError(f"{path}: the file is empty")
    fmt = _format(path)
    try:
        if fmt == "csv":
            return pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8", chunksize=chunksize)
        if fmt == "jsonl":
            return pd.read_json(path, lines=True, dtype=False, encoding="utf-8", chunksize=chunksize)
        if chunksize:
            import pyarrow.parquet as pq

            batches = pq.ParquetFile(path).iter_batches(batch_size=chunksize)
            return (b.to_pandas() for b in batches)
        return pd.read_parquet(path)
    except UnicodeDecodeError as exc:
        line = _line_of_byte(path, exc.start)
        raise DataError(f"{path}: not UTF-8 text (line {line}); re-save it as UTF-8") from None
    except (pd.errors.ParserError, ValueError, OSError) as exc:
        raise DataError(f"{path}: cannot be read as {fmt}: {first_line(exc)}") from None


def _line_of_byte(path: Path, offset: int) -> int:
    # The parser's offset is within its buffer, so find the first bad byte in the file itself.
    raw = path.read_bytes()
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        offset = exc.start
    return raw[:offset].count(b"\n") + 1


def _canonical(frame: pd.DataFrame, path: Path, cols: Columns, need_label: bool) -> pd.DataFrame:
    frame = frame.rename(columns=cols.renames())
    needed = ["text"] + (["description"] if need_label else [])
    missing = [c for c in needed if c not in frame.columns]
    if missing:
        want = {"text": cols.text, "description": cols.label}
        names = ", ".join(f"'{want[m]}'" for m in missing)
        found = ", ".join(map(str, frame.columns[:12]))
        raise DataError(
            f"{path}: missing column {names} (found: {found}); map it with --text-col/--label-col"
        )
    for col in ("text", "description", "sentiment", "channel", "site"):
        if col in frame.columns:
            frame[col] = frame[col].map(lambda v: "" if v is None or v != v else str(v))
    return frame


def load(path: str | Path, cols: Columns = Columns(), need_label: bool = True) -> pd.DataFrame:
    """Read a whole file into a frame with the canonical column names (`text`, `description`, ...).

    A labelled frame also gets the parsed label list (see `with_labels`): `description` is then the primary
    (first) description of each row.

    Raises:
        DataError: a missing or empty file, a non-UTF-8 file, a missing column, no rows, a malformed
            description list (empty item, repeated id, unknown sentiment), naming the row.
    """
    path = Path(path)
    frame = _canonical(_read(path), path, cols, need_label)
    if frame.empty:
        raise DataError(f"{path}: the file has a header but no rows")
    frame = frame.reset_index(drop=True)
    return with_labels(frame, str(path)) if need_label else frame


# ---------------------------------------------------------------------------------------- label lists

LabelPair = tuple[str, str | None]


def parse_labels(cell: str) -> list[LabelPair]:
    """Parse a description cell: `id`, `id1;id2` or `id1:negative;id2:positive` (first = primary).

    Returns [] for an empty cell.

    Raises:
        ValueError: an empty item (`a;;b`), a pair without an id, an unknown sentiment, a repeated id.
    """
    cell = cell.strip()
    if not cell.strip(" ;"):  # nothing but separators: an empty list, reported as "no description"
        return []
    pairs: list[LabelPair] = []
    seen: set[str] = set()
    items = cell.split(";")
    if items[-1].strip() == "" and len(items) > 1:  # a trailing ';' is harmless
        items = items[:-1]
    for n, item in enumerate(items, start=1):
        item = item.strip()
        if not item:
            raise ValueError(f"item {n} of the description list '{cell}' is empty")
        ident, sep, sentiment = item.partition(":")
        ident, sentiment = ident.strip(), sentiment.strip().lower()
        if not ident:
            raise ValueError(f"item {n} of the description list '{cell}' has no description id")
        if sep and sentiment not in SENTIMENTS:
            raise ValueError(
                f"unknown sentiment '{sentiment}' for '{ident}' in '{cell}': use {'/'.join(SENTIMENTS)}"
            )
        if ident in seen:
            raise ValueError(f"description '{ident}' appears twice in '{cell}'")
        seen.add(ident)
        pairs.append((ident, sentiment or None))
    return pairs


def format_labels(pairs: list[LabelPair]) -> str:
    """The cell for a label list: the inverse of `parse_labels`."""
    return ";".join(f"{i}:{s}" if s else i for i, s in pairs)


def with_labels(frame: pd.DataFrame, source: str = "data") -> pd.DataFrame:
    """Parse the `description` column into `labels` (tuple of ids) and `label_sentiments` (tuple, "" = none).

    `description` becomes the primary id. A row whose pairs all carry one sentiment and has no overall
    `sentiment` gets that one as its overall sentiment. Idempotent.

    Raises:
        DataError: a malformed description list, naming the row.
    """
    if "labels" in frame.columns:
        return frame
    out = frame.copy()
    labels, sentiments = [], []
    for i, cell in enumerate(out["description"]):
        try:
            pairs = parse_labels(cell)
        except ValueError as exc:
            raise DataError(f"{source}: row {i + 1}: {exc}") from None
        labels.append(tuple(p[0] for p in pairs))
        sentiments.append(tuple(p[1] or "" for p in pairs))
    out["labels"] = labels
    out["label_sentiments"] = sentiments
    out["description"] = [lab[0] if lab else "" for lab in labels]
    if any(any(s) for s in sentiments):
        overall = out["sentiment"] if "sentiment" in out.columns else pd.Series("", index=out.index)
        derived = [
            o if o.strip() or len(set(s)) != 1 else s[0] for o, s in zip(overall, sentiments, strict=True)
        ]
        out["sentiment"] = derived
    return out


def is_multilabel(frame: pd.DataFrame) -> bool:
    """True when some row carries more than one description."""
    return bool(with_labels(frame)["labels"].map(len).gt(1).any())


def pair_sentiments(frame: pd.DataFrame) -> list[tuple[str, str]]:
    """Per row, per description: the sentiment of that description (its pair, else the row's overall one)."""
    frame = with_labels(frame)
    overall = frame["sentiment"] if "sentiment" in frame.columns else pd.Series("", index=frame.index)
    return [
        tuple(s or o.strip().lower() for s in sents)  # type: ignore[misc]
        for sents, o in zip(frame["label_sentiments"], overall, strict=True)
    ]


def iter_raw_chunks(
    path: str | Path, text_col: str = "text", chunksize: int = 2048
) -> Iterator[pd.DataFrame]:
    """Stream a file in chunks with its own column names (for scoring archives larger than memory)."""
    path = Path(path)
    reader = _read(path, chunksize=chunksize)
    try:
        for chunk in reader:
            if text_col not in chunk.columns:
                found = ", ".join(map(str, chunk.columns[:12]))
                raise DataError(
                    f"{path}: missing column '{text_col}' (found: {found}); map it with --text-col"
                )
            chunk[text_col] = chunk[text_col].map(lambda v: "" if v is None or v != v else str(v))
            yield chunk
    except UnicodeDecodeError:
        raise DataError(f"{path}: not UTF-8 text; re-save it as UTF-8") from None


def apply_migrations(frame: pd.DataFrame, taxonomy: Taxonomy) -> pd.DataFrame:
    """Map labels written against older taxonomy versions to current ids, in every position of a list.

    Two ids that migrate to the same one are merged (the first keeps its place and its sentiment).
    """
    out = with_labels(frame).copy()
    labels, sentiments = [], []
    for ids, sents in zip(out["labels"], out["label_sentiments"], strict=True):
        kept: dict[str, str] = {}
        for ident, sent in zip(ids, sents, strict=True):
            kept.setdefault(taxonomy.migrate(ident), sent)
        labels.append(tuple(kept))
        sentiments.append(tuple(kept.values()))
    out["labels"], out["label_sentiments"] = labels, sentiments
    out["description"] = [lab[0] if lab else "" for lab in labels]
    return out


def label_cells(frame: pd.DataFrame) -> list[str]:
    """The canonical description cell of each row (`a:negative;b`)."""
    frame = with_labels(frame)
    return [
        format_labels([(i, s or None) for i, s in zip(ids, sents, strict=True)])
        for ids, sents in zip(frame["labels"], frame["label_sentiments"], strict=True)
    ]


def data_hash(frame: pd.DataFrame) -> str:
    """A short content hash of the text and labels, recorded in the model's metadata."""
    h = hashlib.sha256()
    parts = [frame["text"].tolist()]
    if "description" in frame.columns:
        parts.append(label_cells(frame))
    if "sentiment" in frame.columns:
        parts.append(frame["sentiment"].tolist())
    for row in zip(*parts, strict=True):
        h.update("\x1f".join(row).encode("utf-8"))
        h.update(b"\x1e")
    return h.hexdigest()[:16]


_NEAR = re.compile(r"[^a-z0-9]+")


def near_key(text: str) -> str:
    """The key under which two texts count as near duplicates: case, punctuation and spacing ignored."""
    return _NEAR.sub(" ", text.lower()).strip()


@dataclass
class CheckReport:
    """What `data check` found. `errors` make the command fail; `warnings` do not."""

    path: str
    rows: int
    label_counts: dict[str, int]
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)


def _rows(index: pd.Index, limit: int = 5) -> str:
    # Row numbers as a person sees them in the file: header is line 1, first row is row 1.
    shown = ", ".join(str(i + 1) for i in list(index)[:limit])
    return shown + (f" ... ({len(index)} in all)" if len(index) > limit else "")


def check(
    frame: pd.DataFrame, path: str, taxonomy: Taxonomy | None = None, against: pd.DataFrame | None = None
) -> CheckReport:
    """Check a labelled frame: empties, duplicates, conflicts, unknown labels and leakage into `against`."""
    frame = with_labels(frame, path)
    counts = frame["labels"].explode().dropna().value_counts()
    report = CheckReport(path, len(frame), {str(k): int(v) for k, v in counts.items()})
    multi = int(frame["labels"].map(len).gt(1).sum())
    if multi:
        report.details["rows_with_several_descriptions"] = multi
    text = frame["text"].str.strip()
    empty = frame.index[text == ""]
    if len(empty):
        report.errors.append(f"{len(empty)} empty texts (rows {_rows(empty)})")
    nolabel = frame.index[frame["labels"].map(len) == 0]
    if len(nolabel):
        report.errors.append(f"{len(nolabel)} rows without a description (rows {_rows(nolabel)})")
    exact = frame.index[text.duplicated(keep="first") & (text != "")]
    if len(exact):
        report.warnings.append(f"{len(exact)} exact duplicate texts (rows {_rows(exact)})")
    keys = text.map(near_key)
    near = frame.index[keys.duplicated(keep="first") & ~text.duplicated(keep="first") & (keys != "")]
    if len(near):
        report.warnings.append(
            f"{len(near)} near duplicates (same words, other case/punctuation; rows {_rows(near)})"
        )
    # The same text under two labels is a contradiction; near-identical texts under two labels may be a
    # genuine ambiguity (BANKING77: "top up" vs "top-up"), so only warn about those.
    label_set = frame["labels"].map(lambda ls: ";".join(sorted(ls)))
    for key, severity, what in (
        (text, report.errors, "texts"),
        (keys, report.warnings, "near-identical texts"),
    ):
        per_key = frame.assign(_k=key, _l=label_set).groupby("_k")["_l"].nunique()
        conflicts = per_key[per_key > 1]
        if len(conflicts):
            severity.append(f"{len(conflicts)} {what} appear with conflicting descriptions")
            report.details.setdefault("conflicting_texts", list(conflicts.index[:5]))
    if "sentiment" in frame.columns:
        bad = frame.index[~frame["sentiment"].isin(SENTIMENTS + ("",))]
        if len(bad):
            report.errors.append(
                f"{len(bad)} rows with a sentiment other than {'/'.join(SENTIMENTS)} (rows {_rows(bad)})"
            )
    if taxonomy is not None:
        _check_taxonomy(frame, taxonomy, report)
    if against is not None:
        other = set(against["text"].str.strip().map(near_key))
        overlap = frame.index[keys.isin(other) & (keys != "")]
        if len(overlap):
            report.errors.append(
                f"{len(overlap)} texts also in the other file (leakage; rows {_rows(overlap)})"
            )
        report.details["overlap"] = len(overlap)
    return report


def _check_taxonomy(frame: pd.DataFrame, taxonomy: Taxonomy, report: CheckReport) -> None:
    migrated_frame = apply_migrations(frame, taxonomy)
    flat = migrated_frame["labels"].explode().dropna()
    known = set(taxonomy.descriptions)
    unknown = sorted(set(flat) - known)
    if unknown:
        rows = flat.index[flat.isin(unknown)].unique()
        first = ", ".join(unknown[:5])
        report.errors.append(
            f"{len(unknown)} labels unknown to taxonomy {taxonomy.version} "
            f"({len(rows)} rows: {_rows(rows)}), first: {first}"
        )
    retired = sorted({lab for lab in flat if lab in known and not taxonomy.descriptions[lab].active})
    if retired:
        report.warnings.append(f"labels of retired descriptions with no migration: {', '.join(retired[:5])}")
    migrated = int((migrated_frame["labels"] != frame["labels"]).sum())
    if migrated:
        report.details["migrated_rows"] = migrated
    used = set(flat)
    unused = [d for d in taxonomy.active_ids if d not in used]
    if unused:
        report.warnings.append(f"{len(unused)} active descriptions have no rows: {', '.join(unused[:5])}")
