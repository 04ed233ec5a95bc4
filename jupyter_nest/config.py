"""Defaults for jupyter_nest, kept in the ``jupyter-nest`` section of ``dask.config``.

Override them like any Dask setting: in ``~/.config/dask/jupyter-nest.yaml``, with
``DASK_JUPYTER_NEST__WORKERS=4`` in the environment, or in code with
``dask.config.set({"jupyter-nest.workers": 4})``.
"""

from __future__ import annotations

import pathlib
from typing import Any

import dask.config
import yaml

from ._wire import OUR_WAIT_FRAMES

_DEFAULTS_FILE = pathlib.Path(__file__).with_name("jupyter-nest.yaml")

with _DEFAULTS_FILE.open() as f:
    _DEFAULTS = yaml.safe_load(f)
dask.config.update_defaults(_DEFAULTS)

# Tracebacks of errors raised in nested tasks pass through our client's waiting
# code at every level; hide those frames as Dask hides its own.
if OUR_WAIT_FRAMES not in dask.config.get("admin.traceback.shorten"):
    dask.config.set({"admin.traceback.shorten": [*dask.config.get("admin.traceback.shorten"), OUR_WAIT_FRAMES]})


def get(name: str, override: Any = None) -> Any:
    """Return ``override`` if given, else the ``jupyter-nest.<name>`` setting."""
    if override is not None:
        return override
    key = f"jupyter-nest.{name}"
    try:
        return dask.config.get(key)
    except KeyError:
        # Our defaults can be gone: a dask.config.set({"jupyter-nest...": ...}) that began before this
        # module was imported deletes the whole section when it exits (so does resetting the config to
        # a copy taken before, as distributed's gen_cluster does). Put them back; set values win.
        dask.config.update(dask.config.config, _DEFAULTS, priority="old")
        return dask.config.get(key)


def seconds(name: str, override: float | str | None = None) -> float:
    """A duration setting such as ``"10s"`` as a number of seconds."""
    return float(dask.utils.parse_timedelta(get(name, override), default="s"))
