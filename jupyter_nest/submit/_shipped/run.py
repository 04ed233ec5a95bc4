"""Worker side: run a notebook cell as one task, the way IPython runs it in the kernel.

The cell is compiled under its own file name, registered in ``linecache`` so
that tracebacks show its lines, and executed in a fresh namespace holding the
notebook globals it reads; the value of its last expression is the task's
result. Top-level ``await`` works as in IPython.

Like ``capture``, this module is shipped to workers by value:
standard library, dask, distributed and cloudpickle only, no module state.
"""

from __future__ import annotations

import ast
import asyncio
import builtins
import contextlib
import ctypes
import inspect
import linecache
import threading
from collections.abc import Iterator
from types import CodeType
from typing import Any

import cloudpickle
import dask
from distributed.worker import get_worker

from .capture import ANNOTATION, TOPIC, install

_FLAGS = ast.PyCF_ALLOW_TOP_LEVEL_AWAIT


#: The name of a worker's :class:`RunningCells` among its extensions.
EXTENSION = "jupyter-nest-running-cells"


class CellCancelled(Exception):
    """Raised inside the threads of a cell whose submission was interrupted."""


class RunningCells:
    """Per worker: which of its threads run which submitted cell's own code.

    :func:`stop_cell` raises in those threads only, and only while the code runs.
    """

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.threads: dict[int, str] = {}

    @contextlib.contextmanager
    def running(self, cell: str) -> Iterator[None]:
        """While the calling thread runs ``cell``'s own code, :meth:`interrupt` may raise in it."""
        thread = threading.get_ident()
        try:
            # Inside the try: an exception sent right after this may land as the lock is released.
            with self.lock:
                self.threads[thread] = cell
            yield
        finally:
            with self.lock:
                # CPython raises a pending exception at calls and loops, not on entering a `with`, so
                # none lands between taking the lock and this line; interrupt() sends one only while
                # holding the lock and seeing the thread here.
                self.threads.pop(thread, None)
                # One sent earlier and not yet raised would be raised later in Dask's thread pool and
                # end the worker's thread: the cell's code is over, so drop it (if the call below raises
                # it first, that is still inside the cell's task).
                ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(thread), None)

    def interrupt(self, cell: str, exception: type[BaseException], worker: Any) -> int:
        """Raise ``exception`` in the threads running ``cell``'s own code in ``worker``'s pool; return how many.

        A thread that left the pool (``secede``, as ``worker_client`` does) is not interrupted: it is
        waiting on tasks, and cancelling the cell's future ends that wait. Raised while it rejoins the
        pool, the exception left Dask's pool counting a thread that was about to end, and a worker of
        one thread never ran a task again.
        """
        with self.lock:
            return sum(ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(thread), ctypes.py_object(exception))
                       for thread, running in self.threads.items() if running == cell and _in_pool(worker, thread))


def _in_pool(worker: Any, thread: int) -> bool:
    """Whether ``thread`` runs its task in ``worker``'s thread pool (it did not secede)."""
    key = worker.active_threads.get(thread)
    ts = worker.state.tasks.get(key) if key is not None else None
    # A cancelled task keeps its thread, and remembers where it ran.
    return ts is not None and "executing" in (ts.state, ts.previous)


def remember_source(source: str, filename: str) -> None:
    """Register ``source`` in ``linecache`` so tracebacks through ``filename`` show its lines.

    Examples
    --------
    >>> remember_source("x = 1\\ny = 2\\n", "<example cell>")
    >>> linecache.getline("<example cell>", 2)
    'y = 2\\n'
    """
    lines = source.splitlines(keepends=True)
    linecache.cache[filename] = (len(source), None, lines, filename)


def compile_cell(source: str, filename: str) -> tuple[CodeType | None, CodeType | None]:
    """Compile a cell into (statements, last expression); either may be ``None``.

    Raises ``SyntaxError`` (with the cell line) when the cell does not compile.

    Examples
    --------
    >>> body, last = compile_cell("x = 2\\nx * 21", "<example>")
    >>> ns = {}
    >>> exec(body, ns); eval(last, ns)
    42
    """
    tree = ast.parse(source, filename, "exec")
    final = tree.body[-1] if tree.body else None
    last = None
    if isinstance(final, ast.Expr):
        last = ast.Expression(final.value)
        tree.body.pop()
    body = compile(tree, filename, "exec", flags=_FLAGS) if tree.body else None
    return body, (compile(last, filename, "eval", flags=_FLAGS) if last is not None else None)


def _execute(codes: tuple[CodeType | None, CodeType | None], namespace: dict[str, Any]) -> Any:
    body, last = codes
    loop = None
    try:
        value = None
        for code in (body, last):
            if code is None:
                continue
            value = eval(code, namespace)
            if code.co_flags & inspect.CO_COROUTINE:  # the cell awaits at top level
                loop = loop or asyncio.new_event_loop()
                value = loop.run_until_complete(value)
        return value if last is not None else None
    finally:
        if loop is not None:
            loop.close()


def run_cell(cell: dict[str, str], pickled: dict[str, bytes], direct: dict[str, Any]) -> Any:
    """The task: run ``cell`` with the notebook globals it reads, return its last value.

    Parameters
    ----------
    cell : dict
        ``source``, ``filename`` and ``id`` (the cell's output channel).
    pickled : dict
        Notebook globals, each pickled with cloudpickle in the kernel.
    direct : dict
        Notebook globals holding futures, which Dask has replaced by their values.

    Examples
    --------
    >>> spec = {"source": "x * 2", "filename": "<c>", "id": "cell-id"}
    >>> client.submit(run_cell, spec, {"x": cloudpickle.dumps(21)}, {}).result()  # doctest: +SKIP
    42
    """
    worker = get_worker()
    hub = install(worker)
    worker.log_event(TOPIC, {"cell": cell["id"], "started": worker.address})
    remember_source(cell["source"], cell["filename"])
    namespace: dict[str, Any] = {"__name__": "__main__", "__builtins__": builtins}
    namespace.update({name: cloudpickle.loads(blob) for name, blob in pickled.items()})
    namespace.update(direct)
    try:
        codes = compile_cell(cell["source"], cell["filename"])
        # Tasks the cell submits carry its name, so their output comes back to it too.
        # On the worker, not with the output hub: a cell may replace sys.stdout while it runs.
        cells = worker.extensions.setdefault(EXTENSION, RunningCells())
        with dask.annotate(**{ANNOTATION: cell["id"]}), cells.running(cell["id"]):
            return _execute(codes, namespace)
    except CellCancelled:
        pass  # raised afresh below
    finally:
        hub.flush(cell["id"])
    # Outside the handler, with a traceback of this frame alone: where stop_cell's exception landed can
    # be an instruction without a line number, and Dask cannot send a traceback through such a frame (the
    # waiting client then never hears of the error).
    raise CellCancelled(f"cell {cell['id']} was stopped: its submission was interrupted")


async def stop_cell(cell: str, dask_worker: Any) -> int:
    """Raise :class:`CellCancelled` in every thread of this worker running ``cell``'s own code.

    Python cannot stop a thread from outside; the exception arrives when the
    thread next runs Python code (not during a blocking call such as a sleep).
    Tasks the cell launched, and a cell waiting on them outside the pool, are not
    signalled: cancelling the cell's future cancels those tasks and ends that wait,
    and an exception arriving inside Dask's thread pool (after a task ended, or as
    a thread rejoins) ends the worker's thread.
    Returns how many threads were signalled. A coroutine, so that
    ``client.run(..., wait=False)`` accepts it and an interrupt never waits on workers.

    Examples
    --------
    >>> client.run(stop_cell, submission.id, wait=False)  # doctest: +SKIP
    """
    cells = dask_worker.extensions.get(EXTENSION)  # none: no cell ran on this worker
    return 0 if cells is None else cells.interrupt(cell, CellCancelled, dask_worker)
