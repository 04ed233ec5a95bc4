"""The live slot view for the panel: the notebook widget's Bokeh figure, embedded once, then fed columns.

The panel renders the view from snapshots instead of running a Bokeh server app:
the Jupyter server already authenticates the browser and polls schedulers for
the cluster list, so the view needs no extra process, port or proxy, and it is
the same :class:`~jupyter_nest.slotview.SlotView` code the notebook widget uses.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import bokeh
from bokeh.embed import json_item
from bokeh.embed.bundle import bundle_for_objs_and_resources
from bokeh.resources import Resources
from bokeh.util.paths import static_path

STATIC_ROUTE = "jupyter-nest/static/"


def bokehjs_dir() -> Path:
    """The folder of the Python bokeh package's own BokehJS files, so the JS matches the Python."""
    return static_path()


@functools.lru_cache(maxsize=4)
def scripts(base_url: str) -> tuple[str, ...]:
    """The BokehJS files the slot view needs, as URLs this server serves (no CDN).

    Examples
    --------
    >>> scripts("/")  # doctest: +SKIP
    ('/jupyter-nest/static/js/bokeh.min.js?v=...', ...)
    """
    from ..slotview import SlotView

    resources = Resources(mode="server", root_url=base_url.rstrip("/") + "/jupyter-nest/")
    return tuple(getattr(u, "url", u) for u in bundle_for_objs_and_resources([SlotView().layout], resources).js_files)


def columns(snapshot: dict[str, Any]) -> dict[str, dict[str, list[Any]]]:
    """The data of every named source of the view for ``snapshot``."""
    from ..slotview import columns as slot_columns

    return slot_columns(snapshot)


def item(snapshot: dict[str, Any]) -> dict[str, Any]:
    """The view as a ``json_item``, already showing ``snapshot``."""
    from ..slotview import SlotView

    view = SlotView()
    view.update(snapshot)
    return json_item(view.layout)


def bokeh_version() -> str:
    return bokeh.__version__
