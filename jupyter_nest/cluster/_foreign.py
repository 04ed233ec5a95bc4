"""Cluster objects that are not ``distributed.deploy.Cluster`` subclasses, and what their failures mean.

A ``dask_gateway.GatewayCluster`` has the same surface (``scheduler_address``, ``security``,
``scale``, ``adapt``, ``close``, ``dashboard_link``) without the base class; a Dask ``Client``
accepts it as it accepts a cluster, and so does jupyter_nest.
"""

from __future__ import annotations

from typing import Any

import dask
from distributed.deploy import Cluster

from ..errors import NestConnectionError, NestError

_SURFACE = ("scale", "adapt", "close")


def is_cluster_class(cls: Any) -> bool:
    """Whether ``cls`` makes cluster objects a Dask ``Client`` can connect to.

    Examples
    --------
    >>> from distributed import LocalCluster
    >>> is_cluster_class(LocalCluster), is_cluster_class(dict)
    (True, False)
    """
    if not isinstance(cls, type):
        return False
    return issubclass(cls, Cluster) or all(callable(getattr(cls, name, None)) for name in _SURFACE)


def is_cluster(obj: Any) -> bool:
    """Whether ``obj`` is a cluster object (of a Dask cluster class, or one with the same surface)."""
    return is_cluster_class(type(obj)) and hasattr(obj, "scheduler_address")


def gateway_failure(cls: type, options: dict[str, Any], cause: BaseException) -> NestError | None:
    """What a Dask Gateway's refusal means, naming the gateway and the fix; ``None`` for other failures."""
    status = getattr(cause, "status", None)
    if not cls.__module__.startswith("dask_gateway") or status not in (401, 403):
        return None
    address = options.get("address") or dask.config.get("gateway.address", None) or "the configured gateway"
    return NestConnectionError(
        f"The Dask Gateway at {address} refused the credentials ({status} "
        f"{'Unauthorized' if status == 401 else 'Forbidden'}). Give the right ones in dask.config, e.g. "
        "`gateway.auth.type: basic` with `gateway.auth.kwargs: {username: ..., password: ...}` "
        "(or DASK_GATEWAY__AUTH__KWARGS__PASSWORD), or pass `--option auth=...`; keep passwords out of "
        "notebooks and command lines."
    )
