"""Worker side: what tasks of a submitted cell print goes back to that cell, as Dask events.

A submitted cell runs as a task whose annotations name the cell; the tasks it
launches carry the name too (see :func:`cell_of`). The worker's ``sys.stdout``
and ``sys.stderr`` are replaced by routers: a write from a task thread that
belongs to a cell is buffered and sent as an event on :data:`TOPIC` (within
:data:`FLUSH_DELAY` seconds, or at once when one of the cell's tasks ends);
every other write goes to the original stream untouched.

This module is shipped to workers by value (see ``jupyter_nest.submit._api``), so
workers need not have jupyter_nest installed: it uses only the standard
library, dask and distributed, and keeps its state on the installed routers
rather than in module globals.
"""

from __future__ import annotations

import sys
import threading
import weakref
from typing import Any

import dask
import distributed.worker
from distributed import WorkerPlugin
from distributed.worker import get_worker

# The names, not the module: cloudpickle ships these strings with the functions by value.
from jupyter_nest._wire import CELL_ANNOTATION as ANNOTATION
from jupyter_nest._wire import CELL_OUTPUT_TOPIC as TOPIC
from jupyter_nest._wire import CELL_SPAN_TAG as SPAN_TAG
from jupyter_nest._wire import OUTPUT_PLUGIN

#: Seconds output may wait on the worker before it is sent.
FLUSH_DELAY = 0.05


def cell_of(annotations: dict[str, Any] | None) -> str | None:
    """The cell a task belongs to, from its annotations, or ``None``.

    The cell's own task and the tasks it submits directly carry
    :data:`ANNOTATION`. Deeper descendants are found through the Dask span the
    cell runs in, which Dask passes on to every task launched from a task.
    Dask keeps one span per task group, so a deeper task whose group (say
    ``fib``) already runs under another cell's span reports to that cell.

    Examples
    --------
    >>> cell_of({"span": {"name": ("jupyter-nest", "cell_3"), "ids": ("a", "b")}})
    'b'
    >>> cell_of({}) is None
    True
    """
    if not annotations:
        return None
    cell = annotations.get(ANNOTATION)
    if cell:
        return cell
    span = annotations.get("span") or {}
    names, ids = tuple(span.get("name", ())), tuple(span.get("ids", ()))
    for i in range(min(len(names), len(ids) - 1) - 1, -1, -1):
        if names[i] == SPAN_TAG:
            return ids[i + 1]
    return None


def _current_cell() -> tuple[str, Any] | None:
    """(cell, worker) when the calling thread runs a task of a submitted cell."""
    # Through the module: its thread-local state cannot be pickled with this code.
    key = getattr(distributed.worker.thread_state, "key", None)
    if key is None:
        return None
    try:
        worker = get_worker()
    except ValueError:
        return None
    ts = worker.state.tasks.get(key)
    cell = cell_of(ts.annotations if ts is not None else None) or cell_of(dask.get_annotations())
    return (cell, worker) if cell else None


class Hub:
    """Output waiting to be sent, per cell, shared by the stdout and stderr routers."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.pending: dict[str, tuple[Any, list[list[str]]]] = {}
        self.scheduled = False
        self.workers: weakref.WeakSet[Any] = weakref.WeakSet()

    def add(self, cell: str, worker: Any, stream: str, text: str) -> None:
        with self.lock:
            _, chunks = self.pending.setdefault(cell, (worker, []))
            if chunks and chunks[-1][0] == stream:
                chunks[-1][1] += text
            else:
                chunks.append([stream, text])
            schedule = not self.scheduled
            self.scheduled = True
        if schedule:
            worker.loop.add_callback(worker.loop.call_later, FLUSH_DELAY, self.flush)

    def flush(self, cell: str | None = None) -> None:
        """Send what is pending, for one cell or (from the timer) for all."""
        with self.lock:
            if cell is None:
                batch, self.pending, self.scheduled = self.pending, {}, False
            else:
                batch = {cell: self.pending.pop(cell)} if cell in self.pending else {}
        # From a task thread this queues on the event loop, ahead of the task's completion.
        for name, (worker, chunks) in batch.items():
            worker.log_event(TOPIC, {"cell": name, "out": chunks})


def _from_dask_print() -> bool:
    """Whether ``distributed.print`` is writing: Dask sends that line to every client itself."""
    caller = sys._getframe(2)  # 0: this function, 1: Router.write, 2: who called the builtin print
    return caller.f_code is distributed.print.__code__


class Router:
    """Stands in for ``sys.stdout``/``sys.stderr``: cell output to the hub, the rest to ``original``."""

    def __init__(self, name: str, original: Any, hub: Hub) -> None:
        self.name = name
        self.original = original
        self.jupyter_nest_hub = hub

    def write(self, text: str) -> int:
        where = _current_cell()
        if where is None or not isinstance(text, str) or _from_dask_print():
            return self.original.write(text)
        cell, worker = where
        self.jupyter_nest_hub.add(cell, worker, self.name, text)
        return len(text)

    def writelines(self, lines: Any) -> None:
        for line in lines:
            self.write(line)

    def flush(self) -> None:
        self.original.flush()

    def __getattr__(self, attr: str) -> Any:
        if attr == "original":  # not set yet (a copy being made): no delegation loop
            raise AttributeError(attr)
        return getattr(self.original, attr)


def install(worker: Any) -> Hub:
    """Route this process's stdout and stderr (once) for ``worker``; return the shared hub.

    Examples
    --------
    >>> hub = install(get_worker())  # in a task; OutputPlugin does it on every worker  # doctest: +SKIP
    >>> print("hi")  # from a task of a submitted cell: sent to that cell  # doctest: +SKIP
    """
    hub = getattr(sys.stdout, "jupyter_nest_hub", None)
    if hub is None:
        hub = Hub()
        sys.stdout = Router("stdout", sys.stdout, hub)
        sys.stderr = Router("stderr", sys.stderr, hub)
    hub.workers.add(worker)
    return hub


def uninstall() -> None:
    """Give the process its original streams back.

    Examples
    --------
    >>> uninstall()  # in a worker process, after its last worker left  # doctest: +SKIP
    >>> type(sys.stdout).__name__  # doctest: +SKIP
    'TextIOWrapper'
    """
    for name in ("stdout", "stderr"):
        stream = getattr(sys, name)
        hub = getattr(stream, "jupyter_nest_hub", None)
        if hub is not None:
            hub.flush()
            setattr(sys, name, stream.original)


class OutputPlugin(WorkerPlugin):
    """Installs the routers on every worker, present and future, and sends a task's output when it ends.

    Sending it from the task's transition puts it ahead of the task's result in
    the worker's messages, so a cell waiting on that result has the output first.
    Workers that run in the kernel process (``--no-processes``) share one set of
    routers; the last worker to leave restores the streams.
    """

    name = OUTPUT_PLUGIN

    def setup(self, worker: Any) -> None:
        self.worker = worker
        install(worker)

    def transition(self, key: Any, start: str, finish: str, **kwargs: Any) -> None:
        if finish not in ("memory", "error"):
            return
        hub = getattr(sys.stdout, "jupyter_nest_hub", None)
        ts = self.worker.state.tasks.get(key)
        cell = cell_of(ts.annotations) if ts is not None else None
        if hub is not None and cell is not None:
            hub.flush(cell)

    def teardown(self, worker: Any) -> None:
        hub = getattr(sys.stdout, "jupyter_nest_hub", None)
        if hub is not None:
            hub.workers.discard(worker)
            if not hub.workers:
                uninstall()
