"""What scheduler plugins read and do beyond Dask's plugin API: task and worker states, graph updates, cancels."""

from __future__ import annotations

import contextvars
import reprlib
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from dask.utils import key_split
from distributed.core import Status

__all__ = [
    "LIVE_STATES",
    "Status",
    "cancel_for_their_clients",
    "clients_leaving",
    "desire_keys",
    "forget_finished_spans",
    "free_slots",
    "held_outside",
    "hook_update_graph",
    "is_reference",
    "literal",
    "short_call",
    "task_arguments",
    "task_call",
    "worker_memory",
]

# Scheduler task states of a task that has not ended yet.
LIVE_STATES = frozenset({"released", "waiting", "queued", "no-worker", "processing"})


def hook_update_graph(scheduler: Any, current_submitter: contextvars.ContextVar[Any]) -> Callable[[], None]:
    """Make the key of the task that submitted a graph readable in ``SchedulerPlugin.update_graph``.

    Dask's client sends it with every graph (``submitting_task``), but the
    scheduler keeps it only for priorities. While a graph is processed,
    ``current_submitter.get()`` returns it. Returns the function that undoes the hook.
    """
    original = scheduler.stream_handlers["update-graph"]

    async def update_graph(*, submitting_task: Any = None, **kwargs: Any) -> Any:
        token = current_submitter.set(submitting_task)
        try:
            return await original(submitting_task=submitting_task, **kwargs)
        finally:
            current_submitter.reset(token)

    scheduler.stream_handlers["update-graph"] = update_graph

    def undo() -> None:
        scheduler.stream_handlers["update-graph"] = original

    return undo


def task_arguments(ts: Any) -> tuple[tuple[Any, ...], dict[str, Any]]:
    """The positional and keyword arguments of a scheduler task, as its ``run_spec`` holds them."""
    spec = getattr(ts, "run_spec", None)
    return tuple(getattr(spec, "args", ())), dict(getattr(spec, "kwargs", {}) or {})


def literal(value: Any) -> Any:
    """A task argument as the user passed it (``dask._task_spec`` wraps literals in a ``DataNode``)."""
    return getattr(value, "value", value)


def is_reference(value: Any) -> bool:
    """Whether a task argument stands for another task's result."""
    return hasattr(value, "key") and not hasattr(value, "value")


_short = reprlib.Repr()
_short.maxstring = 30
_short.maxother = 30
_short.maxlist = _short.maxtuple = _short.maxdict = 4
_short.maxlevel = 2


def short_call(name: str, args: Iterable[Any], kwargs: Mapping[str, Any]) -> str:
    """``fib(3)``: a call with its arguments shortened for display; other tasks' results as ``<name>``.

    Examples
    --------
    >>> short_call("fib", (3,), {})
    'fib(3)'
    """
    def show(value: Any) -> str:
        if is_reference(value):
            return f"<{key_split(value.key)}>"
        return _short.repr(literal(value))

    try:
        parts = [show(a) for a in args] + [f"{k}={show(v)}" for k, v in kwargs.items()]
    except Exception:
        return f"{name}(...)"
    return f"{name}({', '.join(parts)})"


def task_call(ts: Any, name: str) -> str:
    """``fib(3)`` for a scheduler task's function and arguments, shortened for display."""
    args, kwargs = task_arguments(ts)
    return short_call(name, args, kwargs)


def _named(client_id: str, names: Iterable[str]) -> bool:
    # A Client's id is "<class>-<name>-<uuid>", or "<class>-<uuid>" without a name (Client.__init__).
    return any(f"-{name}-" in client_id for name in names)


def held_outside(scheduler: Any, key: Any, client: str | None, inside: Iterable[str]) -> bool:
    """Whether a client holds task ``key`` other than ``client`` and the clients named in ``inside``.

    ``inside`` names the clients tasks use to launch tasks (Dask's worker client is named
    ``worker``): they hold keys on behalf of a task tree, not of a user.
    """
    ts = scheduler.tasks.get(key)
    return ts is not None and any(cs.client_key != client and not _named(cs.client_key, inside)
                                  for cs in ts.who_wants)


def clients_leaving(scheduler: Any) -> bool:
    """Whether a client's connection closed and the scheduler has not removed the client yet (a dead worker's).

    Dask tells every client of a cancel, and logs a CRITICAL traceback for each of those.
    """
    return any(comm.closed() for comm in scheduler.client_comms.values())


def cancel_for_their_clients(scheduler: Any, keys: Iterable[Any], owners: Mapping[Any, str],
                             inside: Iterable[str], reason: str, msg: str) -> None:
    """Cancel the live tasks among ``keys`` that no client outside their tree holds.

    A key a client outside the tree holds too (see :func:`held_outside`; ``owners[key]`` is
    the client that submitted it) is left alone: it is that client's result as well.
    Leaving clients are skipped: they release their keys anyway.
    """
    inside = tuple(inside)
    by_client: dict[str, list[Any]] = {}
    for k in keys:
        ts = scheduler.tasks.get(k)
        if (ts is not None and ts.state in LIVE_STATES and ts.who_wants
                and not held_outside(scheduler, k, owners.get(k), inside)):
            client = next(iter(ts.who_wants)).client_key
            by_client.setdefault(client, []).append(k)
    for client, cancel in by_client.items():
        comm = scheduler.client_comms.get(client)
        if comm is None or comm.closed():
            continue  # a client that is leaving (a dead worker's) releases its keys anyway
        scheduler.stimulus_cancel(cancel, client, force=True, reason=reason, msg=msg)


def desire_keys(scheduler: Any, keys: list[Any], client: str) -> None:
    """Make ``client`` hold ``keys`` (as if it had submitted them)."""
    scheduler.client_desires_keys(keys=keys, client=client)


def free_slots(ws: Any) -> int:
    """Thread-pool slots of a worker that no task holds (a seceded task holds none)."""
    return ws.nthreads - (len(ws.processing) - len(ws.long_running))


def worker_memory(ws: Any) -> int:
    """The memory a worker's process uses, as its last heartbeat said."""
    return ws.memory.process


def forget_finished_spans(scheduler: Any, keep: int, older_than: float) -> int:
    """Drop the scheduler's oldest finished spans, keeping the newest ``keep``; returns how many went.

    Dask keeps every span, and with it every TaskGroup it ever saw, for the scheduler's life
    (dask/distributed#7977). A recursion run from a notebook opens a new default span each time
    the previous one finishes, so a kernel that runs many grows by tens of KB per run. A span goes
    only when all its task groups are forgotten (a new task of a live group would look its span up)
    and it stopped ``older_than`` seconds ago (a worker's late metrics heartbeat names it too).
    """
    spans = scheduler.extensions.get("spans")
    if spans is None or len(spans.root_spans) <= keep:
        return 0
    cutoff = time.time() - older_than
    live_groups = scheduler.task_groups

    def gone(span: Any) -> bool:
        return span.done and span.stop < cutoff and all(
            live_groups.get(tg.name) is not tg for tg in span.traverse_groups())

    old = spans.root_spans[: len(spans.root_spans) - keep]
    dropped = {s.id for root in old if gone(root) for s in root.traverse_spans()}
    if not dropped:
        return 0
    spans.root_spans = [s for s in spans.root_spans if s.id not in dropped]
    for span_id in dropped:
        del spans.spans[span_id]
    for index in (spans.spans_search_by_name, spans.spans_search_by_tag):
        for name in list(index):
            kept = [s for s in index[name] if s.id not in dropped]
            if kept:
                index[name] = kept
            else:
                del index[name]
    return len(dropped)
