"""What worker plugins and task threads read and call beyond Dask's public API: the worker's state and RPC."""

from __future__ import annotations

import asyncio
import concurrent.futures
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from distributed import Security
from distributed.core import rpc

__all__ = ["call_from_task", "forget_removed_workers_in_client", "nthreads", "queued", "scheduler_rpc", "task_state",
           "was_cancelled"]


def nthreads(worker: Any) -> int:
    return worker.state.nthreads


def queued(worker: Any) -> int:
    """Tasks ready to run on ``worker`` but waiting for a slot (or for resources)."""
    state = worker.state
    return len(state.ready) + len(state.constrained)


def task_state(worker: Any, key: Any) -> str | None:
    """The worker-side state of task ``key`` (``executing``, ``long-running``, ``cancelled``...), or ``None``."""
    ts = worker.state.tasks.get(key)
    return None if ts is None else ts.state


def was_cancelled(worker: Any, key: Any, start: str) -> bool:
    """Whether the transition out of ``start`` a worker plugin just heard of left task ``key`` cancelled.

    Dask tells worker plugins the state a transition was asked for, not the one the task reached: a
    running task the scheduler releases comes as ``executing -> released``, and is ``cancelled``
    (its thread runs on). A plugin that waits for ``finish == "cancelled"`` never hears of it.
    """
    return start in ("executing", "long-running") and task_state(worker, key) == "cancelled"


# A connect to a worker the scheduler removed gets this long, not Dask's connect timeout: a refused connect
# is retried until the timeout ends, so a dead worker's address held a gather 30 s. A worker that comes back
# at the same address (fixed ports) accepts a connect within this.
REMOVED_WORKER_CONNECT_TIMEOUT = 2.0

# How many removed workers a client's pool remembers: one entry a death, so this covers thousands of restarts.
REMOVED_WORKERS_REMEMBERED = 1024


def forget_removed_workers_in_client(worker: Any) -> None:
    """When the scheduler removes a worker, ``worker``'s client forgets its connections to it too.

    Dask's worker then drops its own connections to the removed peer and cancels its connects to
    it. The client its tasks gather with has a pool of its own, where a connect to a peer that died
    (refused) retries for the whole connect timeout (30 s): a task gathering a child's result just
    as the child's worker died waited that long before asking the scheduler. The pool's connects
    under way are cancelled, and later ones to the removed address (the scheduler named it to a
    gather just before it removed it) give up after ``REMOVED_WORKER_CONNECT_TIMEOUT``.
    """
    handle = worker.stream_handlers["remove-worker"]
    if getattr(handle, "forgets_in_client", False):
        return
    owner = worker

    def remove_worker(worker: str, stimulus_id: str) -> None:  # the message's fields: `worker` is the peer
        client = getattr(owner, "_client", None)
        if client is not None and client.rpc is not None:
            removed = _removed_addresses(client.rpc)
            removed[worker] = None
            if len(removed) > REMOVED_WORKERS_REMEMBERED:
                del removed[next(iter(removed))]
            client.rpc.remove(worker, reason=f"The scheduler removed {worker}.")
        handle(worker=worker, stimulus_id=stimulus_id)

    remove_worker.forgets_in_client = True  # type: ignore[attr-defined]
    worker.stream_handlers["remove-worker"] = remove_worker


def _removed_addresses(pool: Any) -> dict[str, None]:
    """The addresses of removed workers ``pool`` remembers, oldest first; its connects to them are shortened."""
    removed: dict[str, None] | None = getattr(pool, "_jupyter_nest_removed", None)
    if removed is None:
        removed = pool._jupyter_nest_removed = {}
        connect = pool.connect

        async def connect_briefly_if_removed(addr: str, timeout: float | None = None) -> Any:
            if addr in removed:
                timeout = min(timeout or pool.timeout or REMOVED_WORKER_CONNECT_TIMEOUT,
                              REMOVED_WORKER_CONNECT_TIMEOUT)
            return await connect(addr, timeout)

        pool.connect = connect_briefly_if_removed
    return removed


def _never() -> bool:
    return False


def call_from_task(worker: Any, to: str, op: str, /, gone: Callable[[], bool] = _never, **kwargs: Any) -> Any:
    """Call handler ``op`` of the worker at ``to`` from a task thread of ``worker``, and wait for the answer.

    ``gone()`` is asked while waiting: once it says the worker at ``to`` left the cluster, the
    call ends with a ``ConnectionError``. Dask's connect retries a refused connection until
    ``distributed.comm.timeouts.connect`` (30 s), which would hold this task's slot that long.
    """
    call = asyncio.run_coroutine_threadsafe(getattr(worker.rpc(to), op)(**kwargs), worker.loop.asyncio_loop)
    while True:
        try:
            return call.result(timeout=0.05)
        except concurrent.futures.TimeoutError:
            if gone():
                call.cancel()
                raise ConnectionError(f"the worker at {to} left the cluster") from None


async def call(server: Any, to: str, op: str, /, **kwargs: Any) -> Any:
    """Call handler ``op`` of the server at ``to`` from ``server``'s event loop."""
    return await getattr(server.rpc(to), op)(**kwargs)


@asynccontextmanager
async def scheduler_rpc(address: str, timeout: float, security: Security | None) -> AsyncIterator[Any]:
    """A short-lived connection to a scheduler, without a Client (the Jupyter server uses it)."""
    args = (security or Security()).get_connection_args("client")
    async with rpc(address, timeout=timeout, connection_args=args) as scheduler:
        yield scheduler
