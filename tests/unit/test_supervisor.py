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
