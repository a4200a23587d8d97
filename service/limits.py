"""The cost bound of one request: its size, its time, and nothing computed for a client that has left.

- `max_body_bytes` is FastAPI's `max_body_size`: a larger body is refused (413) before anything parses it.
- `check_request_chars` refuses a request whose verbatims add up to more than `max_request_chars` (413).
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

from contactlens.settings import Settings

log = logging.getLogger(__name__)
T = TypeVar("T")
CHUNK = 16  # texts scored between two checks: a chunk of 10,000-character texts is well under a second
_BODY_OVERHEAD = 65_536  # the JSON around the texts
_TRIM_AFTER_CHARS = 50_000


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
    if chars > _TRIM_AFTER_CHARS:  # a big batch leaves its tensors' memory in glibc's arenas: give it back
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
