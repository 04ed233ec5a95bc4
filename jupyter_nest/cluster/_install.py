"""The composition root: puts every feature's scheduler and worker plugins on a cluster when a session opens.

It is the one place that knows all the features, so it hands each what it needs
from the others (the monitor counts @nest's inline children through the
function passed here) and the features never import each other sideways.
``%%nest_submit``'s output plugin is the exception: it works on workers without
jupyter_nest, so ``submit`` registers it itself, when a cell is first sent.
"""

from __future__ import annotations

import importlib.metadata
import warnings

from distributed import Client

from .. import _dask, config
from ..forkjoin import BalancerPlugin, OfferPlugin, inline_counts
from ..monitor import MonitorPlugin, SlotsPlugin
from ..runtime import LineagePlugin, RuntimePlugin

_VERSION = importlib.metadata.version("jupyter_nest")


def _missing_on(client: Client) -> list[str]:
    """Where jupyter_nest cannot be imported: "the scheduler" and/or worker addresses."""
    missing = []
    try:
        client.run_on_scheduler(importlib.metadata.version, "jupyter_nest")
    except Exception:
        missing.append("the scheduler")
    versions = client.run(importlib.metadata.version, "jupyter_nest", on_error="return")
    missing += [addr for addr, v in versions.items() if not isinstance(v, str)]
    return missing


def install(client: Client) -> bool:
    """Register the plugins; warn and return False when the cluster cannot load them.

    Examples
    --------
    >>> install(client)  # doctest: +SKIP
    True
    """
    missing = _missing_on(client)
    if missing:
        warnings.warn(
            f"jupyter_nest {_VERSION} is not installed on {', '.join(missing)} of "
            f"{_dask.scheduler_address(client)}, so task lineage, cancellation of spawned tasks, hang "
            "warnings, the slot view and @nest are off for this cluster (plain Dask tasks still run). "
            f"Install it there (`pip install jupyter_nest=={_VERSION}`) and connect again.",
            stacklevel=3,
        )
        return False
    client.register_plugin(LineagePlugin(max_tasks=config.get("lineage-max-tasks")))
    client.register_plugin(MonitorPlugin())
    client.register_plugin(RuntimePlugin())
    client.register_plugin(BalancerPlugin())
    client.register_plugin(OfferPlugin())
    client.register_plugin(SlotsPlugin(
        interval=config.seconds("monitor-interval"),
        blocked_scan=config.seconds("blocked-scan"),
        inline_counts=inline_counts,
    ))
    return True
