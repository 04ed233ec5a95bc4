"""The live slot view for the panel: the notebook widget's Bokeh figure, embedded once, then fed updates.

The panel renders the view from snapshots instead of running a Bokeh server app:
the Jupyter server already authenticates the browser and polls schedulers for
the cluster list, so the view needs no extra process, port or proxy, and it is
the same :class:`~jupyter_nest.view.SlotView` code the notebook widget uses.
The server keeps one ``SlotView`` per open panel view, so what ``update`` keeps
between snapshots (counts over time, axis ranges) carries on; each poll sends
the data of every named source and the ends of every ``Range1d``, which the
browser applies by source name and model id.
"""

from __future__ import annotations

import functools
import time
from pathlib import Path
from typing import Any

from .._wire import SERVER_ROUTE, Snapshot, TreeNode

# A view the browser has not polled for this long is dropped; its next poll asks for a new one.
IDLE_SECONDS = 120
# The task tree costs the scheduler a walk of the lineage: redraw it at most this often.
TREE_SECONDS = 2.0


def bokehjs_dir() -> Path:
    """The folder of the Python bokeh package's own BokehJS files, so the JS matches the Python."""
    from bokeh.util.paths import static_path

    return static_path()


@functools.lru_cache(maxsize=4)
def scripts(base_url: str) -> tuple[str, ...]:
    """The BokehJS files the slot view needs, as URLs this server serves (no CDN).

    Examples
    --------
    >>> scripts("/")  # doctest: +SKIP
    ('/jupyter-nest/static/js/bokeh.min.js', '/jupyter-nest/static/js/bokeh-widgets.min.js')
    """
    from bokeh.embed.bundle import bundle_for_objs_and_resources
    from bokeh.resources import Resources

    from ..view import SlotView

    resources = Resources(mode="server", root_url=f"{base_url.rstrip('/')}/{SERVER_ROUTE}/")
    bundle = bundle_for_objs_and_resources([SlotView().layout], resources)
    return tuple(str(getattr(url, "url", url)) for url in bundle.js_files)


def bokeh_version() -> str:
    """The version of the Python bokeh package, which the browser's BokehJS must match."""
    import bokeh

    return bokeh.__version__


def _plain(values: Any) -> list[Any]:
    return values.tolist() if hasattr(values, "tolist") else list(values)


def state(layout: Any) -> dict[str, Any]:
    """What changes in a layout: ``columns`` (source name -> data) and ``ranges`` (model id -> ends)."""
    from bokeh.models import ColumnDataSource, Range1d

    return {
        "columns": {src.name: {k: _plain(v) for k, v in src.data.items()}
                    for src in layout.select({"type": ColumnDataSource}) if src.name},
        "ranges": {r.id: {"start": r.start, "end": r.end} for r in layout.select({"type": Range1d})},
    }


class LiveViews:
    """The ``SlotView`` behind each slot view open in a browser, by (kernel id, view id)."""

    def __init__(self) -> None:
        self._views: dict[tuple[str, str], Any] = {}
        self._used: dict[tuple[str, str], float] = {}
        self._tree_drawn: dict[tuple[str, str], float] = {}

    def open(self, key: tuple[str, str], snapshot: Snapshot,
             tree: TreeNode | None = None) -> dict[str, Any]:
        """A new view showing ``snapshot`` (and ``tree``), as a ``json_item`` to embed."""
        from bokeh.embed import json_item

        from ..view import SlotView

        self._drop_idle()
        self._views[key] = SlotView()
        self._tree_drawn.pop(key, None)
        self._refresh(key, snapshot, tree)
        return dict(json_item(self._views[key].layout))

    def wants_tree(self, key: tuple[str, str]) -> bool:
        """Whether the view's tree is due for a redraw."""
        return time.monotonic() - self._tree_drawn.get(key, 0.0) >= TREE_SECONDS

    def update(self, key: tuple[str, str], snapshot: Snapshot,
               tree: TreeNode | None = None) -> dict[str, Any] | None:
        """The view's new :func:`state` after ``snapshot``; ``None`` when there is no such view.

        ``tree`` is drawn only when given, so polls between tree redraws keep the last one.
        """
        self._drop_idle()
        if key not in self._views:
            return None
        self._refresh(key, snapshot, tree)
        return state(self._views[key].layout)

    def close(self, kernel_id: str) -> None:
        """Drop the views of a cluster that stopped."""
        for key in [k for k in self._views if k[0] == kernel_id]:
            self._forget(key)

    def _refresh(self, key: tuple[str, str], snapshot: Snapshot, tree: TreeNode | None) -> None:
        view = self._views[key]
        view.update(snapshot)
        if tree is not None or self.wants_tree(key):
            view.update_tree(tree)
            self._tree_drawn[key] = time.monotonic()
        self._used[key] = time.monotonic()

    def _forget(self, key: tuple[str, str]) -> None:
        for table in (self._views, self._used, self._tree_drawn):
            table.pop(key, None)

    def _drop_idle(self) -> None:
        limit = time.monotonic() - IDLE_SECONDS
        for key in [k for k, used in self._used.items() if used < limit]:
            self._forget(key)
