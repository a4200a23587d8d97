"""The service's threads carry their names to the OS (`service.threads`), where `top -H` and the benchmark
read them."""

from __future__ import annotations

import asyncio
import sys
import threading
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="OS thread names: Linux only")


def _os_name(native_id: int) -> str:
    return Path(f"/proc/self/task/{native_id}/comm").read_text().strip()


def test_a_thread_takes_its_python_name_cut_to_fifteen_bytes() -> None:
    from service.threads import name_os_thread

    seen: dict[str, str] = {}

    def run() -> None:
        assert _os_name(threading.get_native_id()) != "a-long-thread-name-here"[:15]
        name_os_thread()
        seen["own"] = _os_name(threading.get_native_id())
        name_os_thread("writer")
        seen["given"] = _os_name(threading.get_native_id())

    t = threading.Thread(target=run, name="a-long-thread-name-here")
    t.start()
    t.join()
    assert seen == {"own": "a-long-thread-n", "given": "writer"}


def test_batch_threads_are_named() -> None:
    from service.batcher import MicroBatcher

    names: list[str] = []
    batcher: MicroBatcher[int, int] = MicroBatcher(
        lambda items: names.append(_os_name(threading.get_native_id())) or items
    )

    async def go() -> None:
        assert await batcher.submit(1) == 1
        await batcher.close()

    asyncio.run(go())
    assert names == ["suggest-batch_0"]
    # The suggestion-log writer's name: tests/unit/test_batcher.py, beside the writer's other tests.


def test_a_failing_name_never_breaks_the_thread(monkeypatch) -> None:
    from service import threads
    from service.batcher import MicroBatcher

    def broken() -> object:
        raise RuntimeError("no prctl here")

    monkeypatch.setattr(threads, "_libc", broken)
    threads.name_os_thread("anything")  # no error
    batcher: MicroBatcher[int, int] = MicroBatcher(lambda items: [i * 2 for i in items])

    async def go() -> int:
        try:
            return await batcher.submit(21)
        finally:
            await batcher.close()

    assert asyncio.run(go()) == 42  # the pool's initializer failed quietly; the batch was answered
