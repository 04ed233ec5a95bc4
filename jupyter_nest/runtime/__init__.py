"""Tasks launching tasks: Dask's ``get_client``, ``worker_client``, ``secede`` and ``rejoin``, made safe.

- ``_client``: :class:`NestClient`, whose waits secede, keep returned futures alive,
  explain errors and cancel on interrupt;
- ``_api``: the functions users call, the worker's client and its plugin;
- ``_lineage``: the scheduler plugin recording who spawned whom (trees, error
  chains, cancellation of orphans);
- ``_tree``: :class:`TaskTree`, the tree as the notebook shows it;
- ``_watch``: the hook through which the view shows progress while the kernel waits.
"""

from ._api import (
    RuntimePlugin,
    get_client,
    kernel_client,
    latest_tree_async,
    rejoin,
    secede,
    task_client,
    task_tree,
    tree_data,
    use_session_client,
    worker_client,
)
from ._client import NestClient, holding_slot
from ._lineage import LineagePlugin
from ._tree import TaskTree
from ._watch import watch_waits

__all__ = [
    "LineagePlugin",
    "NestClient",
    "RuntimePlugin",
    "TaskTree",
    "get_client",
    "holding_slot",
    "kernel_client",
    "latest_tree_async",
    "rejoin",
    "secede",
    "task_client",
    "task_tree",
    "tree_data",
    "use_session_client",
    "watch_waits",
    "worker_client",
]
