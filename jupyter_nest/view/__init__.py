"""The slot view: Bokeh figures drawn from monitor snapshots, and the live notebook widget.

- ``_figures``: :class:`SlotView` and the pure functions from snapshots and trees
  to column data (the Nest panel's server uses them too);
- ``_tree``: the task tree as an icicle; ``_style``: colours, legend and dark theme shared by all;
- ``_progress``: :func:`progress`, a live bar of one root task and all it spawns, and the bars
  a long wait of the notebook shows;
- ``_widget``: :class:`SlotWidget`, the view in a notebook, kept current by a thread.
"""

from ._figures import MAX_WORKERS, SlotView, columns, status_line, tree_columns
from ._progress import Progress, bars_while_waiting, progress
from ._widget import SlotWidget, widget

__all__ = ["MAX_WORKERS", "Progress", "SlotView", "SlotWidget", "bars_while_waiting", "columns", "progress",
           "status_line", "tree_columns", "widget"]
