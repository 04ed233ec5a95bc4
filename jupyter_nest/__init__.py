"""jupyter_nest: dynamic, recursive parallel work from Jupyter notebooks, on Dask distributed.

In a notebook::

    %load_ext jupyter_nest
    %nest_cluster start

or from Python::

    import jupyter_nest
    session = jupyter_nest.start()
"""

from __future__ import annotations

__version__ = "0.1.0"

from typing import Any

from . import _compat, _wire, config
from .cluster import Session, connect, current, start, stop
from .errors import NestError, NoClusterError
from .forkjoin import nest
from .runtime import NestClient, TaskTree, get_client, rejoin, secede, task_tree, worker_client
from .submit import submit_cell
from .view import SlotWidget, widget

_compat.install_finder()


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
    "rejoin",
    "secede",
    "start",
    "stop",
    "submit_cell",
    "task_tree",
    "widget",
    "worker_client",
]


def load_ipython_extension(ipython: Any) -> None:
    """``%load_ext jupyter_nest``: register the magics."""
    from .magics import NestMagics

    ipython.register_magics(NestMagics)


def unload_ipython_extension(ipython: Any) -> None:
    """``%unload_ext jupyter_nest``: stop this kernel's cluster so no worker outlives the extension."""
    stop()


def _jupyter_labextension_paths() -> list[dict[str, str]]:
    """Where JupyterLab finds the prebuilt Nest panel; ``pip install`` also copies it to share/jupyter."""
    return [{"src": "labextension", "dest": _wire.LABEXTENSION_NAME}]


def _jupyter_server_extension_points() -> list[dict[str, str]]:
    """The server extension behind the Nest panel (enabled by the config ``pip install`` puts in place)."""
    return [{"module": "jupyter_nest.lab"}]
