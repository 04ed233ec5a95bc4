"""``start``: a cluster for this kernel, local, of any Dask cluster class, or over SSH."""

from __future__ import annotations

import copy
import importlib
import logging
from typing import Any

import dask
from dask.utils import parse_bytes
from distributed import LocalCluster, Security
from distributed.deploy import Cluster

from .. import _dask, config
from .._wire import PRELOAD_MODULE
from ..errors import NestError, NestTimeoutError
from . import _exposure, _preload
from ._client import SessionClient
from ._connect import root_cause
from ._foreign import gateway_failure, is_cluster_class
from ._malloc import pin_mmap_threshold
from ._session import Session, _lock, check_free, open_session, wait_for_worker_count, worker_set
from .ssh import SSHOptions
from .ssh import plan as ssh_plan


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
    if not is_cluster_class(cls):
        raise NestError(
            f"--cluster {path} is not a Dask cluster class (a subclass of "
            "distributed.deploy.Cluster, such as distributed.LocalCluster, distributed.SSHCluster "
            "or dask_jobqueue.SLURMCluster, or dask_gateway.GatewayCluster)."
        )
    return cls


def _local_plan(
    workers: int | None,
    threads: int | None,
    memory_limit: str | int | None,
    processes: bool | None,
    dashboard: bool | None,
) -> tuple[type[Cluster], dict[str, Any], str]:
    fit_workers, fit_threads = _dask.nprocesses_nthreads()
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
    _preload.quiet_worker_loss()  # the scheduler runs in this kernel
    if processes:
        options["preload"] = [*dask.config.get("distributed.worker.preload"), PRELOAD_MODULE]
    else:
        _preload.quiet_task_failures()
    kind = "local cluster of worker processes" if processes else "local cluster of threads in this kernel"
    return _dask.NannyKeepingLocalCluster, options, kind


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
            cause = root_cause(e)
            refused = gateway_failure(cls, options, cause)
            if refused is not None:
                raise refused from None
            what = f"--cluster {path} with the options {options!r}" if path else "The local cluster"
            fix = (
                f"Check the option names and values against {cls.__name__}'s documentation."
                if path
                else "Check --memory-limit and the machine's free memory and ports."
            )
            raise NestError(
                f"{what} failed to start: {type(cause).__name__}: {cause}. {fix}"
            ) from None


def _given(ssh_options: SSHOptions | dict[str, Any] | None) -> bool:
    if ssh_options is None:
        return False
    values = ssh_options.values() if isinstance(ssh_options, dict) else vars(ssh_options).values()
    return any(v is not None for v in values)


def _check_combination(cluster: str | None, options: dict[str, Any] | None, ssh: str | list[str] | None,
                       ssh_options: SSHOptions | dict[str, Any] | None) -> None:
    """Refuse settings that belong to a kind of cluster that was not asked for."""
    if options and cluster is None:
        raise NestError("--option sets keyword arguments of --cluster MODULE.CLASS; give --cluster too "
                        "(from Python: `options=` goes with `cluster=`).")
    if ssh is None and _given(ssh_options):
        raise NestError("--ssh-port, --ssh-user, --ssh-key, --ssh-known-hosts, --remote-python and "
                        "--workers-per-host describe an SSH cluster; give the hosts with --ssh too "
                        "(from Python: `ssh_options=` goes with `ssh=`).")


def _await_workers(client: SessionClient, n: int) -> None:
    """Return once the ``n`` workers a cluster of ours launched have joined: an SSH worker's process is up
    before it registers with the scheduler, and a summary or a submission right after start must see it."""
    timeout = config.seconds("start-timeout")
    try:
        wait_for_worker_count(client, n, timeout)
    except TimeoutError:
        joined = len(worker_set(client))
        raise NestTimeoutError(
            f"The cluster started, but only {joined} of its {n} workers joined the scheduler within "
            f"{timeout:g} s (jupyter-nest.start-timeout). The machine may be overloaded, or the workers cannot "
            "reach the scheduler; raise the limit, or check the workers' logs."
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
    ssh_options: SSHOptions | dict[str, Any] | None = None,
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
        _check_combination(cluster, options, ssh, ssh_options)
        if ssh is not None:
            cls, kwargs, kind = ssh_plan(
                ssh, ssh_options, workers=workers, threads=_positive("--threads", threads),
                memory_limit=_memory_limit(memory_limit), processes=processes, dashboard=dashboard,
                cluster=cluster, security=security, insecure=insecure,
            )
        elif cluster is None:
            cls, kwargs, kind = _local_plan(workers, threads, memory_limit, processes, dashboard)
        else:
            cls, kwargs, kind = _class_plan(cluster, options or {}, threads, memory_limit, processes)
            _positive("--workers", workers)
        kwargs = _exposure.secure_options(cls, kwargs, security, insecure)
        check_free(replace)
        if issubclass(cls, LocalCluster):
            # its scheduler runs in this process, for as long as the kernel does
            pin_mmap_threshold()
        created = _create(cls, kwargs, cluster)
        client = None
        try:
            client = SessionClient(created, set_as_default=True, timeout=config.seconds("start-timeout"))
            client.nest_kind = kind
            client.nest_dashboard = kwargs.get("scheduler_kwargs", {}).get("dashboard", True)
            _exposure.check_listening(_dask.scheduler_address(client), insecure)
            if cluster is None and isinstance(created, _dask.SpecCluster):
                _await_workers(client, len(created.worker_spec))
            session = Session(client, created)
            if cluster is not None and workers is not None:
                session.scale(workers, starting=True)
            return open_session(session)
        except BaseException:
            if client is not None:
                client.close()
            created.close()
            raise


