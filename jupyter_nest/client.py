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

import linecache
import sys
import threading
import types
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from distributed import Client, Future, futures_of
from distributed.client import FutureCancelledError
from distributed.protocol import pickle
from distributed.threadpoolexecutor import thread_state as pool_state
from distributed.worker import thread_state

from .errors import NestError
from .summary import ClusterSummary, summarize

_WAITS = frozenset({"_result", "_exception", "_traceback", "_gather", "_wait"})


def in_pool_thread() -> bool:
    """True in a task that holds one of its worker's thread-pool slots (has not seceded)."""
    executor = getattr(pool_state, "executor", None)
    return (
        getattr(thread_state, "key", None) is not None
        and executor is not None
        and threading.current_thread() in executor._threads
    )


def in_task() -> bool:
    """True in a thread that runs a task on a worker, seceded or not."""
    return getattr(thread_state, "key", None) is not None


_policy = threading.local()


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
    if not in_pool_thread() or getattr(_policy, "hold", False):
        yield
        return
    from distributed import rejoin, secede

    secede()
    try:
        yield
    finally:
        rejoin()


def _stop_if_cancelled() -> None:
    """Inside a task that was cancelled, refuse to submit more: a runaway recursion stops here.

    Python cannot stop a running thread, so a cancelled task keeps running until
    it returns; its next submission is where it can be told.
    """
    key = getattr(thread_state, "key", None)
    if key is None:
        return
    from distributed import get_worker

    try:
        ts = get_worker().state.tasks.get(key)
    except ValueError:
        return
    if ts is not None and ts.state == "cancelled":
        raise FutureCancelledError(key, reason="cancelled", msg="the task submitting was cancelled; it stops here")


def _awaited(client: Client, func: Any, args: tuple[Any, ...]) -> list[Future] | None:
    """The futures a ``sync`` call waits on, or ``None`` when it is not a wait."""
    name = getattr(func, "__name__", "")
    if name not in _WAITS:
        return None
    owner = getattr(func, "__self__", None)
    if isinstance(owner, Future):
        return [owner]
    if args and (owner is client or name == "_wait"):
        return list(futures_of(args[0]))
    return None


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
            loaded = pickle.loads(traceback)
        except Exception:
            loaded = None
        if not isinstance(loaded, types.TracebackType):
            text, traceback = (loaded if isinstance(loaded, str) else None), None
    if text is None:
        return {"exception": exception, "traceback": traceback}
    if isinstance(exception, (bytes, bytearray)):
        try:
            exception = pickle.loads(exception)
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


class NestClient(Client):
    """A ``distributed.Client`` whose waits never deadlock a task and never lose a result.

    It is the default client after ``start`` or ``connect``, so
    ``dask.compute``, ``client.submit`` and the Dask documentation's examples
    work unchanged. Inside tasks, ``jupyter_nest.get_client()`` returns one per
    worker. Its notebook display is the jupyter_nest cluster summary.

    Examples
    --------
    >>> import jupyter_nest
    >>> client = jupyter_nest.start(workers=2, threads=1).client  # doctest: +SKIP
    >>> client.submit(sum, [1, 2, 3]).result()  # doctest: +SKIP
    6
    """

    nest_kind: str = "remote scheduler"
    nest_dashboard: bool = True

    def sync(self, func: Any, *args: Any, asynchronous: bool | None = None,
             callback_timeout: Any = None, **kwargs: Any) -> Any:
        if asynchronous is None:
            asynchronous = self.asynchronous
        awaited = None if asynchronous else _awaited(self, func, args)
        if awaited is None:
            return super().sync(func, *args, asynchronous=asynchronous,
                                callback_timeout=callback_timeout, **kwargs)
        with outside_the_pool():
            try:
                result = super().sync(func, *args, asynchronous=False,
                                      callback_timeout=callback_timeout, **kwargs)
            except KeyboardInterrupt:
                if not in_task():
                    self.cancel(awaited)
                raise
            except Exception as error:
                unpicklable = _unpicklable_result(error, awaited)
                if unpicklable is not None:
                    raise unpicklable from None
                if not in_task():
                    self._explain(error, awaited)
                raise
        self._adopt(result)
        return result

    def _graph_to_futures(self, *args: Any, **kwargs: Any) -> Any:
        _stop_if_cancelled()
        return super()._graph_to_futures(*args, **kwargs)

    def _handle_task_erred(self, key: Any = None, exception: Any = None, traceback: Any = None) -> None:
        super()._handle_task_erred(key=key, **_repair(exception, traceback))

    def _adopt(self, result: Any) -> None:
        """Bind futures that arrived inside a result, and make the scheduler keep them for us."""
        adopted = [f for f in futures_of(result) if f._client is None]
        for future in adopted:
            future.bind_client(self)
        if not adopted:
            return
        try:
            super().sync(self.scheduler.nest_adopt, keys=[f.key for f in adopted], client=self.id,
                         callback_timeout=30)
        except Exception:
            self._inform_scheduler_of_futures()  # no lineage plugin: Dask's own, racy way

    def _explain(self, error: BaseException, awaited: list[Future]) -> None:
        """Add where notebook code raised, and the chain of tasks the error came up through."""
        where = _notebook_frames(error.__traceback__)
        if where:
            _add_note(error, "jupyter_nest: in notebook code, innermost last:\n" + "\n".join(where))
        failed = next((f for f in awaited if f.status == "error"), None)
        if failed is None:
            return
        try:
            chain = super().sync(self.scheduler.nest_error_chain, key=failed.key, callback_timeout=5)
        except Exception:
            return  # the lineage plugin is not on this scheduler: nothing to add
        if chain and len(chain) > 1:
            _add_note(error, _chain_note(chain))

    def summary(self, detailed: bool = False) -> ClusterSummary:
        """The cluster behind this client, as ``%nest_cluster status`` shows it."""
        return summarize(self, self.nest_kind, self.nest_dashboard, detailed=detailed)

    def _repr_html_(self) -> str:
        if self.status != "running":
            return f"<div><strong>jupyter_nest</strong>: client {self.status}</div>"
        return self.summary()._repr_html_()

    def _repr_pretty_(self, p: Any, cycle: bool) -> None:
        if self.status != "running":
            p.text(f"jupyter_nest: client {self.status}")
        else:
            p.text(self.summary().text())
