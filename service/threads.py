"""The service's own threads named for the operating system as well (Linux), so that `top -H`, `ps -L` and
`/proc/PID/task/*/comm` tell the suggest batch threads and the suggestion-log writer from the event loop's
thread; `benchmarks/service.py` reads each one's CPU time there. (Python names threads for itself only.)"""

from __future__ import annotations

import ctypes
import functools
import sys
import threading
from typing import Any

_PR_SET_NAME = 15  # linux/prctl.h
_OS_NAME_BYTES = 15  # the kernel keeps 16 bytes, the last a NUL


@functools.cache
def _libc() -> Any:
    return ctypes.CDLL(None, use_errno=True)


def name_os_thread(name: str | None = None) -> None:
    """Give the calling thread's OS thread `name` (default: its Python name), cut to 15 bytes. Does nothing
    off Linux or where the C library has no `prctl`: a name is a convenience, never worth a failure."""
    if not sys.platform.startswith("linux"):
        return
    raw = (name or threading.current_thread().name).encode("utf-8", "replace")[:_OS_NAME_BYTES]
    try:
        _libc().prctl(_PR_SET_NAME, ctypes.c_char_p(raw), 0, 0, 0)
    except Exception:  # it runs as the batch threads' pool initializer: an error there would break the pool
        return


__all__ = ["name_os_thread"]
