"""The cost bound of one request: its size, its time, and nothing computed for a client that has left.

- `max_body_bytes` is FastAPI's `max_body_size`: a larger body is refused (413) before anything parses it.
- `check_request_chars` refuses a request whose verbatims add up to more than `max_request_chars` (413).
- `check_request_cost` refuses a batch whose scoring would cost more than `max_request_tokens` (413): the
  encoder's tokens (`ContactModel.scoring_cost`, an upper bound) plus `tokens_per_text` a text. A batch's CPU
  time follows its tokens, not its characters: 256 texts of 390 characters cost ten times 10 of 10,000.
- `score_in_chunks` scores a batch a chunk at a time; between chunks it stops when the client has
  disconnected (nothing is stored for it) or the request's time budget is spent (503).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import time
from collections.abc import Callable
from typing import Any, TypeVar

import anyio.from_thread
from fastapi import HTTPException, Request

from contactlens.model import ContactModel
from contactlens.settings import Settings

log = logging.getLogger(__name__)
T = TypeVar("T")
CHUNK = 16  # texts scored between two checks: a chunk of 10,000-character texts is well under a second
_BODY_OVERHEAD = 65_536  # the JSON around the texts
_TRIM_AFTER_CHARS = 5_000  # a batch this long leaves tens of MB in glibc's arenas (one per thread)


def max_body_bytes(settings: Settings) -> int:
    """The largest request body accepted: 8 bytes per allowed character (JSON escapes) plus 64 KiB."""
    return 8 * settings.max_request_chars + _BODY_OVERHEAD


def check_request_chars(texts: list[str], settings: Settings) -> None:
    """413 when a request's verbatims add up to more than `settings.max_request_chars`."""
    total = sum(len(t) for t in texts)
    if total > settings.max_request_chars:
        raise HTTPException(
            413,
            f"the texts hold {total} characters in all, at most {settings.max_request_chars} are allowed "
            "per request: split the batch",
        )


def request_cost(model: ContactModel, texts: list[str], settings: Settings) -> int:
    """What scoring `texts` costs, in encoder tokens: the model's upper bound plus a constant per text."""
    return sum(model.scoring_cost(texts)) + settings.tokens_per_text * len(texts)


def check_request_cost(model: ContactModel, texts: list[str], settings: Settings) -> None:
    """413 when a batch would cost more than `settings.max_request_tokens`. A single text is never refused
    here: `max_text_chars` bounds it, and the typing path stays as it was."""
    if len(texts) <= 1:
        return
    cost, limit = request_cost(model, texts, settings), settings.max_request_tokens
    if cost > limit:
        parts = -(-cost // limit)
        window, per_text = model.encoder.max_seq_length, settings.tokens_per_text
        raise HTTPException(
            413,
            f"the texts would cost up to {cost} encoder tokens to score (each text's tokens up to {window}, "
            f"all of them again for its clauses, plus {per_text}), at most {limit} are allowed per request: "
            f"split the batch into {parts} or more requests, or send shorter texts",
        )


class ClientGone(HTTPException):
    """The client disconnected: stop, store nothing. The answer (499, nginx's convention) reaches nobody."""

    def __init__(self) -> None:
        super().__init__(499, "the client closed the request")


def score_in_chunks(
    request: Request, settings: Settings, texts: list[str], score: Callable[[list[str]], list[T]]
) -> list[T]:
    """`score(texts)` a chunk at a time (called from the threadpool), checking between chunks and after the
    last that the client is still there and the request is within its time budget."""
    if len(texts) <= 1:  # a single text is bounded by max_text_chars: no check on the typing path
        return score(texts)
    started, chars = time.monotonic(), sum(len(t) for t in texts)
    out: list[T] = []
    for i in range(0, len(texts), CHUNK):
        out += score(texts[i : i + CHUNK])
        if anyio.from_thread.run(request.is_disconnected):
            log.warning("client left %s after %d of %d texts", request.url.path, len(out), len(texts))
            raise ClientGone()
        spent = time.monotonic() - started
        if spent > settings.request_time_budget_seconds and len(out) < len(texts):
            log.warning("%s over time budget after %d of %d texts", request.url.path, len(out), len(texts))
            raise HTTPException(
                503,
                f"the request ran over its time budget ({settings.request_time_budget_seconds:g} s) after "
                f"{len(out)} of {len(texts)} texts: send fewer or shorter texts",
                headers={"Retry-After": "1"},
            )
    if chars > _TRIM_AFTER_CHARS:  # give the batch's freed memory back (malloc_trim takes a few ms)
        release_memory()
    return out


_libc: Any = None


def release_memory() -> None:
    """Hand freed heap back to the system (glibc keeps it in its arenas otherwise); a no-op elsewhere."""
    global _libc
    if _libc is None:
        name = ctypes.util.find_library("c")
        _libc = ctypes.CDLL(name) if name else False
    if _libc and hasattr(_libc, "malloc_trim"):
        _libc.malloc_trim(0)
