"""The slot view's Bokeh figures, drawn from monitor snapshots (the view; it never touches Dask).

Everything that changes lives in named ``ColumnDataSource`` objects, and
:func:`columns` computes their data from a snapshot alone, so any host can
embed :attr:`SlotView.layout` once and then push new columns by source name:
the notebook widget does it from a thread, the JupyterLab panel from the browser.

The picture, per worker: one row of cells for its thread-pool slots (running,
blocked waiting on other tasks, or idle) and one row for its seceded tasks
(waiting on children, with how many); a chart of running / seceded / queued /
done over time; and the lineage tree of one root task.
"""

from __future__ import annotations

import time
from collections import deque
from typing import Any, cast

from bokeh.layouts import column
from bokeh.models import ColumnDataSource, CustomJS, CustomJSHover, HoverTool, LinearAxis, Range1d
from bokeh.models.annotations import Title
from bokeh.models.widgets import Div
from bokeh.plotting import figure
from bokeh.transform import dodge

from .._wire import SNAPSHOT_VERSION, SlotTask, Snapshot, TreeNode, WorkerSlots
from ._style import COLORS, LEGEND, STATE_COLORS, THEME_JS
from ._tree import tree_columns

MAX_WORKERS = 16
LABEL_WIDTH = 12
ROW = -2.6  # per worker: its label, a row of slots, a row of seceded tasks
MAX_SECEDED = 12
HISTORY = 600

# BokehJS keeps a source's columns in a Map (older releases: a plain object).
_STATUS_JS = """
const data = source.data
const text = data instanceof Map ? data.get("text") : data.text
div.text = (text && text[0]) || ""
"""

_CELL_COLUMNS = ("x", "y", "color", "label", "key", "state", "since", "detail", "worker", "call", "parent")
# Ages are computed in the browser from ``since`` (epoch seconds), so a running
# task's cell need not be resent every update just because it got older.
_AGE_JS = """
    if (!value) { return "" }
    const s = Date.now() / 1000 - value
    return s < 120 ? s.toFixed(1) + " s" : (s / 60).toFixed(1) + " min"
"""


def _short(text: str, width: int = 10) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def _seceded_count(w: WorkerSlots) -> int:
    """A worker's seceded tasks: those the snapshot lists, and those it only counts."""
    return len(w["seceded"]) + w.get("seceded_more", 0)


def _worker_cells(w: WorkerSlots, row: int, cells: dict[str, list[Any]]) -> None:
    blocked = {b["key"] for b in w.get("blocked", ())}

    def add(x: int, y: float, state: str, label: str, task: SlotTask | None = None, detail: str = "") -> None:
        task = task or {}
        values = (x, y, COLORS[state], label, task.get("key", ""), state, task.get("since", 0.0), detail,
                  w["address"], task.get("call", ""), task.get("parent", ""))
        for name, value in zip(_CELL_COLUMNS, values, strict=True):
            cells[name].append(value)

    slots_y, seceded_y = ROW * row, ROW * row - 1
    gone = w.get("status") not in ("running", None)
    for i, slot in enumerate(w["slots"]):
        if slot is None:
            add(i, slots_y, "gone" if gone else "idle", "", detail="idle slot")
            continue
        state = "blocked" if slot["key"] in blocked else "running"
        detail = "waiting on other tasks without seceding" if state == "blocked" else ""
        label = _short(slot.get("call") or slot["name"], LABEL_WIDTH)
        if slot.get("inline"):
            # @nest children run in this task's own thread: counted on it, as a flame graph folds calls
            detail = f"{slot['inline']:,} @nest children run inline or borrowed"
            label += f"\n+{slot['inline']:,} inline"
        add(i, slots_y, state, label, slot, detail)
    seceded = sorted(w["seceded"], key=lambda s: s["since"])
    for i, task in enumerate(seceded[:MAX_SECEDED]):
        waiting = task.get("waiting_on", 0)
        add(i, seceded_y, "seceded", f"{_short(task.get('call') or task['name'], LABEL_WIDTH)}\nwaits on {waiting}",
            task, f"seceded, waiting on {waiting} live children")
    more = _seceded_count(w) - MAX_SECEDED
    if more > 0:
        add(MAX_SECEDED, seceded_y, "more", f"+{more}", detail=f"{more} more seceded tasks")


def columns(snapshot: Snapshot) -> dict[str, dict[str, list[Any]]]:
    """The data of the slot, label and status sources for one snapshot.

    Parameters
    ----------
    snapshot : dict
        As :func:`jupyter_nest.monitor.snapshot` returns it (``jupyter_nest._wire.Snapshot``).

    Returns
    -------
    dict
        Source name -> column data, for ``nest-slots``, ``nest-labels`` and ``nest-status``.

    Examples
    --------
    >>> snap = {"time": 10.0, "workers": [], "totals": {"workers": 0, "threads": 0, "running": 0,
    ...         "seceded": 0, "queued": 0, "done": 0}}
    >>> columns(snap)["nest-status"]["text"]
    ['no workers']
    """
    cells: dict[str, list[Any]] = {name: [] for name in _CELL_COLUMNS}
    labels: dict[str, list[Any]] = {"x": [], "y": [], "text": []}
    workers = sorted(snapshot["workers"], key=lambda w: w["address"])
    for row, w in enumerate(workers[:MAX_WORKERS]):
        _worker_cells(w, row, cells)
        gone = "" if w.get("status") in ("running", None) else f" ({w['status']})"
        name = w["address"].split("://")[-1].replace("127.0.0.1:", "local :")  # short enough for a side panel
        labels["x"].append(-0.45)
        labels["y"].append(ROW * row + 0.75)
        labels["text"].append(f"{name}{gone} · {_seceded_count(w)} seceded · {w.get('queued', 0)} queued")
    cut = workers[MAX_WORKERS:]
    if cut:
        row = MAX_WORKERS
        busy = sum(1 for w in cut for s in w["slots"] if s)
        labels["x"].append(-0.45)
        labels["y"].append(ROW * row + 0.75)
        labels["text"].append(
            f"+{len(cut)} more workers: {busy}/{sum(w['nthreads'] for w in cut)} slots busy, "
            f"{sum(_seceded_count(w) for w in cut)} seceded (not drawn)"
        )
    status: dict[str, list[Any]] = {"x": [0], "y": [0], "text": [status_line(snapshot)]}
    return {"nest-slots": cells, "nest-labels": labels, "nest-status": status}


def status_line(snapshot: Snapshot, problem: str | None = None) -> str:
    """``2 workers · 3/4 slots busy · 5 seceded · 12 queued · 340 done``, or what went wrong."""
    t = snapshot["totals"]
    if problem:
        return problem
    if not t["workers"]:
        return "no workers"
    return (f"{t['workers']} worker{'s' if t['workers'] != 1 else ''} · {t['running']}/{t['threads']} slots busy · "
            f"{t['seceded']} seceded · {t['queued']} queued · {t['done']:,} done")


class CountsHistory:
    """Totals over time, for the counts chart: one point per snapshot, the last ``HISTORY`` kept."""

    def __init__(self) -> None:
        self.start: float | None = None
        self.points: deque[dict[str, float]] = deque(maxlen=HISTORY)

    def point(self, snapshot: Snapshot) -> dict[str, list[float]] | None:
        """Add a snapshot; the new point as one-row column data (for ``stream``), or None.

        A point is kept when the totals changed, or a second after the last one.
        """
        if self.start is None:
            self.start = snapshot["time"]
        t = snapshot["totals"]
        point = {"t": snapshot["time"] - self.start, "running": t["running"], "seceded": t["seceded"],
                 "queued": t["queued"], "done": t["done"]}
        if self.points:
            last = self.points[-1]
            same = all(point[k] == last[k] for k in ("running", "seceded", "queued", "done"))
            if same and point["t"] - last["t"] < 1:
                return None
        self.points.append(point)
        return {k: [v] for k, v in point.items()}

    def columns(self) -> dict[str, list[float]]:
        return {k: [p[k] for p in self.points] for k in ("t", "running", "seceded", "queued", "done")}


class SlotView:
    """The Bokeh layout of the slot view, and how to bring it up to date.

    Examples
    --------
    >>> view = SlotView()
    >>> sorted(view.sources)
    ['nest-counts', 'nest-labels', 'nest-slots', 'nest-status', 'nest-tree-nodes']
    """

    def __init__(self) -> None:
        self.history = CountsHistory()
        self._figures: list[Any] = []
        empty: Snapshot = {"version": SNAPSHOT_VERSION, "time": time.time(), "scheduler": "", "workers": [],
                           "totals": {"workers": 0, "threads": 0, "running": 0, "seceded": 0, "queued": 0,
                                      "waiting": 0, "done": 0, "erred": 0}}
        data = {**columns(empty), **tree_columns(None), "nest-counts": self.history.columns()}
        self.sources = {name: ColumnDataSource(data=d, name=name) for name, d in data.items()}
        self.layout = column(self._status(), self._legend(), self._slots(), self._counts(), self._tree(),
                             sizing_mode="stretch_width", name="nest-slot-view")
        # Bokeh's document_ready never comes in a notebook widget. The theme follows the status line
        # and the counts over time: the kernel streams counts to its widget, the Nest panel sets them
        # every poll, and the status line may stay the same for long.
        theme = CustomJS(args={"figures": self._figures}, code=THEME_JS)
        self._status_div.js_on_change("text", theme)
        for change in ("data", "streaming"):
            self.sources["nest-counts"].js_on_change(change, theme)
        self._last: dict[str, Any] = {}
        self._fresh: set[str] = set()  # sources sent in full since this refresh's update()

    def _status(self) -> Any:
        # Text in the page, not on a canvas: it wraps in a narrow panel, takes the page's font and
        # colours, and can be read (and selected). The browser copies it from the ``nest-status``
        # source, which every host pushes.
        source = self.sources["nest-status"]
        # The tag puts the source in the layout's document: the Nest panel's embedded copy holds only
        # what the layout reaches, and updates sources by name.
        div = Div(text=source.data["text"][0], render_as_text=True, sizing_mode="stretch_width",
                  name="nest-status-text", css_classes=["jp-Nest-view-status"], tags=[source],
                  styles={"font-size": "13px", "padding": "4px"})
        source.js_on_change("data", CustomJS(args={"div": div, "source": source},
                                             code=_STATUS_JS))
        self._status_div = div
        return div

    def _legend(self) -> Any:
        # Page text that wraps: one legend for the slots and the tree, which share the colours.
        items = "".join(
            f'<span style="display:inline-block;margin:0 10px 2px 0;white-space:nowrap">'
            f'<span style="display:inline-block;width:10px;height:10px;background:{STATE_COLORS[state]};'
            f'margin-right:4px;vertical-align:middle"></span>{text}</span>'
            for state, text in LEGEND.items())
        return Div(text=items, sizing_mode="stretch_width", name="nest-legend", css_classes=["jp-Nest-view-legend"],
                   styles={"font-size": "11px", "padding": "0 4px", "line-height": "1.4"})

    def _slots(self) -> Any:
        self._slot_columns = Range1d(start=-0.5, end=3.5)
        self._slot_rows = Range1d(start=ROW - 0.6, end=1.1)
        self._slots_figure = fig = figure(
                     height=140, toolbar_location=None, x_range=self._slot_columns, y_range=self._slot_rows,
                     sizing_mode="stretch_width", name="nest-slots-figure",
                     title="Slots, then seceded tasks")
        fig.axis.visible = False
        fig.grid.visible = False
        cells = fig.rect("x", "y", width=0.92, height=0.8, fill_color="color", line_color=None,
                         source=self.sources["nest-slots"])
        fig.text("x", "y", "label", source=self.sources["nest-slots"], text_align="center",
                 text_baseline="middle", text_font_size="10px")
        fig.text("x", "y", "text", source=self.sources["nest-labels"], text_align="left",
                 text_baseline="middle", text_font_size="10px")
        fig.add_tools(HoverTool(renderers=[cells], tooltips=[
            ("call", "@call"), ("key", "@key"), ("state", "@state"), ("age", "@since{custom}"), ("", "@detail"),
            ("worker", "@worker"), ("parent", "@parent")],
            formatters={"@since": CustomJSHover(code=_AGE_JS)}))
        cast(Title, fig.title).text_font_size = "11px"
        self._figures.append(fig)
        return fig

    def _counts(self) -> Any:
        src = self.sources["nest-counts"]
        counts, done = Range1d(start=0, end=4), Range1d(start=0, end=10)
        fig = figure(height=170, toolbar_location=None, sizing_mode="stretch_width",
                     title="Over time (s); done dashed",
                     y_range=counts)
        for name in ("running", "seceded", "queued"):
            # coloured as in the legend above (queued as waiting); no legend box inside a narrow chart
            fig.line("t", name, source=src, color=COLORS.get(name, STATE_COLORS["waiting"]), line_width=2)
        fig.extra_y_ranges = {"done": done}
        fig.add_layout(LinearAxis(y_range_name="done"), "right")
        fig.line("t", "done", source=src, y_range_name="done", color="#666666", line_dash="dashed")
        self._count_ranges = (counts, done)
        cast(Title, fig.title).text_font_size = "11px"
        self._figures.append(fig)
        return fig

    def _tree(self) -> Any:
        source = self.sources["nest-tree-nodes"]
        self._tree_depth = Range1d(start=-7.5, end=0.5)
        fig = figure(height=260, toolbar_location=None, sizing_mode="stretch_width", name="nest-tree-figure",
                     x_range=Range1d(start=0, end=1), y_range=self._tree_depth, tools="tap",
                     title="Task tree (click to zoom)")
        fig.axis.visible = False
        fig.grid.visible = False
        boxes = fig.quad(left="x0", right="x1", top=dodge("y", 0.45), bottom=dodge("y", -0.45), fill_color="color",
                         line_color="white", line_width=0.5, source=source, nonselection_fill_alpha=1.0)
        fig.text(x="x0", y="y", text="text", source=source, x_offset=3, text_baseline="middle",
                 text_font_size="10px")
        fig.add_tools(HoverTool(renderers=[boxes], tooltips=[("task", "@label"), ("state", "@state"),
                                                             ("tasks", "@tasks"), ("key", "@key")]))
        cast(Title, fig.title).text_font_size = "11px"
        self._figures.append(fig)
        return fig

    def _set(self, name: str, data: dict[str, list[Any]]) -> bool:
        if self._last.get(name) == data:
            return False
        self._last[name] = data
        self.sources[name].data = data
        self._fresh.add(name)
        return True

    def update(self, snapshot: Snapshot, problem: str | None = None) -> None:
        """Bring the slots, status and counts up to date with a snapshot (sends only what changed)."""
        self._fresh.clear()
        data = columns(snapshot)
        if problem:
            data["nest-status"]["text"] = [status_line(snapshot, problem)]
        for name, d in data.items():
            self._set(name, d)
        cells = data["nest-slots"]
        columns_end = max([3.0, *cells["x"]]) + 0.5
        rows_start = min([ROW, *cells["y"]]) - 0.6
        if (self._slot_columns.end, self._slot_rows.start) != (columns_end, rows_start):
            self._slot_columns.end, self._slot_rows.start = columns_end, rows_start
            # about 30 px a row, whatever the number of workers
            self._slots_figure.height = int(60 + 30 * (1.1 - rows_start))
        # Set here too: a kernel's patch of the source's data does not run the browser's callback.
        text = data["nest-status"]["text"][0]
        if self._status_div.text != text:
            self._status_div.text = text
        point = self.history.point(snapshot)
        if point is None:
            return
        self.sources["nest-counts"].stream(dict(point), rollover=HISTORY)
        counts, done = self._count_ranges
        peak = max(max(p["running"], p["seceded"], p["queued"]) for p in self.history.points)
        if peak + 1 > cast(float, counts.end):
            counts.end = max(4, int(peak * 1.5) + 1)
        if point["done"][0] + 1 > cast(float, done.end):
            done.end = max(10, int(point["done"][0] * 1.5) + 1)

    def resend(self) -> None:
        """Send everything again, changed or not: a browser view created after an update never saw it.

        A notebook's view of a widget starts from the document as it was when the widget was made,
        and patches sent before the page made the view are dropped; hosts call this now and then,
        after an update (and the tree's, if any): sources those just sent in full are not sent twice.
        """
        for name, data in self._last.items():
            if name not in self._fresh:
                self.sources[name].data = dict(data)
        self.sources["nest-counts"].data = self.history.columns()
        self._status_div.trigger("text", self._status_div.text, self._status_div.text)
        for axis in (*self._count_ranges, self._slot_columns):
            axis.trigger("end", axis.end, axis.end)
        for axis in (self._slot_rows, self._tree_depth):
            axis.trigger("start", axis.start, axis.start)

    def update_tree(self, tree: TreeNode | None) -> None:
        """Redraw the lineage tree (``TaskTree.root``), or clear it."""
        for name, d in tree_columns(tree).items():
            self._set(name, d)
        depth = -min(self.sources["nest-tree-nodes"].data["y"], default=0)
        if self._tree_depth.start != -max(depth, 7) - 0.5:
            self._tree_depth.start = -max(depth, 7) - 0.5
