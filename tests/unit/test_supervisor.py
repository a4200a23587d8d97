"""`serve --workers N`'s supervisor: each worker's own SO_REUSEPORT socket, and one supervisor per address."""

from __future__ import annotations

import socket

import pytest

from contactlens.errors import ContactLensError
from service import supervisor

pytestmark = pytest.mark.skipif(not supervisor.supported(), reason="SO_REUSEPORT spreading is Linux's")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_workers_sockets_share_the_port_and_take_no_connection_before_listening() -> None:
    port = _free_port()
    first, second = supervisor.bound_socket("127.0.0.1", port), supervisor.bound_socket("127.0.0.1", port)
    try:
        with pytest.raises(ConnectionRefusedError):  # bound, not listening: a worker still loading gets none
            socket.create_connection(("127.0.0.1", port), timeout=2).close()
        second.listen()
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
        conn, _ = second.accept()
        conn.close()
    finally:
        first.close()
        second.close()


def test_a_second_supervisor_on_the_same_address_is_refused() -> None:
    port = _free_port()
    taken = f"already listening on 127.0.0.1:{port}"
    first = supervisor.claim("127.0.0.1", port)
    with first, pytest.raises(ContactLensError, match=taken), supervisor.claim("127.0.0.1", port):
        pass
    with supervisor.claim("127.0.0.1", port):  # released when the first one ended
        pass


def test_a_port_another_program_listens_on_is_refused() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        refused = f"cannot listen on 127.0.0.1:{port}: Address already in use"
        with pytest.raises(ContactLensError, match=refused), supervisor.claim("127.0.0.1", port):
            pass


class _Process:
    """A stand-in for a worker process: alive until `die(code)`."""

    count = 0

    def __init__(self) -> None:
        _Process.count += 1
        self.pid = 10_000 + _Process.count
        self.exitcode: int | None = None

    def is_alive(self) -> bool:
        return self.exitcode is None

    def die(self, code: int = -9) -> None:
        self.exitcode = code

    def join(self, timeout: float | None = None) -> None:
        pass


def test_a_worker_dying_soon_after_each_start_is_replaced_ever_more_slowly(monkeypatch) -> None:
    """A worker that dies within QUICK_DEATH_S of its start waits 1, 2, 4 ... s (at most MAX_RETRY_S) before
    its replacement; one that had served a while is replaced at once, and the wait starts again from 1 s."""
    clock = [1000.0]
    monkeypatch.setattr(supervisor.time, "monotonic", lambda: clock[0])
    sup = supervisor.Supervisor(2, "127.0.0.1", 0, {})
    started: list[_Process] = []

    def start() -> _Process:
        started.append(_Process())
        return started[-1]

    monkeypatch.setattr(sup, "_start", start)
    sup._start_slots()

    def tick(seconds: float) -> None:
        clock[0] += seconds
        sup._replace_dead()

    waits = []
    for _ in range(8):  # slot 0 crashes 5 s after every start
        tick(5)
        sup.slots[0].process.die()
        before = len(started)
        tick(0)
        assert len(started) == before  # not at once
        waited = 0.0
        while len(started) == before:
            tick(0.5)
            waited += 0.5
            assert waited <= supervisor.MAX_RETRY_S
        waits.append(waited)
    assert waits == [1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 60.0, 60.0]
    assert sup.slots[1].process is started[1] and sup.slots[1].process.is_alive()  # the other slot untouched

    tick(supervisor.QUICK_DEATH_S)  # then it serves a while before dying: replaced at once
    sup.slots[0].process.die()
    before = len(started)
    tick(0)
    assert len(started) == before + 1 and sup.slots[0].process is started[-1]
    tick(5)  # and a quick death after that waits the first wait again
    sup.slots[0].process.die()
    tick(0)
    tick(0.5)
    assert len(started) == before + 1
    tick(0.5)
    assert len(started) == before + 2


def test_a_worker_that_cannot_start_stops_the_service(monkeypatch) -> None:
    sup = supervisor.Supervisor(1, "127.0.0.1", 0, {})
    monkeypatch.setattr(sup, "_start", _Process)
    sup._start_slots()
    monkeypatch.setattr(sup, "_start", lambda: pytest.fail("a worker that could not start was replaced"))
    sup.slots[0].process.die(supervisor.STARTUP_FAILURE)
    sup._replace_dead()
    assert sup._failed and sup._stop.is_set()
