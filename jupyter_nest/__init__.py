"""jupyter_nest: dynamic, recursive parallel work from Jupyter notebooks, on Dask distributed.

In a notebook::

    %load_ext jupyter_nest
    %nest_cluster start

or from Python::

    import jupyter_nest
    session = jupyter_nest.start()
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.metadata
import sys
from typing import TYPE_CHECKING, Any

from . import _compat, _wire

if TYPE_CHECKING:
    from . import config
    from .cluster import Session, attach, connect, current, start, stop
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
    "attach": "cluster",
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

# Parts whose names find this kernel's cluster through the session, which the cluster part owns.
_ADOPTING = {"runtime", "forkjoin"}

# Parts that hand out the kernel's client: with any of them loaded, a long wait of the notebook shows progress.
_CLIENT_PARTS = {"cluster", "forkjoin", "runtime", "submit", "view"}

# Parts users reach as attributes (``jupyter_nest.monitor.snapshot``), imported on first use too.
_SUBPACKAGES = {"cluster", "config", "errors", "forkjoin", "lab", "magics", "monitor", "runtime", "submit", "view"}

__all__ = [
    "NestClient",
    "NestError",
    "NoClusterError",
    "Session",
    "SlotWidget",
    "TaskTree",
    "attach",
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
        if name in _CLIENT_PARTS:
            _show_progress_of_waits()
        return importlib.import_module(f"{__name__}.{name}")
    part = _PARTS.get(name)
    if part is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    if part in _CLIENT_PARTS:
        _show_progress_of_waits()
    if part in _ADOPTING:
        # The cluster part installs the session lookup these parts use, which adopts the user's default
        # Dask client on first use: `fib.spawn(20)` after `Client(LocalCluster())` runs on that cluster.
        importlib.import_module(f"{__name__}.cluster")
    value = getattr(importlib.import_module(f"{__name__}.{part}"), name)
    globals()[name] = value
    return value


def _show_progress_of_waits() -> None:
    """Let the view show progress bars while the notebook waits (the runtime cannot import the view)."""
    importlib.import_module(f"{__name__}.runtime").watch_waits(_bars_while_waiting)


def _bars_while_waiting(client: Any, futures: list[Any]) -> Any:
    if "ipykernel" not in sys.modules:
        return contextlib.nullcontext()  # a script: nothing to show a bar in
    # The view (and Bokeh) is imported at the first wait of the notebook, not with every part.
    return importlib.import_module(f"{__name__}.view").bars_while_waiting(client, futures)


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})


def load_ipython_extension(ipython: Any) -> None:
    """``%load_ext jupyter_nest``: register the magics, and adopt a Dask client the user makes."""
    from .magics import NestMagics, adopt_after_cell

    ipython.register_magics(NestMagics)
    if adopt_after_cell not in ipython.events.callbacks["post_run_cell"]:
        ipython.events.register("post_run_cell", adopt_after_cell)


def unload_ipython_extension(ipython: Any) -> None:
    """``%unload_ext jupyter_nest``: stop this kernel's cluster so no worker outlives the extension."""
    from .cluster import stop
    from .magics import adopt_after_cell

    if adopt_after_cell in ipython.events.callbacks["post_run_cell"]:
        ipython.events.unregister("post_run_cell", adopt_after_cell)
    stop()


def _jupyter_labextension_paths() -> list[dict[str, str]]:
    """Where JupyterLab finds the prebuilt Nest panel; ``pip install`` also copies it to share/jupyter."""
    return [{"src": "labextension", "dest": _wire.LABEXTENSION_NAME}]


def _jupyter_server_extension_points() -> list[dict[str, str]]:
    """The server extension behind the Nest panel (enabled by the config ``pip install`` puts in place)."""
    return [{"module": "jupyter_nest.lab"}]
