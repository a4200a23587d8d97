"""Dynamic micro-batching: concurrent calls gathered into one model call, the answers fanned out.

A request awaits `MicroBatcher.submit(item)`; one worker task takes the first item waiting and whatever else
is already queued (up to `max_batch`), runs `process(items)` once in its own thread, and resolves each
caller's future with its answer. With no concurrency a call is processed at once, alone (no wait is added);
under load the requests that arrive while a batch runs form the next batch, so throughput grows with
concurrency instead of queueing one model call per request. `max_wait_ms` (default 0) additionally holds a
batch that already has company for up to that long to gather more.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Generic, TypeVar

from service.threads import name_os_thread

log = logging.getLogger(__name__)
Item = TypeVar("Item")
Answer = TypeVar("Answer")


class MicroBatcher(Generic[Item, Answer]):
    """Gathers items submitted concurrently into batches for `process` (which returns one answer per item).

    `process` runs in a dedicated thread (one batch at a time per worker), off the event loop. An exception it
    raises is given to every caller of that batch. Bound to the event loop it first runs in; a new loop (a new
    test client, say) gets a fresh queue and worker.
    """

    def __init__(
        self,
        process: Callable[[list[Item]], Sequence[Answer]],
        max_batch: int = 32,
        max_wait_ms: float = 0.0,
        workers: int = 1,
        on_batch: Callable[[int], None] | None = None,
    ) -> None:
        if max_batch < 1 or workers < 1 or max_wait_ms < 0:
            raise ValueError("max_batch and workers must be at least 1 and max_wait_ms at least 0")
        self._process = process
        self.max_batch = max_batch
        self._max_wait = max_wait_ms / 1000
        self._workers = workers
        self._on_batch = on_batch
        self._queue: asyncio.Queue[tuple[Item, asyncio.Future[Answer]]] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._executor: ThreadPoolExecutor | None = None

    async def submit(self, item: Item) -> Answer:
        """Queue one item and wait for its answer."""
        queue = self._ensure_started()
        future: asyncio.Future[Answer] = asyncio.get_running_loop().create_future()
        queue.put_nowait((item, future))
        return await future

    def _ensure_started(self) -> asyncio.Queue[tuple[Item, asyncio.Future[Answer]]]:
        loop = asyncio.get_running_loop()
        if self._queue is None or self._loop is not loop:
            self._abandon()
            self._loop = loop
            self._queue = asyncio.Queue()
            self._executor = ThreadPoolExecutor(
                self._workers, thread_name_prefix="suggest-batch", initializer=name_os_thread
            )
            self._tasks = [loop.create_task(self._worker()) for _ in range(self._workers)]
        return self._queue

    def _abandon(self) -> None:
        """Forget a worker bound to another (closed or closing) loop."""
        for task in self._tasks:
            if not task.done() and task.get_loop().is_running():
                task.get_loop().call_soon_threadsafe(task.cancel)
        self._tasks = []
        if self._executor is not None:
            self._executor.shutdown(wait=False)
            self._executor = None

    async def close(self) -> None:
        """Stop the workers after the batches in hand; callers still queued get a cancelled future. Workers
        bound to another loop (the last requests came through another client's loop, as schemathesis's ASGI
        calls do) are abandoned as a new loop would abandon them, not awaited across loops."""
        if self._loop is not None and self._loop is not asyncio.get_running_loop():
            other, queue = self._loop, self._queue
            self._abandon()
            if queue is not None and other.is_running():  # its callers, if any, are told from their loop
                while not queue.empty():
                    other.call_soon_threadsafe(queue.get_nowait()[1].cancel)
            self._queue = None
            self._loop = None
            return
        tasks, self._tasks = self._tasks, []
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self._queue is not None:
            while not self._queue.empty():
                _, future = self._queue.get_nowait()
                future.cancel()
        if self._executor is not None:
            self._executor.shutdown(wait=True)
            self._executor = None
        self._queue = None
        self._loop = None

    async def _gather(self) -> list[tuple[Item, asyncio.Future[Answer]]]:
        assert self._queue is not None
        queue = self._queue
        batch = [await queue.get()]
        while len(batch) < self.max_batch and not queue.empty():
            batch.append(queue.get_nowait())
        if self._max_wait > 0 and len(batch) > 1:  # company now: likely more on the way
            deadline = time.perf_counter() + self._max_wait
            while len(batch) < self.max_batch:
                left = deadline - time.perf_counter()
                if left <= 0:
                    break
                try:
                    batch.append(await asyncio.wait_for(queue.get(), left))
                except TimeoutError:
                    break
        return batch

    async def _worker(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            batch = await self._gather()
            live = [(item, future) for item, future in batch if not future.done()]  # callers that left
            if not live:
                continue
            if self._on_batch is not None:
                self._on_batch(len(live))
            items = [item for item, _ in live]
            try:
                answers = await loop.run_in_executor(self._executor, self._process, items)
                if len(answers) != len(items):
                    raise RuntimeError(f"batch of {len(items)} got {len(answers)} answers")
            except asyncio.CancelledError:
                for _, future in live:
                    if not future.done():
                        future.cancel()
                raise
            except Exception as exc:  # every caller of the batch gets the error, the worker goes on
                for _, future in live:
                    if not future.done():
                        future.set_exception(exc)
                continue
            for (_, future), answer in zip(live, answers, strict=True):
                if not future.done():
                    future.set_result(answer)


__all__ = ["MicroBatcher"]
