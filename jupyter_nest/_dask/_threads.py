"""What a thread is doing on a Dask worker: the task it runs, and whether it holds a slot of the pool."""

from __future__ import annotations

import gc
import sys
import threading
from types import FrameType
from typing import Any

from distributed.threadpoolexecutor import thread_state as _pool_state
from distributed.worker import thread_state as _task_state


def task_key() -> Any:
    """The key of the task this thread runs on a worker (seceded or not), or ``None``."""
    return _task_state.__dict__.get("key")


def in_task() -> bool:
    """True in a thread that runs a task on a worker, seceded or not."""
    return task_key() is not None


def in_pool_thread() -> bool:
    """True in a task that holds one of its worker's thread-pool slots (has not seceded)."""
    executor = getattr(_pool_state, "executor", None)
    return (
        task_key() is not None
        and executor is not None
        and threading.current_thread() in executor._threads
    )


def pool_thread_idents(worker: Any) -> set[int]:
    """The thread idents of the worker's thread pools: the threads that hold slots."""
    # list() copies in one step: the pool's threads come and go while this runs on the event loop
    return {t.ident for ex in list(worker.executors.values()) for t in list(getattr(ex, "_threads", ())) if t.ident}


def task_threads(worker: Any) -> dict[Any, int]:
    """Task key -> ident of the thread running it, for every task running on ``worker``."""
    # list() copies in one step: task threads add and remove themselves while this runs on the event loop
    # (the monitor's tick raised "dictionary changed size during iteration")
    return {key: ident for ident, key in list(worker.active_threads.items())}


def current_frames() -> dict[int, FrameType]:
    """``sys._current_frames()``, with the garbage collector paused while it runs.

    On CPython 3.11 a collection starting inside it (it makes frame objects) runs callbacks that can
    hand the GIL to another thread while it holds the interpreter's list of threads; a thread starting
    or ending then waits for that list with the GIL held, and the process freezes for good (CPython
    gh-106883). A worker whose tasks secede starts and ends threads all the time: a chaos run froze one.
    """
    paused = gc.isenabled()
    gc.disable()
    try:
        return sys._current_frames()
    finally:
        if paused:
            gc.enable()


_CLIENT_WAITS = frozenset({"_gather", "_result", "_wait", "_exception", "_traceback", "wait_unless_stopped"})


def waits_on_futures(frame: Any, unless_from: tuple[str, ...] = (), through: tuple[str, ...] = ()) -> bool:
    """True when a thread's stack is inside Dask's blocking ``sync``, waiting on futures.

    Waits on other things (``distributed.Event``, ``Lock``, ``Queue``) go through
    ``sync`` too, but do not need a task slot to end, so they do not count. Nor
    does a wait called from a module whose name starts with one of ``unless_from``,
    looking past Dask's frames and those of modules starting with ``through``.
    """
    while frame is not None:
        code = frame.f_code
        if code.co_name == "sync" and code.co_filename.endswith(("distributed/utils.py", "distributed\\utils.py")):
            return (getattr(frame.f_locals.get("func"), "__name__", "") in _CLIENT_WAITS
                    and not _called_from(frame, unless_from, ("distributed.", *through)))
        frame = frame.f_back
    return False


def _called_from(frame: Any, prefixes: tuple[str, ...], through: tuple[str, ...]) -> bool:
    if not prefixes:
        return False
    while frame is not None and frame.f_globals.get("__name__", "").startswith(through):
        frame = frame.f_back
    name = frame.f_globals.get("__name__", "") if frame is not None else ""
    return name.startswith(prefixes)
