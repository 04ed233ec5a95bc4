"""The one cluster (or remote scheduler) a kernel works with: its :class:`Session`, and ending it.

A kernel holds at most one session. ``start``, ``connect`` and ``attach`` open it (through
:func:`open_session`); :func:`stop` ends it; an exiting kernel ends it too, so no
worker outlives the kernel that started it. With no session, what needs one first
adopts the user's default Dask client (``_attach``, through :func:`use_adopter`).
"""

from __future__ import annotations

import atexit
import threading
import time
from collections.abc import Callable
from collections.abc import Set as AbstractSet
from typing import Any

from distributed import Client
from distributed.deploy import Cluster

from .. import _dask, config, runtime
from ..errors import NestError, NestTimeoutError, NoClusterError
from ..monitor import HangWatcher
from . import _registry
from ._client import SessionClient
from ._install import install
from ._jobqueue import pending_jobs
from ._summary import ClusterSummary

_lock = threading.RLock()
_session: Session | None = None


def _no_adopter() -> Session | None:
    return None


def _no_forget(address: str) -> None:
    return None


_adopt: Callable[[], Session | None] = _no_adopter
_forget: Callable[[str], None] = _no_forget


def use_adopter(adopt: Callable[[], Session | None], forget: Callable[[str], None]) -> None:
    """How a kernel without a session adopts the user's default client, and lets go of it at ``stop``."""
    global _adopt, _forget
    _adopt, _forget = adopt, forget


class Session:
    """A cluster and the client this kernel reaches it with.

    Parameters
    ----------
    client : SessionClient
        The connected client; it is the default Dask client while the session lives.
    cluster : distributed.deploy.Cluster, optional
        The cluster object when jupyter_nest started it or the user handed it over;
        ``None`` when connected to a scheduler that runs elsewhere (which ``stop``
        then leaves running).
    adopted : bool
        The user made the cluster (``attach``): ``stop`` detaches and leaves it
        running, and ``restart`` refuses.

    Examples
    --------
    >>> import jupyter_nest
    >>> session = jupyter_nest.start(workers=2, threads=1)  # doctest: +SKIP
    >>> session.client.submit(pow, 2, 10).result()  # doctest: +SKIP
    1024
    >>> jupyter_nest.stop()  # doctest: +SKIP
    """

    def __init__(self, client: SessionClient, cluster: Cluster | None, adopted: bool = False) -> None:
        self.client = client
        self.cluster = cluster
        self.adopted = adopted
        self.hang_watcher: HangWatcher | None = None
        # Kept: a client whose scheduler went away (a user's cluster closed under an attached session) has none.
        self._address = _dask.scheduler_address(client)

    @property
    def kind(self) -> str:
        return self.client.nest_kind

    @property
    def address(self) -> str:
        return self._address

    def summary(self, detailed: bool = False) -> ClusterSummary:
        return self.client.summary(detailed=detailed)

    def describe(self) -> str:
        """One line naming the cluster, for messages."""
        s = self.summary()
        return f"{s.kind}, {s.shape()}, scheduler {s.scheduler}"

    def scale(self, n: int, timeout: float | str | None = None, starting: bool = False) -> ClusterSummary:
        """Scale to ``n`` workers and wait until they are there (``starting``: for ``start``, which stops
        the cluster when they do not come)."""
        if self.cluster is None:
            raise NestError(
                f"Cannot scale: this kernel is connected to {self.address}, a scheduler started "
                "elsewhere, so its workers are managed there. Scale it where it was started, or "
                "start a cluster from the notebook with `%nest_cluster start`."
            )
        if n < 0:
            raise NestError(f"Cannot scale to {n} workers: give 0 or more, e.g. `%nest_cluster scale 2`.")
        wait = config.seconds("start-timeout", timeout)
        self.cluster.scale(n)
        try:
            wait_for_worker_count(self.client, n, wait)
        except TimeoutError:
            workers = self.client.scheduler_info(n_workers=-1)["workers"].values()
            jobs = pending_jobs(self.cluster, {str(w.get("name")) for w in workers})
            then = ("jupyter_nest stopped the cluster (and cancelled its jobs)." if starting else
                    "The cluster keeps trying; check `%nest_cluster status` in a moment.")
            raise NestTimeoutError(
                f"Asked for {n} workers, {len(workers)} arrived within {wait:g} s.{jobs} {then} Raise "
                "`jupyter-nest.start-timeout` if they are only slow to come."
            ) from None
        return self.summary()

    def restart(self) -> ClusterSummary:
        """Restart every worker: running tasks are cancelled and memory is cleared."""
        if self.adopted:
            raise NestError(
                f"Cannot restart: the cluster at {self.address} is yours (attached), and jupyter_nest never "
                "restarts what it did not start. Restart it yourself with `client.restart()` if you mean to."
            )
        timeout = config.seconds("start-timeout")
        old = worker_set(self.client)
        try:
            self.client.restart(timeout=timeout)
            wait_for_worker_count(self.client, len(old), timeout, excluding=old)
        except TimeoutError:
            raise NestError(
                "The workers did not come back within `jupyter-nest.start-timeout` after a restart. "
                "Check `%nest_cluster status`; `%nest_cluster stop` and `start` give a fresh cluster."
            ) from None
        return self.summary()

    def close(self) -> None:
        """Close the client, and the cluster if this session started it."""
        if self.hang_watcher is not None:
            self.hang_watcher.stop()
        self.client.close()
        if self.cluster is not None and not self.adopted:
            _dask.close_cluster(self.cluster)

    def _repr_html_(self) -> str:
        return self.client._repr_html_()

    def _repr_pretty_(self, p: Any, cycle: bool) -> None:
        self.client._repr_pretty_(p, cycle)


def open_session(session: Session) -> Session:
    """Make ``session`` this kernel's session; every start and connect ends here."""
    global _session
    if install(session.client):
        session.hang_watcher = HangWatcher(session.client, config.seconds("hang-warning"))
    _session = session
    _registry.register(session)
    return session


def current() -> Session | None:
    """The session of this kernel, or ``None`` when no cluster is running.

    Examples
    --------
    >>> import jupyter_nest
    >>> jupyter_nest.current() is None  # before start  # doctest: +SKIP
    True
    """
    return _session


def require(what: str = "This") -> Session:
    """The session of this kernel, adopting the default Dask client if there is none yet; a
    :class:`NoClusterError` explaining how to start one if there is no client either."""
    session = _session or _adopt()
    if session is None:
        raise NoClusterError(what)
    return session


def check_free(replace: bool) -> None:
    """Raise when a session is open, unless ``replace`` (then end it first).

    A session on the user's own cluster (``attach``) is only detached from, which loses nothing.
    """
    if _session is None:
        return
    if not replace and not _session.adopted:
        raise NestError(
            f"A cluster is already running in this kernel ({_session.describe()}). Keep using it, "
            "stop it first with `%nest_cluster stop`, or replace it with `%nest_cluster start "
            "--replace` (`jupyter_nest.start(..., replace=True)`)."
        )
    stop()


def worker_set(client: Client) -> set[tuple[str, str]]:
    """The workers, each as (address, scratch directory): a restarted worker may keep its address."""
    return {(address, info.get("local_directory", ""))
            for address, info in client.scheduler_info(n_workers=-1)["workers"].items()}


def wait_for_worker_count(client: Client, n: int, timeout: float,
                           excluding: AbstractSet[tuple[str, str]] = frozenset()) -> None:
    """Wait for exactly ``n`` workers, none of them in ``excluding`` (see :func:`worker_set`).

    Dask's ``wait_for_workers`` only waits for at least n, and its ``restart`` may
    return while the old workers, killed, are still registered.
    """
    deadline = time.monotonic() + timeout
    while (workers := worker_set(client)) & excluding or len(workers) != n:
        if time.monotonic() > deadline:
            raise TimeoutError
        time.sleep(0.1)


def stop() -> str:
    """End this kernel's session: close the cluster it started, or disconnect from a remote one.

    Returns
    -------
    str
        What was stopped, for the notebook.

    Examples
    --------
    >>> import jupyter_nest
    >>> jupyter_nest.stop()  # doctest: +SKIP
    'Stopped the local cluster of worker processes at tcp://127.0.0.1:40007.'
    """
    global _session
    with _lock:
        session, _session = _session, None
    if session is None:
        return "No cluster is running in this kernel; nothing to stop."
    address = session.address
    _registry.unregister()
    if session.adopted:
        _forget(address)
    session.close()
    if session.adopted:
        return (f"Detached from {session.kind.removesuffix(' (attached)')} at {address}; it and your client keep "
                "running (`%nest_cluster attach` adopts it again).")
    if session.cluster is None:
        return f"Disconnected from {address}; that scheduler and its workers keep running."
    return f"Stopped the {session.kind} at {address}."


@atexit.register
def _stop_at_exit() -> None:
    if _session is not None:
        stop()


def _session_client(what: str) -> Client | None:
    """This kernel's client, for ``runtime``: ``what`` needs one, and runtime says so when there is none."""
    session = _session or _adopt()
    return session.client if session is not None else None


runtime.use_session_client(_session_client)
