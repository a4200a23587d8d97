"""Write-behind for suggestion logs: the typing path hands its rows over and answers; a thread inserts them.

Suggestion logs are the model's answers (for acceptance reports and drift), not customer records: contacts are
still written before their 201. The queue is bounded; when it is full (the database is slow or down) a row is
dropped and counted (`contactlens_suggestion_log_dropped`), never waited for. Rows are inserted in batches
(one INSERT for up to `batch` rows), gathered for up to `linger_ms` after the first: at low rates each row
would otherwise be a transaction of its own, 0.4-0.7 ms of CPU taken from the cores that answer suggest
calls. `flush()` waits until every row handed over so far is written (the
contacts route calls it before looking up a suggestion id it does not find); `close()` drains the queue at
shutdown.

A suggestion id whose row was dropped is remembered (the last few thousand) so that logging a contact with it
stores the contact without the link instead of refusing an id the service itself gave out.
"""

from __future__ import annotations

import collections
import logging
import queue
import threading
from collections.abc import Callable
from typing import Any

from sqlalchemy import insert
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import sessionmaker

from contactlens.store import UNAVAILABLE, Suggestion, classify_error, short_error
from service.threads import name_os_thread

log = logging.getLogger(__name__)
_STOP = object()
_REMEMBER_DROPPED = 10_000


class SuggestionLog:
    """A bounded queue of suggestion rows and the thread that inserts them."""

    def __init__(
        self,
        sessions: Callable[[], sessionmaker],
        metrics: Any,
        maxsize: int = 10_000,
        batch: int = 500,
        linger_ms: float = 0.0,
    ) -> None:
        """`sessions` gives the session factory at each write (the app's may be replaced while it runs);
        `linger_ms`: how long a first row waits for company before it is written (`flush` and `close` cut the
        wait short)."""
        if maxsize < 1 or batch < 1 or linger_ms < 0:
            raise ValueError("maxsize and batch must be at least 1 and linger_ms at least 0")
        self._sessions = sessions
        self._metrics = metrics
        self._batch = batch
        self._linger = linger_ms / 1000
        self._urgent = threading.Event()  # set by flush and close: write what is queued now
        self.healthy = True  # the last write succeeded
        self._queue: queue.Queue[Any] = queue.Queue(maxsize)
        self._dropped: collections.OrderedDict[str, None] = collections.OrderedDict()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name="suggestion-log", daemon=True)
        self._thread.start()

    def put(self, rows: list[dict[str, Any]]) -> bool:
        """Hand rows over without waiting; a row that finds the queue full is dropped and counted.

        Returns False when they may well not be stored (the queue is full, or the last write failed): the
        caller then gives out no suggestion id, as when an inline insert fails.
        """
        ok = self.healthy
        for row in rows:
            try:
                self._queue.put_nowait(row)
            except queue.Full:
                self._drop([row], "the write-behind queue is full")
                ok = False
        return ok

    def flush(self, timeout: float = 5.0) -> bool:
        """Wait until every row handed over before this call is written (or dropped). False on timeout."""
        done = threading.Event()
        try:
            self._queue.put(done, timeout=timeout)
        except queue.Full:
            return False
        self._urgent.set()
        return done.wait(timeout)

    def was_dropped(self, suggestion_id: str) -> bool:
        """Whether this id's row was dropped (within the last few thousand drops)."""
        with self._lock:
            return suggestion_id in self._dropped

    @property
    def pending(self) -> int:
        return self._queue.qsize()

    def close(self, timeout: float = 10.0) -> None:
        """Write what is queued, then stop the thread."""
        try:
            self._queue.put(_STOP, timeout=timeout)
        except queue.Full:
            log.error("suggestion log: could not drain the queue within %.0f s", timeout)
            return
        self._urgent.set()
        self._thread.join(timeout)

    def _drop(self, rows: list[dict[str, Any]], why: str) -> None:
        self._metrics.suggestion_log_dropped.inc(len(rows))
        with self._lock:
            for row in rows:
                self._dropped[row["id"]] = None
            while len(self._dropped) > _REMEMBER_DROPPED:
                self._dropped.popitem(last=False)
        log.error("suggestion log: %d row(s) not stored (%s)", len(rows), why)

    def _run(self) -> None:
        name_os_thread()
        while True:
            first = self._queue.get()
            if self._linger and isinstance(first, dict):
                # Rows come one per answer at low rates: gather them for a moment. Set before or during the
                # wait, `_urgent` ends it at once; cleared before the queue is drained below, so a flush
                # whose marker is queued after this drain sets it again for the next round.
                self._urgent.wait(self._linger)
                self._urgent.clear()
            items = [first]
            while len(items) < self._batch:
                try:
                    items.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            rows = [i for i in items if isinstance(i, dict)]
            if rows:
                self._write(rows)
            for item in items:
                if isinstance(item, threading.Event):
                    item.set()
            if any(item is _STOP for item in items):
                return

    def _write(self, rows: list[dict[str, Any]]) -> None:
        try:
            with self._sessions().begin() as session:
                session.execute(insert(Suggestion), rows)
            self.healthy = True
        except SQLAlchemyError as exc:
            kind = classify_error(exc)
            self.healthy = kind != UNAVAILABLE
            if kind == UNAVAILABLE:  # only an outage counts as one (locks and data errors are not)
                self._metrics.db_errors.inc()
            self._drop(rows, f"database {kind}: {short_error(exc)}")
