"""Loading labelled verbatims from CSV, JSONL or Parquet, with column mapping, and checking them."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Collection, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from contactlens.errors import DataError, first_line
from contactlens.taxonomy import Taxonomy, check_label

# pandas is imported where rows are read or relabelled: the service imports this module for its constants, and
# pandas brings pyarrow (about 100 MB a serving worker).
if TYPE_CHECKING:
    import pandas as pd

SENTIMENTS = ("negative", "neutral", "positive")
CHANNELS = ("letter", "email", "phone", "txt", "web", "face_to_face", "fax")
_PARSED = ("labels", "label_sentiments", "label_cell")
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
    import pandas as pd

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
    # The file's own columns must not pass for the parsed label lists (NLU++ calls its label column `labels`).
    frame = frame.rename(columns={c: f"{c}_in_file" for c in _PARSED if c in frame.columns})
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


def load(
    path: str | Path,
    cols: Columns = Columns(),
    need_label: bool = True,
    taxonomy: Taxonomy | None = None,
    strict: bool = True,
) -> pd.DataFrame:
    """Read a whole file into a frame with the canonical column names (`text`, `description`, ...).

    A labelled frame also gets the parsed label list (see `with_labels`): `description` is then the primary
    (first) description of each row. With a taxonomy, labels are mapped to description ids (unknown ones
    are kept for the caller to report). `strict=False` reads a file's labels without a taxonomy to discover
    them (see `parse_labels`).

    Raises:
        DataError: a missing or empty file, a non-UTF-8 file, a missing column, no rows, a malformed
            description list (empty item, repeated id, unknown sentiment), naming the row.
    """
    path = Path(path)
    frame = _canonical(_read(path), path, cols, need_label)
    if frame.empty:
        raise DataError(f"{path}: the file has a header but no rows")
    frame = frame.reset_index(drop=True)
    return with_labels(frame, str(path), taxonomy, strict) if need_label else frame


# ---------------------------------------------------------------------------------------- label lists

LabelPair = tuple[str, str | None]
_WORD = re.compile(r"[A-Za-z]+")


def _pair(item: str, n: int, cell: str, known: Collection[str] | None, strict: bool) -> LabelPair:
    """One item of a cell: a known label as it is, else `label` or `label:sentiment`."""
    if known is not None and item in known:
        return item, None
    head, sep, tail = item.rpartition(":")
    head, tail = head.strip(), tail.strip()
    if sep and tail.lower() in SENTIMENTS:
        if not head:
            raise ValueError(f"item {n} of the description list '{cell}' has no description id")
        return head, tail.lower()
    if sep and _WORD.fullmatch(tail) and head and (head in known if known is not None else strict):
        raise ValueError(f"unknown sentiment '{tail}' for '{head}' in '{cell}': use {'/'.join(SENTIMENTS)}")
    return item, None  # any other ':' belongs to the label ("Billing: late fee")


def _items(cell: str, known: Collection[str] | None, strict: bool) -> list[LabelPair]:
    """Split a cell into its items, joining back the pieces of a known label that holds ';'."""
    parts = cell.split(";")
    if parts[-1].strip() == "" and len(parts) > 1:  # a trailing ';' is harmless
        parts = parts[:-1]
    pairs: list[LabelPair] = []
    i = 0
    while i < len(parts):
        j = i + 1
        if known is not None:  # the longest run of pieces that is a known label (with a sentiment or not)
            for end in range(len(parts), i + 1, -1):
                piece = ";".join(parts[i:end]).strip()
                head, _, tail = piece.rpartition(":")
                if piece in known or (tail.strip().lower() in SENTIMENTS and head.strip() in known):
                    j = end
                    break
        item = ";".join(parts[i:j]).strip()
        if not item:
            raise ValueError(f"item {len(pairs) + 1} of the description list '{cell}' is empty")
        pairs.append(_pair(item, len(pairs) + 1, cell, known, strict))
        i = j
    return pairs


def parse_labels(cell: str, known: Collection[str] | None = None, strict: bool = True) -> list[LabelPair]:
    """Parse a description cell: `a`, `a;b` or `a:negative;b:positive` (the first is the primary).

    A label is any text of at most 200 characters, so it may itself hold ';' or ':'. The rule: with `known`
    (a taxonomy's ids and labels), a whole cell, or a run of items, that is a known label is that label.
    Otherwise ';' separates descriptions and a final `:negative`, `:neutral` or `:positive` is a sentiment;
    a final ':' + one other word is refused as an unknown sentiment (`late:furious`) when `strict`, or when
    the part before it is a known label; any other ':' is part of the label (`Billing: late fee`). Not
    `strict` is for discovering the labels of a file without a taxonomy (`Status:Open` is then a label).

    Returns [] for an empty cell.

    Raises:
        ValueError: an empty item (`a;;b`), a pair without an id, an unknown sentiment, a repeated label, a
            label longer than 200 characters.
    """
    cell = cell.strip()
    if known is not None and cell in known:
        return [(cell, None)]
    if not cell.strip(" ;"):  # nothing but separators: an empty list, reported as "no description"
        return []
    pairs: list[LabelPair] = []
    seen: set[str] = set()
    for ident, sentiment in _items(cell, known, strict):
        problem = check_label(ident)
        if problem:
            raise ValueError(problem)
        if ident in seen:
            raise ValueError(f"description '{ident}' appears twice in '{cell}'")
        seen.add(ident)
        pairs.append((ident, sentiment))
    return pairs


def format_labels(pairs: list[LabelPair]) -> str:
    """The cell for a label list: the inverse of `parse_labels`."""
    return ";".join(f"{i}:{s}" if s else i for i, s in pairs)


def with_labels(
    frame: pd.DataFrame, source: str = "data", taxonomy: Taxonomy | None = None, strict: bool = True
) -> pd.DataFrame:
    """Parse the `description` column into `labels` (tuple) and `label_sentiments` (tuple, "" = none).

    With a taxonomy, each label becomes its description id (`Taxonomy.id_of`: ids, labels as written in the
    data, migrations), two labels of one id merging (the first keeps its place and sentiment); labels the
    taxonomy does not know stay as they are (see `to_taxonomy`). The raw cell is kept in `label_cell`.
    `description` becomes the primary label. A row whose pairs all carry one sentiment and has no overall
    `sentiment` gets that one as its overall sentiment. Idempotent.

    Raises:
        DataError: a malformed description list, naming the row.
    """
    if "labels" in frame.columns and taxonomy is None:
        return frame
    out = frame.copy()
    known = taxonomy.known_labels if taxonomy is not None else None
    if "labels" in out.columns and "label_cell" not in out.columns:  # built in code: ids already split
        parsed = [
            list(zip(ids, (s or None for s in ss), strict=True))
            for ids, ss in zip(out["labels"], out["label_sentiments"], strict=True)
        ]
    else:
        cells = out["label_cell"] if "label_cell" in out.columns else out["description"]
        out["label_cell"] = cells
        parsed = []
        for i, cell in enumerate(cells):
            try:
                parsed.append(parse_labels(cell, known, strict))
            except ValueError as exc:
                raise DataError(f"{source}: row {i + 1}: {exc}") from None
    labels, sentiments = [], []
    for pairs in parsed:
        kept: dict[str, str] = {}
        for ident, sent in pairs:
            kept.setdefault(taxonomy.id_of(ident) if taxonomy is not None else ident, sent or "")
        labels.append(tuple(kept))
        sentiments.append(tuple(kept.values()))
    out["labels"] = labels
    out["label_sentiments"] = sentiments
    out["description"] = [lab[0] if lab else "" for lab in labels]
    if any(any(s) for s in sentiments):
        import pandas as pd

        overall = out["sentiment"] if "sentiment" in out.columns else pd.Series("", index=out.index)
        derived = [
            o if o.strip() or len(set(s)) != 1 else s[0] for o, s in zip(overall, sentiments, strict=True)
        ]
        out["sentiment"] = derived
    return out


def to_taxonomy(frame: pd.DataFrame, taxonomy: Taxonomy, source: str = "data") -> pd.DataFrame:
    """Every label of a frame as its description id; a label the taxonomy does not know is refused.

    Raises:
        DataError: a malformed cell or an unknown label, naming the first row.
    """
    out = with_labels(frame, source, taxonomy)
    check_known(out["labels"], taxonomy, source)
    return out


def check_known(labels: Iterable[list[str]], taxonomy: Taxonomy, source: str = "data") -> None:
    """Refuse the first row holding an id the taxonomy does not know (the one check, for loading and fit)."""
    known = set(taxonomy.descriptions)
    for i, ids in enumerate(labels):
        unknown = [d for d in ids if d not in known]
        if unknown:
            raise DataError(
                f"{source}: row {i + 1}: '{unknown[0]}' is not a description of taxonomy {taxonomy.version}"
            )


def is_multilabel(frame: pd.DataFrame) -> bool:
    """True when some row carries more than one description."""
    return bool(with_labels(frame)["labels"].map(len).gt(1).any())


def pair_sentiments(frame: pd.DataFrame) -> list[tuple[str, str]]:
    """Per row, per description: the sentiment of that description (its pair, else the row's overall one)."""
    import pandas as pd

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


def apply_migrations(frame: pd.DataFrame, taxonomy: Taxonomy, source: str = "data") -> pd.DataFrame:
    """Map labels (as written, or ids of older taxonomy versions) to current ids, in every position of a list.

    Two labels that map to the same id are merged (the first keeps its place and its sentiment). Unknown
    labels stay as they are (`to_taxonomy` refuses them).
    """
    return with_labels(frame, source, taxonomy)


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


def _migrated(cell: str, taxonomy: Taxonomy) -> bool:
    """True when a migration maps some label of the cell to another description."""
    for label, _ in parse_labels(cell, taxonomy.known_labels):
        current = label if label in taxonomy.descriptions else taxonomy.label_index.get(label, label)
        if taxonomy.migrate(current) != current:
            return True
    return False


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
    migrated = sum(_migrated(cell, taxonomy) for cell in migrated_frame["label_cell"])
    if migrated:
        report.details["migrated_rows"] = migrated
    used = set(flat)
    unused = [d for d in taxonomy.active_ids if d not in used]
    if unused:
        report.warnings.append(f"{len(unused)} active descriptions have no rows: {', '.join(unused[:5])}")
