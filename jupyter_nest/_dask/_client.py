"""The parts of Dask's ``Client`` that are not public API, behind names that say what we use them for."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from typing import Any

from distributed import Client, Future, Worker, default_client, futures_of
from distributed.client import FutureCancelledError
from distributed.protocol import pickle as _pickle
from distributed.protocol.serialize import ToPickle
from distributed.utils import sync

from ._worker import task_state

__all__ = ["FutureCancelledError", "HookedClient", "ToPickle", "sync"]

# The coroutines of a Client's blocking waits, as ``Client.sync`` receives them.
_WAITS = frozenset({"_result", "_exception", "_traceback", "_gather", "_wait"})

_sent = threading.local()  # whether this thread's last submit sent a graph (tasks share a worker's client)


class HookedClient(Client):
    """A ``Client`` with hooks where Dask has no public one: before a submission, and on a task's error report."""

    def before_submit(self) -> None:
        """Called before every graph this client sends (submit, map, compute, persist)."""

    def submitted_again(self, key: Any) -> None:
        """Called when ``submit`` found ``key`` among this client's futures and so sent the scheduler nothing."""

    def error_report(self, exception: Any, traceback: Any) -> dict[str, Any]:
        """The exception and traceback to record for a task that erred (as the scheduler sent them)."""
        return {"exception": exception, "traceback": traceback}

    def submit(self, *args: Any, **kwargs: Any) -> Any:
        _sent.graph = False
        future = super().submit(*args, **kwargs)
        if not _sent.graph:
            self.submitted_again(future.key)
        return future

    def _graph_to_futures(self, *args: Any, **kwargs: Any) -> Any:
        _sent.graph = True
        self.before_submit()
        return super()._graph_to_futures(*args, **kwargs)

    def _handle_task_erred(self, key: Any = None, exception: Any = None, traceback: Any = None) -> None:
        super()._handle_task_erred(key=key, **self.error_report(exception, traceback))


def scheduler_address(client: Client) -> str:
    """The address of the scheduler a connected client talks to."""
    scheduler = client.scheduler
    assert scheduler is not None, "the client is not connected"
    return str(scheduler.address)


def awaited_futures(client: Client, func: Callable[..., Any], args: tuple[Any, ...]) -> list[Future] | None:
    """The futures a ``client.sync(func, *args)`` call waits on, or ``None`` when it is not a wait on futures."""
    name = getattr(func, "__name__", "")
    if name not in _WAITS:
        return None
    owner = getattr(func, "__self__", None)
    if isinstance(owner, Future):
        return [owner]
    if args and (owner is client or name == "_wait"):
        return list(futures_of(args[0]))
    return None


async def wait_unless_stopped(stop: asyncio.Event, key: Any, worker: Any, func: Callable[..., Any], *args: Any,
                              **kwargs: Any) -> Any:
    """Run the client wait ``func(*args, **kwargs)`` until it ends, or until ``stop`` is set.

    ``stop`` is set when task ``key``, whose thread waits on ``worker``, was cancelled: its wait then
    ends at once with a ``FutureCancelledError``, instead of when the futures it waits on are
    cancelled in turn (their cancels travel one graph update after another). A task Dask resumed
    meanwhile (its key was asked for again while its thread still ran) waits on.
    """
    work = asyncio.ensure_future(func(*args, **kwargs))
    while True:
        halt = asyncio.ensure_future(stop.wait())
        try:
            await asyncio.wait({work, halt}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            halt.cancel()
        if work.done():
            return work.result()
        if task_state(worker, key) == "cancelled":
            break
        stop.clear()
    # Not work.cancel(): concurrent gathers of a client share one request (Client._gather_future), and
    # cancelling this wait would cancel theirs too. Left alone, it ends with the futures it waits on.
    work.add_done_callback(_retrieved)
    raise FutureCancelledError(key, reason="cancelled", msg="the task waiting was cancelled")


def _retrieved(task: asyncio.Future) -> None:
    if not task.cancelled():
        task.exception()  # nobody awaits it any more: no "exception was never retrieved" on the log


def wait_was_cancelled(error: BaseException) -> bool:
    """Whether ``error`` is what Dask's ``sync`` raises when the coroutine it waits on was cancelled.

    It catches ``Exception`` only, so an ``asyncio.CancelledError`` leaves its result unset:
    ``UnboundLocalError: cannot access local variable 'result'``.
    """
    if not isinstance(error, UnboundLocalError):
        return False
    tb = error.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    return tb is not None and tb.tb_frame.f_code is sync.__code__


def tell_scheduler(client: Client, op: str, **msg: Any) -> None:
    """Send ``msg`` to the scheduler's stream handler ``op`` on the client's batched stream (after its graphs)."""
    client._send_to_scheduler({"op": op, **msg})


def unbound_futures(value: Any) -> list[Future]:
    """Futures inside ``value`` that belong to no client yet (they arrived inside a task's result)."""
    return [f for f in futures_of(value) if f._client is None]


def announce_futures(client: Client) -> None:
    """Dask's own way to make the scheduler hold the futures a client has (racy for just-submitted keys)."""
    client._inform_scheduler_of_futures()


def become_worker_client(worker: Worker, client: Client) -> None:
    """Make ``client`` the worker's own client, as Dask's ``get_client()`` makes its: ``worker.client``, which
    Dask's own ``get_client()`` returns inside tasks, and which Dask closes with the last worker of the process."""
    worker._client = client
    Worker._initialized_clients.add(client)


def users_default_client(address: str) -> Client | None:
    """This process's default client when a user made it (not a worker) for the scheduler at ``address``:
    a worker running inside a kernel finds the notebook's client there."""
    try:
        client = default_client()
    except ValueError:
        return None
    scheduler = client.scheduler
    if client in Worker._initialized_clients or scheduler is None or scheduler.address != address:
        return None
    return client


async def close_on_loop(client: Client) -> None:
    """Close a synchronous client from its own event loop, without blocking the loop."""
    client._asynchronous = True
    await client.close()


def unpickle(blob: bytes) -> Any:
    """Dask's unpickling of a task's shipped exception or traceback."""
    return _pickle.loads(blob)
