"""Scoring a whole archive of contacts in chunks, so memory stays flat however long the file is."""

from __future__ import annotations

import json
import os
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from contactlens.data import FORMATS, format_labels, iter_raw_chunks
from contactlens.errors import DataError
from contactlens.model import ContactModel, needs_review

PART_ROWS = 512  # rows one thread scores at a time (its texts embedded in batches of 64, longest first)


def score_chunk(model: ContactModel, chunk: pd.DataFrame, text_col: str, top_k: int) -> pd.DataFrame:
    """The chunk with top-k ids and confidences, needs_review and sentiment columns added."""
    out = chunk.copy()
    texts = chunk[text_col].tolist()
    scores = model.score(texts)
    classes = np.asarray(model.classes)
    order = np.argsort(-scores.proba, axis=1)[:, :top_k]
    # The label as the training data wrote it, beside the id, so users can compare with their own labels.
    raw = {c: model.taxonomy.descriptions[c].raw_label for c in model.classes}
    for k in range(order.shape[1]):
        out[f"top{k + 1}_id"] = classes[order[:, k]]
        out[f"top{k + 1}_label"] = [raw[c] for c in classes[order[:, k]]]
        out[f"top{k + 1}_confidence"] = np.round(scores.proba[np.arange(len(texts)), order[:, k]], 4)
    empty = np.array([not t.strip() for t in texts])
    ev = model.fit_evidence(scores)
    fits_none = ev.fits_none if ev is not None else None
    out["needs_review"] = needs_review(scores.top_confidence, fits_none, model.review_threshold) | empty
    out["fits_no_description"] = fits_none if fits_none is not None else False
    out["novelty_score"] = np.round(ev.score, 4) if ev is not None else np.nan
    if scores.sentiment is not None and model.sentiment_head is not None:
        out["sentiment_pred"] = np.asarray(model.sentiment_head.classes)[scores.sentiment.argmax(axis=1)]
        out["sentiment_confidence"] = np.round(scores.sentiment.max(axis=1), 4)
    # The descriptions that apply, in the training data's own cell format (`id:sentiment;id:sentiment`).
    decided = model.decisions(scores)
    per_desc = model.description_sentiments(
        scores.cleaned, [[d for d, _ in row] for row in decided], scores.sentiment
    )
    out["descriptions_pred"] = [
        format_labels([(d, s.label if (s := sents.get(d)) else None) for d, _ in row])
        for row, sents in zip(decided, per_desc, strict=True)
    ]
    out["descriptions_pred_labels"] = [  # JSON: a label may hold ';' itself
        json.dumps([raw[d] for d, _ in row], ensure_ascii=False) for row in decided
    ]
    return out


class _Writer:
    """Appends chunks to CSV, JSONL or Parquet without holding the whole output."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.fmt = FORMATS.get(path.suffix.lower())
        if self.fmt is None:
            raise DataError(f"{path}: unknown output type '{path.suffix}', use .csv, .jsonl or .parquet")
        self.first = True
        self.parquet: Any = None

    def write(self, frame: pd.DataFrame) -> None:
        if self.fmt == "csv":
            frame.to_csv(self.path, mode="w" if self.first else "a", header=self.first, index=False)
        elif self.fmt == "jsonl":
            with self.path.open("w" if self.first else "a", encoding="utf-8") as fh:
                for rec in frame.to_dict(orient="records"):
                    fh.write(json.dumps(rec, ensure_ascii=False, default=str) + "\n")
        else:
            import pyarrow as pa
            import pyarrow.parquet as pq

            table = pa.Table.from_pandas(frame, preserve_index=False)
            if self.parquet is None:
                self.parquet = pq.ParquetWriter(self.path, table.schema)
            self.parquet.write_table(table.cast(self.parquet.schema))
        self.first = False

    def close(self) -> None:
        if self.parquet is not None:
            self.parquet.close()


def predict_file(
    model: ContactModel,
    data: Path,
    out: Path,
    text_col: str = "text",
    top_k: int = 3,
    chunk_size: int = 2048,
    threads: int | None = None,
) -> int:
    """Score `data` chunk by chunk into `out`; returns the number of rows written.

    Each chunk is cut into parts of `PART_ROWS` rows that `threads` threads (default: one per core) score at
    once, written back in order, with at most two parts a thread in hand. A part's encoder work releases the
    GIL, so one thread's cleaning, TF-IDF and heads run beside another's encoder instead of leaving a core
    idle between encoder batches. Load the model with one encoder thread (`pipeline.load_for_predict`): the
    threads are the parallelism.
    """
    threads = threads or os.cpu_count() or 1
    writer = _Writer(out)
    n = 0
    try:
        with (
            tqdm(desc="scoring", unit="row", disable=None) as bar,
            ThreadPoolExecutor(threads, thread_name_prefix="predict") as pool,
        ):
            pending: deque[Future[pd.DataFrame]] = deque()

            def write_done(keep: int) -> None:
                nonlocal n
                while len(pending) > keep:
                    frame = pending.popleft().result()
                    writer.write(frame)
                    n += len(frame)
                    bar.update(len(frame))

            try:
                for chunk in iter_raw_chunks(data, text_col, chunk_size):
                    for start in range(0, len(chunk), PART_ROWS):
                        part = chunk.iloc[start : start + PART_ROWS]
                        pending.append(pool.submit(score_chunk, model, part, text_col, top_k))
                        write_done(2 * threads)
                write_done(0)
            finally:
                for future in pending:  # an error: parts not started are dropped
                    future.cancel()
    finally:
        writer.close()
    if n == 0:
        raise DataError(f"{data}: no rows to score")
    return n
