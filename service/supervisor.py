"""`contactlens serve --workers N` on Linux: N uvicorn processes, each listening on its own socket.

uvicorn's own supervisor hands every worker one listening socket, and whichever worker wakes first accepts the
next connection. Logging UIs keep their connections alive, so a few busy connections can end up on one worker
while the other idles (2 cores, concurrency 8, in turn: 233, 279 and 419 requests/s, against 329-380 for one
process; benchmarks/workers.py). Here each worker binds its own socket with `SO_REUSEPORT`, and the kernel
spreads new connections over the workers' sockets (381, 439 and 424 requests/s in the same rounds). A worker's
socket listens only once its app has started, so no connection waits on a worker still loading its model.

The parent holds no listening socket: when a worker dies its socket goes with it (a connection that reaches it
as it dies is reset: seen up to 50 ms after the exit), the kernel sends new connections to the others, and the
supervisor starts a replacement (after a growing wait when it died soon after its start). `SO_REUSEPORT` would
also let a second `serve` on the same port join in silently, so `claim` holds a lock named after the address
(an abstract Unix socket, released by the kernel however the process ends): a second one stops with an error,
as on a port another program holds.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import logging.config
import multiprocessing
import os
import signal
import socket
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from contactlens.errors import ContactLensError

log = logging.getLogger("uvicorn.error")
STARTUP_FAILURE = 3  # uvicorn's exit code for a worker that could not start (uvicorn.config.STARTUP_FAILURE)
STOP_GRACE_S = 30.0  # a worker still running this long after SIGTERM is killed
# A worker that dies within QUICK_DEATH_S of its start is replaced after a wait that doubles each time, from
# FIRST_RETRY_S up to MAX_RETRY_S: a worker crashing on every start (out of memory on its first requests, say)
# would otherwise reload its model every half second, taking a core from the workers that serve.
QUICK_DEATH_S = 30.0
FIRST_RETRY_S = 1.0
MAX_RETRY_S = 60.0


def supported() -> bool:
    """Whether the kernel spreads connections over sockets that share a port (Linux)."""
    return sys.platform.startswith("linux") and hasattr(socket, "SO_REUSEPORT")


def bound_socket(host: str, port: int) -> socket.socket:
    """A TCP socket bound to (host, port) with SO_REUSEPORT, not yet listening: uvicorn listens on it once
    its app has started, so no connection is sent to a worker still loading its model."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind((host, port))
    except BaseException:
        sock.close()
        raise
    return sock


@contextlib.contextmanager
def claim(host: str, port: int) -> Iterator[None]:
    """Hold the address for one supervisor: refused when another `serve --workers` holds it (a lock named
    after the address, an abstract Unix socket the kernel releases however the process ends) or another
    program listens there. Taken before anything else is prepared, so a refused start changes nothing."""
    lock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        try:
            lock.bind(f"\0contactlens-serve:{host}:{port}")
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise ContactLensError(
                    f"another `contactlens serve --workers` is already listening on {host}:{port}; "
                    "stop it or choose another --port"
                ) from None
            raise
        try:
            bound_socket(host, port).close()
        except OSError as exc:
            raise ContactLensError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
        yield
    finally:
        lock.close()


def _worker(host: str, port: int, config: dict[str, Any]) -> None:  # pragma: no cover (a child process)
    """One worker process: its own socket, then uvicorn on it."""
    import uvicorn

    try:
        sock = bound_socket(host, port)
    except OSError as exc:
        print(f"cannot listen on {host}:{port}: {exc}", file=sys.stderr)
        sys.exit(STARTUP_FAILURE)
    server = uvicorn.Server(uvicorn.Config(host=host, port=port, **config))
    server.run(sockets=[sock])
    if not server.started:
        sys.exit(STARTUP_FAILURE)


@dataclass
class _Slot:
    """One worker's place: its process, when that started, and the wait before another after a quick death."""

    process: Any
    started: float
    retry_s: float = 0.0  # the last wait after a quick death (0: none since the last worker that served)
    restart_at: float | None = None  # waiting to start another: when


class Supervisor:
    """Starts `workers` processes, replaces any that dies, and stops them all on SIGINT or SIGTERM."""

    def __init__(self, workers: int, host: str, port: int, config: dict[str, Any]) -> None:
        self.workers = workers
        self.host = host
        self.port = port
        self.config = config  # uvicorn.Config's keyword arguments (app, factory, log_config ...)
        self._context = multiprocessing.get_context("spawn")  # no threads or loops copied from the parent
        self._stop = threading.Event()
        self._failed = False
        self.slots: list[_Slot] = []

    def _start(self) -> Any:
        process = self._context.Process(
            target=_worker, args=(self.host, self.port, self.config), name="contactlens-worker"
        )
        process.start()
        log.info("Started worker process [%s]", process.pid)
        return process

    def _on_signal(self, signum: int, _frame: Any) -> None:
        log.info("Received %s, stopping the workers", signal.Signals(signum).name)
        self._stop.set()

    def run(self) -> None:
        """Serve until a stop signal; raises ContactLensError when a worker cannot start. Call it within
        `claim(host, port)`."""
        if isinstance(self.config.get("log_config"), dict):  # the parent logs as its workers do
            logging.config.dictConfig(self.config["log_config"])
        previous = {s: signal.signal(s, self._on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
        try:
            log.info(
                "Listening on http://%s:%d with %d workers, each on its own socket (SO_REUSEPORT)",
                self.host,
                self.port,
                self.workers,
            )
            self._start_slots()
            while not self._stop.wait(0.5):
                self._replace_dead()
        finally:
            self._stop_all()
            for s, handler in previous.items():
                signal.signal(s, handler)
        if self._failed:
            raise ContactLensError("a worker could not start (its error is above); nothing is being served")

    def _start_slots(self) -> None:
        self.slots = [_Slot(self._start(), time.monotonic()) for _ in range(self.workers)]

    def _replace_dead(self) -> None:
        now = time.monotonic()
        for slot in self.slots:
            if slot.restart_at is not None:  # waiting after a quick death
                if now >= slot.restart_at:
                    slot.restart_at = None
                    slot.process, slot.started = self._start(), now
                continue
            process = slot.process
            if process.is_alive():
                continue
            process.join()
            if process.exitcode == STARTUP_FAILURE:
                log.error("Worker process [%s] could not start: stopping", process.pid)
                self._failed = True
                self._stop.set()
                return
            _forget_metrics(process.pid)
            lived = now - slot.started
            if lived >= QUICK_DEATH_S:  # it had served a while: another at once
                slot.retry_s = 0.0
                code = process.exitcode
                log.warning("Worker process [%s] ended (exit code %s): starting another", process.pid, code)
                slot.process, slot.started = self._start(), now
                continue
            slot.retry_s = min(MAX_RETRY_S, max(FIRST_RETRY_S, 2 * slot.retry_s))
            slot.restart_at = now + slot.retry_s
            log.warning(
                "Worker process [%s] ended (exit code %s) %.1f s after it started: starting another in %g s",
                process.pid,
                process.exitcode,
                lived,
                slot.retry_s,
            )

    def _stop_all(self) -> None:
        processes = [slot.process for slot in self.slots]
        for process in processes:
            if process.is_alive() and process.pid is not None:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(process.pid, signal.SIGTERM)  # uvicorn finishes the requests in hand
        deadline = time.monotonic() + STOP_GRACE_S
        for process in processes:
            process.join(max(0.0, deadline - time.monotonic()))
            if process.is_alive():
                log.warning("Worker process [%s] did not stop in %g s: killing it", process.pid, STOP_GRACE_S)
                process.kill()
                process.join()


def _forget_metrics(pid: int | None) -> None:
    """A dead worker's live gauges leave /metrics (Prometheus multiprocess mode); its counters stay summed."""
    if pid is None or not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        return
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(pid)
