"""The Dask client jupyter_nest hands out: a ``distributed.Client`` that waits safely.

Every blocking wait of a Dask client (``Future.result``, ``Client.gather``,
``distributed.wait``, ``dask.compute``) goes through ``Client.sync``. Ours adds,
around those waits only:

- inside a task, the wait secedes from the worker's thread pool and rejoins
  after it, as ``dask.compute`` already does, so a task that gathers its
  children cannot deadlock the cluster by holding the slot they need;
- futures found in a result are bound to this client and kept alive, so
  futures made inside a task and returned stay valid;
- in the notebook, an error that came up through nested tasks gets a note with
  the chain of tasks, root first; a kernel interrupt cancels what was awaited
  (and, through the lineage plugin, everything it spawned).
"""

from __future__ import annotations

import asyncio
import linecache
import sys
import threading
import types
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import distributed
from distributed import Future

from .. import _dask
from .._wire import ADOPT_HANDLER, ALSO_PARENT_HANDLER, ERROR_CHAIN_HANDLER
from ..errors import NestError
from ._watch import watched

_policy = threading.local()
# The stop events of the waits of task threads in this process, by task key (see stop_wait).
_waits: dict[Any, asyncio.Event] = {}
# Why Dask cancels every future of a client whose scheduler went away.
_SCHEDULER_GONE = frozenset({"scheduler-connection-lost"})


@contextmanager
def holding_slot() -> Iterator[None]:
    """Wait without seceding in this thread: for callers that manage their slot themselves."""
    previous = getattr(_policy, "hold", False)
    _policy.hold = True
    try:
        yield
    finally:
        _policy.hold = previous


@contextmanager
def outside_the_pool() -> Iterator[None]:
    """Secede for the duration of a wait when this thread holds a slot; rejoin after."""
    if not _dask.in_pool_thread() or getattr(_policy, "hold", False):
        yield
        return
    with seceded():
        yield


@contextmanager
def seceded() -> Iterator[None]:
    """Secede from the worker's thread pool for the block; rejoin after, unless the task was cancelled.

    A cancelled task's wait ends in an error: it ends outside the pool, where it waited.
    Rejoining would queue it for a slot, one cancelled task after another, before the tree can stop.
    """
    distributed.secede()
    try:
        yield
    except BaseException:
        if not _cancelled_here():
            distributed.rejoin()
        raise
    distributed.rejoin()


def stop_wait(key: Any) -> None:
    """Task ``key`` was cancelled: end its thread's wait now (call on the worker's event loop)."""
    stop = _waits.get(key)
    if stop is not None:
        stop.set()


@contextmanager
def _stoppable(key: Any) -> Iterator[asyncio.Event]:
    stop = _waits[key] = asyncio.Event()
    try:
        yield stop
    finally:
        _waits.pop(key, None)


def _cancelled_here() -> bool:
    """Whether this thread runs a task that was cancelled."""
    key = _dask.task_key()
    if key is None:
        return False
    try:
        return _dask.task_state(distributed.get_worker(), key) == "cancelled"
    except ValueError:
        return False


def _stop_if_cancelled() -> None:
    """Inside a task that was cancelled, refuse to submit more: a runaway recursion stops here.

    Python cannot stop a running thread, so a cancelled task keeps running until
    it returns; its next submission is where it can be told.
    """
    if _cancelled_here():
        raise _dask.FutureCancelledError(_dask.task_key(), reason="cancelled",
                                         msg="the task submitting was cancelled; it stops here")


def _unpicklable_result(error: Exception, awaited: list[Future]) -> NestError | None:
    """Dask's "Could not serialize object of type X", said in terms of the task that returned X."""
    text = str(error)
    if not (isinstance(error, TypeError) and text.startswith("Could not serialize object of type")):
        return None
    kind = text.split("\n", 1)[0].removeprefix("Could not serialize object of type").strip()
    keys = ", ".join(str(f.key) for f in awaited[:3]) + (" ..." if len(awaited) > 3 else "")
    return NestError(
        f"The task {keys} returned a {kind} object, which cannot be pickled, so its result cannot be "
        f"sent to whoever waits for it. Return picklable data instead (plain values, arrays, "
        f"dataclasses), or keep the {kind} inside the task and return what you need from it."
    )


def _repair(exception: Any, traceback: Any) -> dict[str, Any]:
    """Make an error report that Dask cannot unpack into one it can.

    When a task's traceback cannot be pickled (a RecursionError's is too deep),
    the worker sends its text instead, which Dask's client rejects, leaving the
    future pending forever. Keep the text as a note, drop the traceback, and give
    a RecursionError back its type.
    """
    text = None
    if isinstance(traceback, (bytes, bytearray)):
        try:
            loaded = _dask.unpickle(bytes(traceback))
        except Exception:
            loaded = None
        if not isinstance(loaded, types.TracebackType):
            text, traceback = (loaded if isinstance(loaded, str) else None), None
    if text is None:
        return {"exception": exception, "traceback": traceback}
    if isinstance(exception, (bytes, bytearray)):
        try:
            exception = _dask.unpickle(bytes(exception))
        except Exception:
            exception = Exception(repr(exception))
    message = str(exception.args[0]) if getattr(exception, "args", None) else ""
    if type(exception) is Exception and message.startswith("RecursionError("):
        exception = RecursionError(message.removeprefix("RecursionError(").removesuffix(")").strip("'\""))
    if isinstance(exception, RecursionError):
        _add_note(exception, (
            "jupyter_nest: a task recursed deeper than Python allows (sys.getrecursionlimit()). "
            "Make the recursion shallower, or turn its levels into tasks (client.submit, or "
            "@nest's spawn) instead of plain calls."
        ))
    lines = text.rstrip().splitlines()
    _add_note(exception, "Remote traceback (last lines):\n" + "\n".join(lines[-8:]))
    return {"exception": exception, "traceback": None}


def _spans(code: types.CodeType, lineno: int) -> bool:
    return any(line == lineno for _, _, line in code.co_lines())


def _notebook_frames(tb: types.TracebackType | None) -> list[str]:
    """Source lines for remote frames of notebook-defined functions.

    cloudpickle ships notebook functions by value and renames their file to
    ``<dynamic-code>``, so tracebacks from workers lose the cell's source. The
    functions still live in the notebook, with the same first line: find them
    there and read the line that raised from the cell.
    """
    main = sys.modules.get("__main__")
    functions = [
        f for f in vars(main).values() if isinstance(f, types.FunctionType)
    ] if main is not None else []
    out = []
    while tb is not None:
        code = tb.tb_frame.f_code
        if code.co_filename == "<dynamic-code>":
            # tblib rebuilds remote frames with stand-in code objects: only the
            # name and line number are the original's.
            match = next((f for f in functions if f.__code__.co_name == code.co_name
                          and _spans(f.__code__, tb.tb_lineno)), None)
            if match is not None:
                filename = match.__code__.co_filename
                line = linecache.getline(filename, tb.tb_lineno).strip()
                out.append(f'  File "{filename}", line {tb.tb_lineno}, in {code.co_name}\n    {line}')
        tb = tb.tb_next
    return out


def _chain_note(chain: list[dict[str, str]]) -> str:
    lines = [f"jupyter_nest: raised {len(chain) - 1} task level(s) below the one awaited, root first:"]
    for depth, link in enumerate(chain):
        mark = "   <- raised here" if depth == len(chain) - 1 else ""
        lines.append(f"{'  ' * (depth + 1)}{link['call']}  [{link['key']}]{mark}")
    return "\n".join(lines)


def _add_note(error: BaseException, note: str) -> None:
    notes = getattr(error, "__notes__", None) or []
    if note not in notes:
        error.__notes__ = [*notes, note]


class NestClient(_dask.HookedClient):
    """A ``distributed.Client`` whose waits never deadlock a task and never lose a result.

    It is the default client after ``start`` or ``connect``, so
    ``dask.compute``, ``client.submit`` and the Dask documentation's examples
    work unchanged. Inside tasks, ``jupyter_nest.get_client()`` returns one per
    worker.

    Examples
    --------
    >>> import jupyter_nest
    >>> client = jupyter_nest.start(workers=2, threads=1).client  # doctest: +SKIP
    >>> client.submit(sum, [1, 2, 3]).result()  # doctest: +SKIP
    6
    """

    def sync(self, func: Any, *args: Any, asynchronous: bool | None = None,
             callback_timeout: Any = None, **kwargs: Any) -> Any:
        if asynchronous is None:
            asynchronous = self.asynchronous
        awaited = None if asynchronous else _dask.awaited_futures(self, func, args)
        if awaited is None:
            return super().sync(func, *args, asynchronous=asynchronous,
                                callback_timeout=callback_timeout, **kwargs)
        key = _dask.task_key()
        with watched(self, awaited), outside_the_pool():
            try:
                if key is None:
                    result = super().sync(func, *args, asynchronous=False,
                                          callback_timeout=callback_timeout, **kwargs)
                else:
                    with _stoppable(key) as stop:
                        _stop_if_cancelled()  # after _stoppable: a cancel from now on sets stop
                        worker = distributed.get_worker()
                        result = super().sync(_dask.wait_unless_stopped, stop, key, worker, func, *args,
                                              asynchronous=False, callback_timeout=callback_timeout, **kwargs)
            except KeyboardInterrupt:
                if not _dask.in_task():
                    self.cancel(awaited)
                raise
            except Exception as error:
                if _dask.wait_was_cancelled(error):
                    raise _dask.FutureCancelledError(
                        awaited[0].key if awaited else "the awaited futures", reason="cancelled",
                        msg="the wait was cancelled: its client or event loop is closing") from None
                unpicklable = _unpicklable_result(error, awaited)
                if unpicklable is not None:
                    raise unpicklable from None
                if not _dask.in_task():
                    self._explain(error, awaited)
                raise
        self._adopt(result)
        return result

    def before_submit(self) -> None:
        _stop_if_cancelled()

    def submitted_again(self, key: Any) -> None:
        # A second task asking for a pure key its worker's client holds already: the scheduler hears
        # nothing of it, so the lineage would cancel the key with the first task's tree alone.
        parent = _dask.task_key()
        if parent is not None and self.status == "running":
            _dask.tell_scheduler(self, ALSO_PARENT_HANDLER, key=key, parent=parent)

    def error_report(self, exception: Any, traceback: Any) -> dict[str, Any]:
        return _repair(exception, traceback)

    def _adopt(self, result: Any) -> None:
        """Bind futures that arrived inside a result, and make the scheduler keep them for us."""
        adopted = _dask.unbound_futures(result)
        for future in adopted:
            future.bind_client(self)
        if not adopted:
            return
        try:
            super().sync(getattr(self.scheduler, ADOPT_HANDLER), keys=[f.key for f in adopted], client=self.id,
                         callback_timeout=30)
        except Exception:
            _dask.announce_futures(self)  # no lineage plugin: Dask's own, racy way

    def _explain(self, error: BaseException, awaited: list[Future]) -> None:
        """Add where notebook code raised, and the chain of tasks the error came up through."""
        if getattr(error, "reason", None) in _SCHEDULER_GONE:
            _add_note(error, "jupyter_nest: the scheduler is gone, and this work with it. "
                             "`%nest_cluster start --replace` (or `jupyter_nest.start(replace=True)`) starts a "
                             "new cluster; `%nest_cluster stop` forgets this one.")
            return
        where = _notebook_frames(error.__traceback__)
        if where:
            _add_note(error, "jupyter_nest: in notebook code, innermost last:\n" + "\n".join(where))
        failed = next((f for f in awaited if f.status == "error"), None)
        if failed is None:
            return
        try:
            chain = super().sync(getattr(self.scheduler, ERROR_CHAIN_HANDLER), key=failed.key, callback_timeout=5)
        except Exception:
            return  # the lineage plugin is not on this scheduler: nothing to add
        if chain and len(chain) > 1:
            _add_note(error, _chain_note(chain))
