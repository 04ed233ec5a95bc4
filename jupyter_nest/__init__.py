"""jupyter_nest: dynamic, recursive parallel work from Jupyter notebooks, on Dask distributed.

In a notebook::

    %load_ext jupyter_nest
    %nest_cluster start

or from Python::

    import jupyter_nest
    session = jupyter_nest.start()
"""

from __future__ import annotations

import importlib
import importlib.metadata
from typing import TYPE_CHECKING, Any

from . import _compat, _wire

if TYPE_CHECKING:
    from . import config
    from .cluster import Session, connect, current, start, stop
    from .errors import NestError, NoClusterError
    from .forkjoin import nest
    from .runtime import NestClient, TaskTree, get_client, rejoin, secede, task_tree, worker_client
    from .submit import submit_cell
    from .view import SlotWidget, progress, widget

__version__ = importlib.metadata.version(__name__)

_compat.install_finder()

# Public name -> the part that defines it. Imported on first use, so that Jupyter's server, which
# imports this package to find its server extension, never pays for importing Dask and Bokeh.
_PARTS = {
    "NestClient": "runtime",
    "NestError": "errors",
    "NoClusterError": "errors",
    "Session": "cluster",
    "SlotWidget": "view",
    "TaskTree": "runtime",
    "connect": "cluster",
    "current": "cluster",
    "get_client": "runtime",
    "nest": "forkjoin",
    "progress": "view",
    "rejoin": "runtime",
    "secede": "runtime",
    "start": "cluster",
    "stop": "cluster",
    "submit_cell": "submit",
    "task_tree": "runtime",
    "widget": "view",
    "worker_client": "runtime",
}

# Parts users reach as attributes (``jupyter_nest.monitor.snapshot``), imported on first use too.
_SUBPACKAGES = {"cluster", "config", "errors", "forkjoin", "lab", "magics", "monitor", "runtime", "submit", "view"}

__all__ = [
    "NestClient",
    "NestError",
    "NoClusterError",
    "Session",
    "SlotWidget",
    "TaskTree",
    "config",
    "connect",
    "current",
    "get_client",
    "nest",
    "progress",
    "rejoin",
    "secede",
    "start",
    "stop",
    "submit_cell",
    "task_tree",
    "widget",
    "worker_client",
]


def __getattr__(name: str) -> Any:
    if name in _SUBPACKAGES:
        return importlib.import_module(f"{__name__}.{name}")
    part = _PARTS.get(name)
    if part is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{part}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})


def load_ipython_extension(ipython: Any) -> None:
    """``%load_ext jupyter_nest``: register the magics."""
    from .magics import NestMagics

    ipython.register_magics(NestMagics)


def unload_ipython_extension(ipython: Any) -> None:
    """``%unload_ext jupyter_nest``: stop this kernel's cluster so no worker outlives the extension."""
    from .cluster import stop

    stop()


def _jupyter_labextension_paths() -> list[dict[str, str]]:
    """Where JupyterLab finds the prebuilt Nest panel; ``pip install`` also copies it to share/jupyter."""
    return [{"src": "labextension", "dest": _wire.LABEXTENSION_NAME}]


def _jupyter_server_extension_points() -> list[dict[str, str]]:
    """The server extension behind the Nest panel (enabled by the config ``pip install`` puts in place)."""
    return [{"module": "jupyter_nest.lab"}]
