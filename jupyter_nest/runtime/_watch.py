"""What the kernel shows while its main thread waits on futures: a hook the view fills in.

The runtime cannot import the view (it sits above it), so the package's facade registers
the view's progress bars here as a watcher: a function of the client and the awaited futures
that returns a context manager around the wait.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, ExitStack, contextmanager, nullcontext
from typing import Any

from distributed import Future

from .. import _dask

Watcher = Callable[[Any, list[Future]], AbstractContextManager[object]]

_watchers: list[Watcher] = []
_inside = threading.local()


def watch_waits(watcher: Watcher) -> None:
    """Call ``watcher(client, futures)`` around every wait of the kernel's main thread on futures.

    A watcher registered twice runs once. Waits inside tasks, in other threads, and the waits
    a watcher makes itself are not watched.

    Examples
    --------
    >>> from contextlib import nullcontext
    >>> def log_waits(client, futures):
    ...     print("waiting on", len(futures))
    ...     return nullcontext()
    >>> watch_waits(log_waits)  # doctest: +SKIP
    """
    if watcher not in _watchers:
        _watchers.append(watcher)


@contextmanager
def _all(client: Any, futures: list[Future]) -> Iterator[None]:
    # Waits the watchers make themselves (a bar reading the task tree) are not watched.
    _inside.active = True
    try:
        with ExitStack() as stack:
            for watcher in _watchers:
                stack.enter_context(watcher(client, futures))
            yield
    finally:
        _inside.active = False


def watched(client: Any, futures: list[Future] | None) -> AbstractContextManager[object]:
    """The watchers around a wait on ``futures``: only a main-thread wait outside tasks, never one inside another."""
    if (not _watchers or not futures or _dask.in_task() or getattr(_inside, "active", False)
            or threading.current_thread() is not threading.main_thread()):
        return nullcontext()
    return _all(client, futures)
