"""The micro-batcher and the write-behind suggestion log, without a model (fast)."""

from __future__ import annotations

import asyncio
import sys
import threading
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
from prometheus_client import CollectorRegistry, Counter

from service.batcher import MicroBatcher


def _recording(delay: float = 0.0):
    batches: list[list[int]] = []

    def process(items: list[int]) -> list[int]:
        batches.append(list(items))
        time.sleep(delay)
        return [i * 10 for i in items]

    return batches, process


def test_a_lone_call_is_answered_alone_and_at_once() -> None:
    batches, process = _recording()

    async def run() -> list[int]:
        batcher = MicroBatcher(process, max_batch=8, max_wait_ms=0)
        out = [await batcher.submit(i) for i in range(3)]
        await batcher.close()
        return out

    assert asyncio.run(run()) == [0, 10, 20]
    assert batches == [[0], [1], [2]]


def test_concurrent_calls_share_a_model_call_and_get_their_own_answers() -> None:
    batches, process = _recording(delay=0.05)

    async def run() -> list[int]:
        batcher = MicroBatcher(process, max_batch=4)
        out = await asyncio.gather(*(batcher.submit(i) for i in range(10)))
        await batcher.close()
        return list(out)

    assert asyncio.run(run()) == [i * 10 for i in range(10)]
    # all ten were queued before the worker ran: batches of at most 4, in arrival order
    assert batches == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
    assert sorted(i for b in batches for i in b) == list(range(10))


def test_max_wait_gathers_more_once_a_batch_has_company() -> None:
    batches, process = _recording()

    async def run() -> None:
        batcher = MicroBatcher(process, max_batch=16, max_wait_ms=200)

        async def late(i: int) -> int:
            await asyncio.sleep(0.02)
            return await batcher.submit(i)

        await asyncio.gather(batcher.submit(0), batcher.submit(1), late(2))
        await batcher.close()

    asyncio.run(run())
    assert batches == [[0, 1, 2]]


def test_an_error_reaches_every_caller_of_its_batch_and_the_worker_goes_on() -> None:
    def process(items: list[int]) -> list[int]:
        if 3 in items:
            raise ValueError("bad batch")
        return items

    async def run() -> tuple[list[object], int]:
        batcher = MicroBatcher(process, max_batch=8)
        first = await asyncio.gather(*(batcher.submit(i) for i in (3, 4)), return_exceptions=True)
        after = await batcher.submit(5)
        await batcher.close()
        return list(first), after

    first, after = asyncio.run(run())
    assert isinstance(first[0], ValueError)
    assert after == 5


def test_a_wrong_number_of_answers_is_an_error_not_a_mix_up() -> None:
    async def run() -> None:
        batcher = MicroBatcher(lambda items: [1], max_batch=8)
        with pytest.raises(RuntimeError, match="got 1 answers"):
            await asyncio.gather(batcher.submit(1), batcher.submit(2))
        await batcher.close()

    asyncio.run(run())


def test_a_new_event_loop_gets_a_fresh_worker() -> None:
    batches, process = _recording()
    batcher = MicroBatcher(process)
    assert asyncio.run(batcher.submit(1)) == 10
    assert asyncio.run(batcher.submit(2)) == 20  # the first loop is closed: no hang


def test_closing_on_another_loop_abandons_the_old_worker_and_a_later_loop_gets_a_fresh_one() -> None:
    """The app's shutdown may run on another loop than the one its last requests came through, still running
    in its own thread (a test client beside schemathesis's ASGI calls): closing then neither fails nor hangs,
    the old loop's worker is cancelled, and the next loop gets a fresh worker."""
    batches, process = _recording()
    batcher = MicroBatcher(process)
    other = asyncio.new_event_loop()
    thread = threading.Thread(target=other.run_forever, daemon=True)
    thread.start()
    try:
        assert asyncio.run_coroutine_threadsafe(batcher.submit(1), other).result(5) == 10
        (old_worker,) = batcher._tasks
        asyncio.run(asyncio.wait_for(batcher.close(), 5))
        deadline = time.monotonic() + 5
        while not old_worker.done() and time.monotonic() < deadline:
            time.sleep(0.01)
        assert old_worker.cancelled()
    finally:
        other.call_soon_threadsafe(other.stop)
        thread.join(5)
        other.close()
    assert asyncio.run(batcher.submit(2)) == 20
    assert batches == [[1], [2]]


def test_bad_settings_are_refused() -> None:
    with pytest.raises(ValueError):
        MicroBatcher(lambda items: items, max_batch=0)


# ------------------------------------------------------------------------------------------- suggestion log


def _metrics() -> SimpleNamespace:
    registry = CollectorRegistry()
    return SimpleNamespace(
        suggestion_log_dropped=Counter("dropped", "d", registry=registry),
        db_errors=Counter("db_errors", "e", registry=registry),
        registry=registry,
    )


def _row(i: int) -> dict[str, object]:
    from contactlens.store import utcnow

    return {
        "id": f"s{i}",
        "created_at": utcnow(),
        "model_version": "m",
        "taxonomy_version": "t",
        "channel": None,
        "top1_id": "a",
        "top2_id": None,
        "top3_id": None,
        "top1_confidence": 0.9,
        "ranked": [{"id": "a", "confidence": 0.9}],
        "sentiment": None,
        "needs_review": False,
        "descriptions": None,
    }


def _stored(sessions) -> set[str]:
    from sqlalchemy import select

    from contactlens.store import Suggestion

    with sessions() as session:
        return set(session.scalars(select(Suggestion.id)))


@pytest.fixture
def sessions(tmp_path: Path):
    from contactlens.store import make_engine, session_factory, upgrade

    engine = make_engine(f"sqlite:///{tmp_path / 'log.db'}")
    upgrade(engine)
    yield session_factory(engine)
    engine.dispose()


def test_rows_are_written_behind_and_flush_waits_for_them(sessions) -> None:
    from service.suggestion_log import SuggestionLog

    writer = SuggestionLog(lambda: sessions, _metrics(), maxsize=100, batch=7)
    writer.put([_row(i) for i in range(20)])
    assert writer.flush()
    assert _stored(sessions) == {f"s{i}" for i in range(20)}
    writer.put([_row(99)])
    writer.close()  # drains what is queued
    assert "s99" in _stored(sessions)


def test_rows_arriving_one_by_one_share_an_insert_and_flush_cuts_the_wait_short(sessions) -> None:
    from service.suggestion_log import SuggestionLog

    writer = SuggestionLog(lambda: sessions, _metrics(), maxsize=100, linger_ms=10_000)
    batches: list[int] = []
    original = writer._write
    writer._write = lambda rows: (batches.append(len(rows)), original(rows))
    for i in range(5):  # one answer at a time, as at a low request rate
        writer.put([_row(i)])
        time.sleep(0.01)
    assert batches == []  # still gathering: a 10 s linger
    started = time.perf_counter()
    assert writer.flush()
    assert time.perf_counter() - started < 2.0  # the flush did not wait out the linger
    assert batches == [5]
    assert _stored(sessions) == {f"s{i}" for i in range(5)}
    writer.put([_row(9)])
    started = time.perf_counter()
    writer.close()  # nor does shutdown
    assert time.perf_counter() - started < 2.0
    assert batches == [5, 1] and "s9" in _stored(sessions)


def test_without_a_linger_a_lone_row_is_written_at_once(sessions) -> None:
    from service.suggestion_log import SuggestionLog

    with pytest.raises(ValueError):
        SuggestionLog(lambda: sessions, _metrics(), linger_ms=-1)
    writer = SuggestionLog(lambda: sessions, _metrics(), maxsize=100, linger_ms=0)
    writer.put([_row(1)])
    deadline = time.perf_counter() + 5
    while "s1" not in _stored(sessions) and time.perf_counter() < deadline:
        time.sleep(0.01)
    assert "s1" in _stored(sessions)
    writer.close()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="OS thread names: Linux only")
def test_the_writer_thread_is_named_for_the_os(sessions) -> None:
    from service.suggestion_log import SuggestionLog

    writer = SuggestionLog(lambda: sessions, _metrics())
    assert writer.flush()
    native = writer._thread.native_id
    assert native is not None
    assert Path(f"/proc/self/task/{native}/comm").read_text().strip() == "suggestion-log"
    writer.close()


def test_a_full_queue_drops_and_counts_rather_than_waits(sessions) -> None:
    from service.suggestion_log import SuggestionLog

    metrics = _metrics()
    gate = threading.Event()
    writer = SuggestionLog(lambda: sessions, metrics, maxsize=2)
    original = writer._write
    writer._write = lambda rows: (gate.wait(5), original(rows))  # the database is slow
    writer.put([_row(0)])
    time.sleep(0.05)  # the thread has taken row 0 and waits on the database
    started = time.perf_counter()
    writer.put([_row(i) for i in range(1, 6)])
    assert time.perf_counter() - started < 1.0
    assert metrics.registry.get_sample_value("dropped_total") == 3
    assert writer.was_dropped("s5") and not writer.was_dropped("s1")
    gate.set()
    writer.close()
    assert _stored(sessions) == {"s0", "s1", "s2"}


def test_a_database_failure_drops_the_batch_and_the_thread_goes_on(sessions) -> None:
    from service.suggestion_log import SuggestionLog

    metrics = _metrics()
    writer = SuggestionLog(lambda: sessions, metrics)
    writer.put([_row(1), _row(1)])  # the same id twice: the INSERT fails
    assert writer.flush()
    assert metrics.registry.get_sample_value("dropped_total") == 2
    # a conflict is not an outage: only a lost connection counts (contactlens.store.classify_error)
    assert metrics.registry.get_sample_value("db_errors_total") == 0
    writer.put([_row(2)])
    writer.close()
    assert _stored(sessions) == {"s2"}


def test_two_workers_answer_two_batches_at_once() -> None:
    threads: set[str] = set()
    running, most = [0], [0]
    lock = threading.Lock()

    def process(items: list[int]) -> list[int]:
        with lock:
            threads.add(threading.current_thread().name)
            running[0] += 1
            most[0] = max(most[0], running[0])
        time.sleep(0.1)
        with lock:
            running[0] -= 1
        return [i + 1 for i in items]

    async def run() -> list[int]:
        batcher = MicroBatcher(process, max_batch=2, workers=2)
        out = await asyncio.gather(*(batcher.submit(i) for i in range(8)))
        await batcher.close()
        return list(out)

    assert asyncio.run(run()) == [i + 1 for i in range(8)]
    assert most[0] == 2 and len(threads) == 2  # two batches in flight, on two threads
