"""``attach``: adopt a Dask client or cluster the user made themselves, and the default client on first use.

Adopting opens a session on the user's scheduler through a client of our own (so
that closing ours never closes theirs), installs the plugins when the cluster can
load them, and marks the session as adopted: ``stop`` then only detaches, and
``restart`` refuses, since neither the cluster nor its workers are ours.
"""

from __future__ import annotations

import asyncio
import weakref
from typing import Any

import distributed
from distributed import Client
from distributed.deploy import Cluster

from .. import config
from ..errors import NestConnectionError, NestError, NestTimeoutError
from ..runtime import NestClient
from . import _session
from ._client import SessionClient
from ._foreign import is_cluster
from ._session import Session, _lock, check_free, open_session

# Clients the user detached from (``stop`` on an adopted session): only an explicit ``attach`` takes them again,
# or every use after a stop would adopt the cluster the user just let go of.
_detached: weakref.WeakSet[Client] = weakref.WeakSet()


def _target_of(target: Any) -> tuple[Client | None, Any]:
    if isinstance(target, Client):
        cluster = getattr(target, "cluster", None)
        return target, cluster if is_cluster(cluster) else None
    if is_cluster(target):
        return None, target
    raise NestError(
        f"attach takes a distributed.Client or a Dask cluster object (LocalCluster, SLURMCluster, "
        f"GatewayCluster, ...), got {type(target).__name__}. Pass the variable that holds your client "
        "or cluster, e.g. `jupyter_nest.attach(client)` or `%nest_cluster attach client`."
    )


def _describe(client: Client | None, cluster: Any) -> str:
    if cluster is not None:
        return f"your {type(cluster).__name__} (attached)"
    return "your client's scheduler (attached)"


def _scheduler_of(client: Client | None, cluster: Any) -> str:
    if cluster is not None:
        return str(cluster.scheduler_address)
    scheduler = getattr(client, "scheduler", None)
    return str(getattr(scheduler, "address", None) or "an unknown scheduler")


def _open_client(client: Client | None, cluster: Any, timeout: float) -> SessionClient:
    """A client of our own to the same scheduler, with the same security, never the default."""
    address = _scheduler_of(client, cluster)
    if client is not None and client.status != "running":
        raise NestError(
            f"The client you gave is {client.status}, so there is no scheduler to attach to. Make a new "
            "one (`client = distributed.Client(cluster)`) and attach that."
        )
    if cluster is not None and not cluster.scheduler_address:
        raise NestError(f"The {type(cluster).__name__} you gave has no scheduler (is it closed?). Start it "
                        "again, then attach it.")
    try:
        if cluster is not None:
            return SessionClient(cluster, timeout=timeout, set_as_default=False)
        assert client is not None
        return SessionClient(address, timeout=timeout, security=client.security, set_as_default=False)
    except (OSError, TimeoutError) as e:
        kind = NestTimeoutError if isinstance(e, (TimeoutError, asyncio.TimeoutError)) else NestConnectionError
        raise kind(f"Cannot attach to the scheduler at {address}: {e}. Check that it still runs.") from None


def _same_scheduler(session: Session, client: Client | None, cluster: Any) -> bool:
    try:
        return session.address == _scheduler_of(client, cluster)
    except Exception:  # a closed client or cluster: not the same as anything
        return False


def attach(target: Client | Cluster | Any = None, replace: bool = False) -> Session:
    """Work with a Dask client or cluster you made yourself: ``@nest``, the slot view, lineage, ``%%nest_submit``.

    jupyter_nest installs its plugins on that cluster when its scheduler and workers can
    import jupyter_nest (and warns, naming what is off, when they cannot; plain Dask still
    works). It opens a client of its own to the same scheduler and leaves yours as it is,
    the default client included. It never stops or restarts what you started: ``stop``
    detaches, and your cluster and client keep running.

    Parameters
    ----------
    target : distributed.Client or distributed.deploy.Cluster, optional
        Your client, or your cluster object (``LocalCluster``, ``SLURMCluster``,
        ``GatewayCluster``, ...); with a cluster, ``scale`` works too. Default:
        ``distributed.default_client()``.
    replace : bool
        Leave a session already running in this kernel first, instead of raising.

    Returns
    -------
    Session

    Examples
    --------
    >>> from distributed import Client, LocalCluster
    >>> import jupyter_nest
    >>> client = Client(LocalCluster(n_workers=2, threads_per_worker=1))  # doctest: +SKIP
    >>> session = jupyter_nest.attach(client)  # doctest: +SKIP
    >>> jupyter_nest.stop()  # doctest: +SKIP
    'Detached from your LocalCluster at tcp://127.0.0.1:40007; it and your client keep running (...).'
    """
    with _lock:
        if target is None:
            try:
                target = distributed.default_client()
            except ValueError:
                raise NestError(
                    "attach without a client needs a default Dask client, and this kernel has none. Make one "
                    "(`client = distributed.Client(cluster)`) or pass yours: `jupyter_nest.attach(client)`."
                ) from None
        client, cluster = _target_of(target)
        current = _session.current()
        if current is not None and current.adopted and _same_scheduler(current, client, cluster):
            return current
        check_free(replace)
        ours = _open_client(client, cluster, config.seconds("connect-timeout"))
        ours.nest_kind = _describe(client, cluster)
        if client is not None:
            _detached.discard(client)
        try:
            return open_session(Session(ours, cluster, adopted=True))
        except BaseException:
            ours.close()
            raise


def adopt_default() -> Session | None:
    """Adopt the user's default Dask client when this kernel has no session; ``None`` when there is none to adopt.

    What ``@nest``, the slot view, ``task_tree``, ``%%nest_submit`` and the Nest panel call on
    first use: a user who made ``Client(LocalCluster())`` the ordinary Dask way gets them on it.
    """
    with _lock:
        if _session.current() is not None:
            return _session.current()
        try:
            client = distributed.default_client()
        except ValueError:
            return None
        # Ours are not the user's: a worker's client (workers as threads of this kernel), a stopped session's.
        if client.status != "running" or isinstance(client, NestClient) or client in _detached:
            return None
        return attach(client)


def forget(address: str) -> None:
    """Remember that the user detached from the scheduler at ``address``, so its default client is not
    adopted again on its own."""
    try:
        client = distributed.default_client()
    except ValueError:
        return
    if _scheduler_of(client, None) == address:
        _detached.add(client)


_session.use_adopter(adopt_default, forget)
