"""Bytes a Dask scheduler running in its own process receives, counted at its sockets.

``/proc/<pid>/io`` does not count socket reads made with ``recv_into`` (Tornado's way), so
the count is taken inside the scheduler: every ``socket.recv_into`` there adds what it read.
Install it with ``client.run_on_scheduler(count_received)``, read it with
``client.run_on_scheduler(received)`` (the functions travel by value: the scheduler need not
import this module, and the count lives on ``socket.socket``, not in a module global). Meant for
a scheduler process of its own: in a process shared with a client it would count the client's
reads too.
"""

from __future__ import annotations

import socket
from typing import Any


def count_received() -> None:
    """Start counting (once per process): wrap ``socket.socket.recv_into``."""
    if hasattr(socket.socket.recv_into, "received"):
        return
    original = socket.socket.recv_into
    total = [0]

    def recv_into(self: socket.socket, buffer: Any, *args: Any) -> int:
        n = original(self, buffer, *args)
        total[0] += n
        return n

    recv_into.received = total  # type: ignore[attr-defined]
    socket.socket.recv_into = recv_into  # type: ignore[method-assign]


def received() -> int:
    """Bytes received since :func:`count_received`."""
    return int(socket.socket.recv_into.received[0])  # type: ignore[attr-defined]
