"""Cluster lifecycle: the one cluster (or remote scheduler) a kernel works with, and its client.

A kernel holds at most one :class:`Session`. :func:`start` creates a cluster
and :func:`connect` attaches to a scheduler that runs elsewhere; both make the
session's client the default Dask client. :func:`stop` ends the session; an
exiting kernel ends it too, so no worker outlives the kernel that started it.
"""

from __future__ import annotations

import asyncio
import atexit
import copy
import importlib
import logging
import socket
import ssl
import threading
import time
from collections.abc import Set as AbstractSet
from typing import Any
from urllib.parse import urlsplit

import dask
from dask.utils import parse_bytes
from distributed import LocalCluster, Security
from distributed.comm import connect as dask_connect
from distributed.deploy import Cluster
from distributed.deploy.utils import nprocesses_nthreads

from . import aio, config, exposure, plugins, preload, registry, remote
from .client import NestClient
from .errors import NestError, NoClusterError
from .hangs import HangWatcher
from .summary import ClusterSummary

_SCHEMES = ("tcp", "tls")

_lock = threading.RLock()
_session: Session | None = None


class Session:
    """A cluster and the client this kernel reaches it with.

    Parameters
    ----------
    client : NestClient
        The connected client; it is the default Dask client while the session lives.
    cluster : distributed.deploy.Cluster, optional
        The cluster object when jupyter_nest started it; ``None`` when connected
        to a scheduler that runs elsewhere (which ``stop`` then leaves running).

    Examples
    --------
    >>> import jupyter_nest
    >>> session = jupyter_nest.start(workers=2, threads=1)  # doctest: +SKIP
    >>> session.client.submit(pow, 2, 10).result()  # doctest: +SKIP
    1024
    >>> jupyter_nest.stop()  # doctest: +SKIP
    """

    def __init__(self, client: NestClient, cluster: Cluster | None) -> None:
        self.client = client
        self.cluster = cluster
        self.hang_watcher: HangWatcher | None = None

    @property
    def kind(self) -> str:
        return self.client.nest_kind

    @property
    def address(self) -> str:
        return self.client.scheduler.address

    def summary(self, detailed: bool = False) -> ClusterSummary:
        return self.client.summary(detailed=detailed)

    def describe(self) -> str:
        """One line naming the cluster, for messages."""
        s = self.summary()
        return f"{s.kind}, {s.shape()}, scheduler {s.scheduler}"

    def scale(self, n: int, timeout: float | str | None = None) -> ClusterSummary:
        """Scale to ``n`` workers and wait until they are there."""
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
            _wait_for_worker_count(self.client, n, wait)
        except TimeoutError:
            have = len(self.client.scheduler_info(n_workers=-1)["workers"])
            raise NestError(
                f"Asked for {n} workers, {have} arrived within {wait:g} s. The cluster keeps "
                "trying; check `%nest_cluster status` in a moment, or raise "
                "`jupyter-nest.start-timeout`."
            ) from None
        return self.summary()

    def restart(self) -> ClusterSummary:
        """Restart every worker: running tasks are cancelled and memory is cleared."""
        timeout = config.seconds("start-timeout")
        old = _workers(self.client)
        try:
            self.client.restart(timeout=timeout)
            _wait_for_worker_count(self.client, len(old), timeout, excluding=old)
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
        if self.cluster is not None:
            self.cluster.close()

    def _repr_html_(self) -> str:
        return self.client._repr_html_()

    def _repr_pretty_(self, p: Any, cycle: bool) -> None:
        self.client._repr_pretty_(p, cycle)


def _open(session: Session) -> Session:
    """Make ``session`` this kernel's session; every start and connect ends here."""
    global _session
    if plugins.install(session.client):
        session.hang_watcher = HangWatcher(session.client, config.seconds("hang-warning"))
    _session = session
    registry.register(session)
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
    """The session of this kernel; a :class:`NoClusterError` explaining how to start one if none."""
    if _session is None:
        raise NoClusterError(what)
    return _session


def _check_free(replace: bool) -> None:
    if _session is None:
        return
    if not replace:
        raise NestError(
            f"A cluster is already running in this kernel ({_session.describe()}). Keep using it, "
            "stop it first with `%nest_cluster stop`, or replace it with `%nest_cluster start "
            "--replace` (`jupyter_nest.start(..., replace=True)`)."
        )
    stop()


def _workers(client: NestClient) -> set[tuple[str, str]]:
    """The workers, each as (address, scratch directory): a restarted worker may keep its address."""
    return {(address, info.get("local_directory", ""))
            for address, info in client.scheduler_info(n_workers=-1)["workers"].items()}


def _wait_for_worker_count(client: NestClient, n: int, timeout: float,
                           excluding: AbstractSet[tuple[str, str]] = frozenset()) -> None:
    """Wait for exactly ``n`` workers, none of them in ``excluding`` (see :func:`_workers`).

    Dask's ``wait_for_workers`` only waits for at least n, and its ``restart`` may
    return while the old workers, killed, are still registered.
    """
    deadline = time.monotonic() + timeout
    while (workers := _workers(client)) & excluding or len(workers) != n:
        if time.monotonic() > deadline:
            raise TimeoutError
        time.sleep(0.1)


def _positive(name: str, value: int | None) -> int | None:
    if value is not None and (not isinstance(value, int) or value < 1):
        raise NestError(f"{name} must be a whole number of 1 or more, got {value!r}: e.g. {name} 2.")
    return value


def _memory_limit(value: str | int | None) -> str | int:
    value = config.get("memory-limit", value)
    if value in ("auto", None):
        return "auto"
    try:
        return parse_bytes(value)
    except (ValueError, TypeError):
        raise NestError(
            f"--memory-limit {value!r} is not an amount of memory: use e.g. 4GiB, 500MB, or auto "
            "(the machine's memory split across the workers)."
        ) from None


def _import_cluster_class(path: str) -> type[Cluster]:
    module_name, _, class_name = path.rpartition(".")
    if not module_name:
        raise NestError(
            f"--cluster {path!r} needs the full path MODULE.CLASS, e.g. "
            "--cluster distributed.LocalCluster or --cluster dask_jobqueue.SLURMCluster."
        )
    try:
        module = importlib.import_module(module_name)
    except ImportError as e:
        raise NestError(
            f"--cluster {path}: module {module_name!r} does not import ({e}). Install the package "
            "that provides it into this kernel's environment (e.g. `pip install dask-jobqueue`) "
            "or fix the spelling."
        ) from None
    cls = getattr(module, class_name, None)
    if cls is None:
        raise NestError(
            f"--cluster {path}: module {module_name!r} has no attribute {class_name!r}. Check the "
            "class name (it is case-sensitive)."
        )
    if not (isinstance(cls, type) and issubclass(cls, Cluster)):
        raise NestError(
            f"--cluster {path} is not a Dask cluster class (a subclass of "
            "distributed.deploy.Cluster, such as distributed.LocalCluster, distributed.SSHCluster "
            "or dask_jobqueue.SLURMCluster)."
        )
    return cls


def _local_plan(
    workers: int | None,
    threads: int | None,
    memory_limit: str | int | None,
    processes: bool | None,
    dashboard: bool | None,
) -> tuple[type[Cluster], dict[str, Any], str]:
    fit_workers, fit_threads = nprocesses_nthreads()
    processes = bool(config.get("processes", processes))
    options = dict(
        n_workers=_positive("--workers", config.get("workers", workers)) or fit_workers,
        threads_per_worker=_positive("--threads", config.get("threads", threads)) or fit_threads,
        memory_limit=_memory_limit(memory_limit),
        processes=processes,
        # tcp on loopback even for thread workers: Dask's default inproc transport
        # gives each in-kernel worker a dashboard on every interface.
        host="127.0.0.1",
        protocol="tcp://",
        # Without a dashboard the scheduler still serves its health and metrics
        # routes; an explicit address keeps those on loopback and a free port.
        dashboard_address=config.get("dashboard-address"),
        scheduler_kwargs={"dashboard": bool(config.get("dashboard", dashboard))},
        silence_logs=logging.ERROR,
    )
    if processes:
        options["preload"] = [*dask.config.get("distributed.worker.preload"), "jupyter_nest.preload"]
    else:
        preload.quiet_task_failures()
    kind = "local cluster of worker processes" if processes else "local cluster of threads in this kernel"
    return LocalCluster, options, kind


def _class_plan(
    path: str, options: dict[str, Any], threads: Any, memory_limit: Any, processes: Any
) -> tuple[type[Cluster], dict[str, Any], str]:
    if threads is not None or memory_limit is not None or processes is not None:
        raise NestError(
            "--threads, --memory-limit and --no-processes describe the local cluster; "
            f"for --cluster {path} give that class's own settings with "
            "--option key=value (e.g. --option cores=4)."
        )
    cls = _import_cluster_class(path)
    if issubclass(cls, LocalCluster):
        # A LocalCluster is ours to keep on loopback unless the user says otherwise.
        options = {"host": "127.0.0.1", "dashboard_address": config.get("dashboard-address"), **options}
    return cls, options, cls.__name__


def _root_cause(error: BaseException) -> BaseException:
    while error.__cause__ is not None or error.__context__ is not None:
        error = error.__cause__ or error.__context__
    return error


def _create(cls: type[Cluster], options: dict[str, Any], path: str | None) -> Cluster:
    with dask.config.set({"distributed.worker.profile.enabled": config.get("worker-profile")}):
        kwargs = options
        if issubclass(cls, LocalCluster) and options.get("processes", True):
            # A nanny restarts its worker with the config it was made with, whose nested
            # sections are the global ones that `dask.config.set` blocks (this one, the
            # user's) restore on exit: give it a copy of the config as it is now.
            kwargs = {**options, "config": copy.deepcopy(dask.config.config)}
        try:
            return cls(**kwargs)
        except NestError:
            raise
        except Exception as e:
            cause = _root_cause(e)
            what = f"--cluster {path} with the options {options!r}" if path else "The local cluster"
            fix = (
                f"Check the option names and values against {cls.__name__}'s documentation."
                if path
                else "Check --memory-limit and the machine's free memory and ports."
            )
            raise NestError(
                f"{what} failed to start: {type(cause).__name__}: {cause}. {fix}"
            ) from None


def start(
    workers: int | None = None,
    threads: int | None = None,
    memory_limit: str | int | None = None,
    processes: bool | None = None,
    dashboard: bool | None = None,
    cluster: str | None = None,
    options: dict[str, Any] | None = None,
    replace: bool = False,
    ssh: str | list[str] | None = None,
    ssh_options: remote.SSHOptions | dict[str, Any] | None = None,
    security: Security | None = None,
    insecure: bool = False,
) -> Session:
    """Start a cluster for this kernel and make its client the default.

    Parameters
    ----------
    workers, threads : int, optional
        Worker processes and threads per worker. Default: ``jupyter-nest.workers``
        and ``.threads``, or a split of this machine's cores when those are null.
    memory_limit : str or int, optional
        Memory per worker, e.g. ``"4GiB"``; ``"auto"`` splits the machine's memory.
    processes : bool, optional
        ``False`` runs the workers as threads inside the kernel.
    dashboard : bool, optional
        Serve Dask's dashboard (on 127.0.0.1, a free port).
    cluster : str, optional
        ``"MODULE.CLASS"`` of any Dask cluster class to start instead of the
        local default, e.g. ``"dask_jobqueue.SLURMCluster"``; ``workers`` then
        scales it after it starts.
    options : dict, optional
        Keyword arguments for that class.
    replace : bool
        Stop a cluster already running in this kernel first, instead of raising.
    ssh : str or list of str, optional
        ``"host1,host2"``: start the cluster over SSH; the first host runs the
        scheduler, the others ``workers_per_host`` workers each (one host: both).
    ssh_options : SSHOptions or dict, optional
        ``port``, ``user``, ``key``, ``known_hosts``, ``remote_python``,
        ``workers_per_host``; defaults in ``jupyter-nest.ssh.*``.
    security : distributed.Security, optional
        TLS certificates for the cluster (``security_from_files``). A cluster
        that listens beyond loopback gets fresh ones when none are given.
    insecure : bool
        Allow plain TCP beyond loopback (with a warning).

    Returns
    -------
    Session

    Examples
    --------
    >>> import jupyter_nest
    >>> session = jupyter_nest.start(workers=2, threads=1)  # doctest: +SKIP
    >>> session.summary().workers  # doctest: +SKIP
    2
    >>> session = jupyter_nest.start(ssh="node1,node2", ssh_options={"key": "~/.ssh/id_ed25519"},
    ...                              replace=True)  # doctest: +SKIP
    >>> session = jupyter_nest.start(cluster="distributed.LocalCluster",
    ...                              options={"n_workers": 1}, replace=True)  # doctest: +SKIP
    """
    with _lock:
        if ssh is not None:
            cls, kwargs, kind = remote.plan(
                ssh, ssh_options, workers=workers, threads=_positive("--threads", threads),
                memory_limit=_memory_limit(memory_limit), processes=processes, dashboard=dashboard,
                cluster=cluster, security=security, insecure=insecure,
            )
        elif cluster is None:
            cls, kwargs, kind = _local_plan(workers, threads, memory_limit, processes, dashboard)
        else:
            cls, kwargs, kind = _class_plan(cluster, options or {}, threads, memory_limit, processes)
            _positive("--workers", workers)
        kwargs = exposure.secure_options(cls, kwargs, security, insecure)
        _check_free(replace)
        created = _create(cls, kwargs, cluster)
        client = None
        try:
            client = NestClient(created, set_as_default=True, timeout=config.seconds("start-timeout"))
            client.nest_kind = kind
            client.nest_dashboard = kwargs.get("scheduler_kwargs", {}).get("dashboard", True)
            exposure.check_listening(client.scheduler.address, insecure)
            session = Session(client, created)
            if cluster is not None and workers is not None:
                session.scale(workers)
            return _open(session)
        except BaseException:
            if client is not None:
                client.close()
            created.close()
            raise


def _parse_address(address: str) -> tuple[str, str, int]:
    address = address.strip()
    if "://" not in address:
        address = "tcp://" + address
    parts = urlsplit(address)
    scheme = parts.scheme
    if scheme in ("http", "https"):
        raise NestError(
            f"{address!r} is a web address, probably the dashboard's. Connect to the scheduler "
            "itself, e.g. tcp://HOST:8786 (the scheduler prints it as 'Scheduler at: ...')."
        )
    if scheme not in _SCHEMES:
        raise NestError(
            f"{address!r} has protocol {scheme!r}; jupyter_nest connects over tcp:// or tls://, "
            "e.g. tcp://10.0.0.5:8786."
        )
    try:
        host, port = parts.hostname, parts.port
    except ValueError:
        host, port = None, None
    if not host or port is None or parts.path not in ("", "/"):
        raise NestError(
            f"{address!r} is not a scheduler address: write {scheme}://HOST:PORT, "
            "e.g. tcp://10.0.0.5:8786."
        )
    return scheme, host, port


def _probe(address: str, host: str, port: int, timeout: float) -> None:
    """Fail fast, with a message naming the address, when nothing listens there."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return
    except socket.gaierror:
        raise NestError(
            f"Cannot connect to {address}: the host name {host!r} does not resolve. Check the "
            "spelling, or use the scheduler's IP address."
        ) from None
    except ConnectionRefusedError:
        raise NestError(
            f"Cannot connect to {address}: the connection was refused, so no scheduler listens on "
            f"port {port} of {host}. Check that the scheduler is running (`dask scheduler` prints "
            "its address) and the port."
        ) from None
    except (socket.timeout, TimeoutError):
        raise NestError(
            f"Cannot connect to {address}: no answer within {timeout:g} s. The host may be down "
            "or a firewall drops the traffic; raise the limit with --timeout if the network is slow."
        ) from None
    except OSError as e:
        raise NestError(f"Cannot connect to {address}: {e.strerror or e}. Check the address.") from None


def _handshake_failure(address: str, timeout: float, cause: BaseException) -> str:
    """Why the Dask handshake with ``address`` failed, and what to do about it."""
    if isinstance(cause, ssl.SSLError):
        return (
            f"Cannot connect to {address}: the TLS handshake failed ({cause.reason or cause}): this "
            "client and the scheduler do not accept each other's certificates. Give --tls-ca, "
            "--tls-cert and --tls-key issued by the scheduler's CA (or use tcp:// if it does not use TLS)."
        )
    closed = isinstance(cause, OSError) and not isinstance(cause, (asyncio.TimeoutError, TimeoutError))
    if address.startswith("tcp://") and closed:
        return (
            f"Cannot connect to {address}: the server ended the Dask handshake "
            f"({type(cause).__name__}), as a TLS scheduler does with plain-TCP clients. If it serves "
            "TLS, connect with tls:// and --tls-ca, --tls-cert and --tls-key."
        )
    hint = (
        "If it serves TLS, use tls:// with the certificates."
        if address.startswith("tcp://")
        else "Check that the certificates were issued by the scheduler's CA."
    )
    return (
        f"Cannot connect to {address}: something listens there but did not complete the "
        f"Dask handshake within {timeout:g} s ({type(cause).__name__}). Is it a "
        f"Dask scheduler? {hint}"
    )


def _handshake(address: str, timeout: float, security: Security | None) -> None:
    """Ask the scheduler who it is, within ``timeout``: Dask's own handshake can wait forever."""

    async def identity() -> dict[str, Any]:
        args = (security or Security()).get_connection_args("client")
        comm = await asyncio.wait_for(dask_connect(address, timeout=timeout, **args), timeout)
        try:
            await comm.write({"op": "identity", "reply": True})
            return await comm.read()
        finally:
            comm.abort()

    try:
        reply = aio.run(identity(), timeout)
    except Exception as e:
        raise NestError(_handshake_failure(address, timeout, _root_cause(e))) from None
    if not isinstance(reply, dict) or reply.get("type") != "Scheduler":
        raise NestError(
            f"{address} answered, but as a {reply.get('type') if isinstance(reply, dict) else 'non-Dask'} "
            "server, not a scheduler. Give the scheduler's address (not a worker's)."
        )


def connect(
    address: str,
    timeout: float | str | None = None,
    security: Security | None = None,
    replace: bool = False,
) -> Session:
    """Attach this kernel to a Dask scheduler that runs elsewhere.

    Parameters
    ----------
    address : str
        ``tcp://HOST:PORT`` or ``tls://HOST:PORT``.
    timeout : float or str, optional
        How long to try, default ``jupyter-nest.connect-timeout``.
    security : distributed.Security, optional
        Certificates for ``tls://`` schedulers.
    replace : bool
        Leave a session already running in this kernel first, instead of raising.

    Returns
    -------
    Session

    Examples
    --------
    >>> import jupyter_nest
    >>> session = jupyter_nest.connect("tcp://10.0.0.5:8786", timeout="5s")  # doctest: +SKIP
    """
    with _lock:
        scheme, host, port = _parse_address(address)
        address = f"{scheme}://{host}:{port}"
        wait = config.seconds("connect-timeout", timeout)
        if scheme == "tls" and security is None:
            raise NestError(
                f"{address} uses TLS: give the certificates with --tls-ca, --tls-cert and --tls-key "
                "(or `security=distributed.Security(...)`)."
            )
        _probe(address, host, port, wait)
        _handshake(address, wait, security)
        _check_free(replace)
        try:
            client = NestClient(address, timeout=wait, security=security, set_as_default=True)
        except (OSError, TimeoutError) as e:
            raise NestError(f"Cannot connect to {address}: {e}. Check the address and try again.") from None
        try:
            return _open(Session(client, None))
        except BaseException:
            client.close()
            raise


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
    registry.unregister()
    session.close()
    if session.cluster is None:
        return f"Disconnected from {address}; that scheduler and its workers keep running."
    return f"Stopped the {session.kind} at {address}."


@atexit.register
def _stop_at_exit() -> None:
    if _session is not None:
        stop()
