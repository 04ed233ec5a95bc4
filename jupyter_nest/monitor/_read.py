"""Snapshots of a cluster's slots, fetched from the scheduler by a client or by address."""

from __future__ import annotations

import asyncio

from distributed import Client, Security

from .. import _aio, _dask
from .._wire import SNAPSHOT_HANDLER, Snapshot


def snapshot(source: Client | str, security: Security | None = None, timeout: float = 2.0) -> Snapshot:
    """Fetch a snapshot of a cluster's slots from its scheduler.

    Parameters
    ----------
    source : Client or str
        A connected client, or a scheduler address (then a short-lived
        connection is made; no Client is needed).
    security : distributed.Security, optional
        For ``tls://`` addresses.
    timeout : float
        Seconds to wait for the answer.

    Returns
    -------
    dict
        ``{"version", "time", "scheduler", "workers": [...], "totals": {...}}``.

    Raises
    ------
    OSError, TimeoutError
        When the scheduler cannot be reached in time.

    Examples
    --------
    >>> snap = snapshot(client)  # doctest: +SKIP
    >>> snap["totals"]["running"], snap["totals"]["seceded"]  # doctest: +SKIP
    (2, 5)
    """
    if isinstance(source, Client):
        return source.sync(getattr(source.scheduler, SNAPSHOT_HANDLER), callback_timeout=timeout)
    return _aio.run(snapshot_async(source, security, timeout), timeout)


async def snapshot_async(address: str, security: Security | None = None, timeout: float = 2.0) -> Snapshot:
    """As :func:`snapshot`, from a scheduler address, in a running event loop."""
    async with _dask.scheduler_rpc(address, timeout, security) as scheduler:
        return await asyncio.wait_for(getattr(scheduler, SNAPSHOT_HANDLER)(), timeout)
