"""Tasks launch tasks: ``get_client``, ``worker_client``, ``secede``, ``rejoin`` and ``task_tree``.

The same names, signatures and semantics as Dask's, so every example of Dask's
"launch tasks from tasks" page runs with ``from jupyter_nest import ...``. The
differences are the safety nets:

- ``get_client()`` inside a task returns this worker's :class:`NestClient`,
  whose waits (``gather``, ``Future.result``, ``wait``) secede while they
  wait: forgetting ``secede()`` no longer deadlocks the cluster;
- ``secede``/``rejoin``/``worker_client`` outside a task, ``rejoin`` without
  ``secede`` and ``secede`` twice raise a :class:`NestError` that says what to do,
  instead of hanging or corrupting the worker's thread pool.
"""

from __future__ import annotations

import asyncio
import threading
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import dask
import distributed
from dask.utils import parse_timedelta
from distributed import Future, Worker
from distributed.diagnostics.plugin import WorkerPlugin

from .. import _dask
from .._wire import LATEST_TREE_HANDLER, RUNTIME_PLUGIN, TREE_HANDLER, WORKER_CLIENT_NAME, TreeNode
from ..errors import NestError, NoClusterError
from ._client import NestClient, seceded, stop_wait
from ._tree import TaskTree

_lock = threading.Lock()
_worker_clients: weakref.WeakKeyDictionary[Worker, NestClient] = weakref.WeakKeyDictionary()


def _no_session(what: str) -> distributed.Client | None:
    return None


# The kernel's own client, for calls made outside tasks; the cluster package installs
# the real lookup (it owns the session), which raises NoClusterError when ``what`` needs one.
_session_client: Callable[[str], distributed.Client | None] = _no_session


def use_session_client(lookup: Callable[[str], distributed.Client | None]) -> None:
    """Where calls outside tasks find this kernel's client: ``lookup(what)``, ``None`` when there is none."""
    global _session_client
    _session_client = lookup


def kernel_client(what: str) -> distributed.Client:
    """This kernel's client; a :class:`NoClusterError` naming ``what`` when there is none."""
    client = _session_client(what)
    if client is None:
        raise NoClusterError(what)
    return client


class RuntimePlugin(WorkerPlugin):
    """Ends the waits of cancelled tasks at once, stops the worker's client from reaching workers the
    scheduler removed, and closes the worker's :class:`NestClient` with the worker, while its event loop
    still runs."""

    name = RUNTIME_PLUGIN
    idempotent = True

    def setup(self, worker: Worker) -> None:
        self.worker = worker
        _dask.forget_removed_workers_in_client(worker)

    def transition(self, key: Any, start: str, finish: str, **kwargs: Any) -> None:
        if _dask.was_cancelled(self.worker, key, start):
            stop_wait(key)

    async def teardown(self, worker: Worker) -> None:
        with _lock:
            client = _worker_clients.pop(worker, None)
        if client is not None:
            await _dask.close_on_loop(client)


def _current_worker(what: str) -> Worker:
    try:
        return distributed.get_worker()
    except ValueError:
        raise NestError(
            f"{what} only works inside a task running on a Dask worker; here there is no task "
            "(and no worker thread) to give up or take back. Call it from a function you submit, "
            "e.g. `client.submit(f)`, where f calls it."
        ) from None


def _client_security(worker: Worker) -> distributed.Security:
    """The worker's certificates for the connections its tasks' client makes.

    Some deployments (Dask Gateway's) give workers a certificate for the worker role only;
    a client without one cannot reach their TLS scheduler (Dask's own ``get_client()`` hangs there).
    """
    security = worker.security
    fields = {name: getattr(security, name) for name in distributed.Security.__slots__}
    if not fields["tls_worker_cert"] or security.get_connection_args("client")["ssl_context"] is not None:
        return security
    fields.update(tls_client_cert=fields["tls_worker_cert"], tls_client_key=fields["tls_worker_key"])
    return distributed.Security(**fields)


def _worker_client(worker: Worker, timeout: float) -> NestClient:
    with _lock:
        client = _worker_clients.get(worker)
        if client is None or client.status not in ("running", "connecting", "newly-created"):
            client = NestClient(
                worker.scheduler.address,
                loop=worker.loop,
                security=_client_security(worker),
                # As Dask's worker client: the default client inside tasks (distributed.wait,
                # as_completed and Dask's own get_client find it), unless the worker runs in a
                # process whose user has a client of this scheduler already (a kernel's).
                set_as_default=_dask.users_default_client(worker.scheduler.address) is None,
                asynchronous=False,
                direct_to_workers=True,
                name=WORKER_CLIENT_NAME,
                timeout=timeout,
            )
            _dask.become_worker_client(worker, client)
            _worker_clients[worker] = client
    return client


def task_client() -> distributed.Client:
    """The client jupyter_nest's own code uses: ``get_client()`` without Dask's event, which says a user asked."""
    return _get_client(None, None, True, event=False)


def get_client(address: str | None = None, timeout: Any = None, resolve_address: bool = True) -> distributed.Client:
    """Get a client while within a task, or this kernel's client in the notebook.

    Same signature as :func:`distributed.get_client`. Inside a task it returns
    the worker's :class:`NestClient`: ``client.gather(futures)`` and
    ``future.result()`` secede from the worker's thread pool while they wait
    and rejoin after, so calling them without ``secede()`` cannot deadlock.

    Parameters
    ----------
    address : str, optional
        The scheduler to connect to; default the one this worker (or kernel) uses.
    timeout : int or str, optional
        How long to wait for the connection; default ``distributed.comm.timeouts.connect``.
    resolve_address : bool
        Passed on to Dask for other schedulers.

    Returns
    -------
    distributed.Client

    Examples
    --------
    >>> from jupyter_nest import get_client
    >>> def fib(n):
    ...     if n < 2:
    ...         return n
    ...     client = get_client()
    ...     a, b = client.submit(fib, n - 1), client.submit(fib, n - 2)
    ...     return a.result() + b.result()  # no secede() needed
    >>> client.submit(fib, 10).result()  # doctest: +SKIP
    55
    """
    return _get_client(address, timeout, resolve_address, event=True)


def _get_client(address: str | None, timeout: Any, resolve_address: bool, event: bool) -> distributed.Client:
    if timeout is None:
        timeout = dask.config.get("distributed.comm.timeouts.connect")
    timeout = parse_timedelta(timeout, "s")
    try:
        worker = distributed.get_worker()
    except ValueError:
        client = _session_client("get_client()")
        if client is not None and address in (None, _dask.scheduler_address(client)):
            return client
        return distributed.get_client(address, timeout=timeout, resolve_address=resolve_address)
    if address and address != worker.scheduler.address:
        return distributed.get_client(address, timeout=timeout, resolve_address=resolve_address)
    client = _worker_client(worker, timeout)
    if event:
        worker.log_event("worker-get-client", {"client": client.id, "timeout": timeout})
    return client


def secede() -> None:
    """Have this task leave its worker's thread pool, freeing its slot for other tasks.

    As :func:`distributed.secede`; raises a :class:`NestError` outside a task or
    when this task has already seceded.

    Examples
    --------
    >>> from jupyter_nest import get_client, secede, rejoin
    >>> def parent():
    ...     futures = get_client().map(inc, range(10))
    ...     secede()
    ...     results = get_client().gather(futures)
    ...     rejoin()
    ...     return sum(results)
    """
    _current_worker("secede()")
    if not _dask.in_pool_thread():
        raise NestError(
            "secede(): this task has already seceded (its slot is free already). Call rejoin() "
            "before seceding again, or drop the second secede()."
        )
    distributed.secede()


def rejoin() -> None:
    """Have this seceded task wait for a slot in its worker's thread pool again.

    As :func:`distributed.rejoin`; raises a :class:`NestError` outside a task or
    when this task has not seceded (Dask would silently shrink the pool).

    Examples
    --------
    >>> from jupyter_nest import secede, rejoin
    >>> def task():
    ...     secede()
    ...     ...  # wait for other tasks
    ...     rejoin()
    """
    _current_worker("rejoin()")
    if _dask.in_pool_thread():
        raise NestError(
            "rejoin() without a prior secede(): this task still holds its slot. Call secede() "
            "before waiting on other tasks and rejoin() after, or use `with worker_client():`, "
            "which does both."
        )
    distributed.rejoin()


@contextmanager
def worker_client(timeout: Any = None, separate_thread: bool = True) -> Iterator[distributed.Client]:
    """A client for this task, seceding from the thread pool for the duration of the block.

    As :func:`distributed.worker_client`, but the client is the worker's
    :class:`NestClient` and a call outside a task raises a :class:`NestError`.

    Parameters
    ----------
    timeout : int or str, optional
        How long to wait for the connection.
    separate_thread : bool
        Secede on entry and rejoin on exit (the default, as in Dask).

    Examples
    --------
    >>> from jupyter_nest import worker_client
    >>> def fib(n):
    ...     if n < 2:
    ...         return n
    ...     with worker_client() as client:
    ...         a, b = client.submit(fib, n - 1), client.submit(fib, n - 2)
    ...         return a.result() + b.result()
    """
    worker = _current_worker("worker_client()")
    client = get_client(timeout=timeout)
    worker.log_event("worker-client", {"client": client.id, "timeout": timeout})
    if separate_thread and _dask.in_pool_thread():
        with seceded():
            yield client
    else:
        yield client


def task_tree(future_or_key: Future | Any, max_nodes: int = 2000) -> TaskTree:
    """The tree of tasks spawned, directly or not, by a task: keys, names and states.

    Parameters
    ----------
    future_or_key : Future or key
        The root.
    max_nodes : int
        How many tasks to list; beyond that, subtrees are summarised by counts.

    Returns
    -------
    TaskTree

    Examples
    --------
    >>> future = client.submit(fib, 6)  # doctest: +SKIP
    >>> tree = jupyter_nest.task_tree(future)  # doctest: +SKIP
    >>> tree.size()  # doctest: +SKIP
    25
    """
    key = future_or_key.key if isinstance(future_or_key, Future) else future_or_key
    client = get_client()
    try:
        data = client.sync(getattr(client.scheduler, TREE_HANDLER), key=key, max_nodes=max_nodes)
    except (KeyError, ValueError) as e:
        raise NestError(
            f"task_tree needs jupyter_nest's lineage plugin on the scheduler ({e}). It is installed "
            "on clusters that `%nest_cluster start` or `connect` set up; reconnect to install it."
        ) from None
    return TaskTree(data)


def tree_data(client: distributed.Client, root: Any = None, max_nodes: int = 300,
              timeout: float = 2) -> TreeNode | None:
    """The lineage tree of ``root`` (a key), or of the latest task that spawned others, as the views draw it."""
    scheduler = client.scheduler
    if root is None:
        return client.sync(getattr(scheduler, LATEST_TREE_HANDLER), max_nodes=max_nodes, callback_timeout=timeout)
    return client.sync(getattr(scheduler, TREE_HANDLER), key=root, max_nodes=max_nodes, callback_timeout=timeout)


async def latest_tree_async(address: str, security: distributed.Security | None, timeout: float,
                            max_nodes: int = 300) -> TreeNode | None:
    """The tree of the latest task that spawned others, from a scheduler address (no Client needed)."""
    async with _dask.scheduler_rpc(address, timeout, security) as scheduler:
        return await asyncio.wait_for(getattr(scheduler, LATEST_TREE_HANDLER)(max_nodes=max_nodes), timeout)
