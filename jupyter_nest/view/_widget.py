"""The live slot view in a notebook: a Bokeh layout in a ``jupyter_bokeh.BokehModel``, kept current by one thread.

Kernel-loop callbacks do not run while a cell blocks (in ``future.result()``,
exactly when one wants to look), so a daemon thread polls the monitor's
snapshots and updates the Bokeh document. Bokeh documents are not thread-safe:
every change, the thread's and the browser's (``_sync_model``), happens under
one lock. Only sources whose data changed are sent. Closing the widget, or
stopping the cluster, ends the thread.
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
import time
from collections.abc import Iterator
from typing import Any

from bokeh.protocol import Protocol
from distributed import Future
from jupyter_bokeh import BokehModel

from .. import cluster, config
from .._wire import SERVER_ROUTE, Snapshot, TreeNode
from ..errors import NestError
from ..monitor import snapshot
from ..runtime import tree_data
from ._figures import SlotView, status_line

_inline_loaded = False
# How often the whole picture is sent again (see SlotView.resend): what a view made late, or
# reloaded with the page, waits at most before it shows the cluster.
KEYFRAME_SECONDS = 1.0

# Loads BokehJS from the Jupyter server's jupyter_nest extension (the Python bokeh package's own
# files) unless the page has it. Synchronous on purpose: the widget's view, created right after
# this output, needs ``window.Bokeh`` in its constructor.
_SERVER_LOADER = """(function (version, files) {
  var B = window.Bokeh;
  if (B && (B.version === version || (B[version] && B[version].embed))) { return; }
  var config = document.getElementById("jupyter-config-data");
  var base = config ? JSON.parse(config.textContent).baseUrl : null;
  if (!base) { console.warn("jupyter_nest: no Jupyter server to load BokehJS " + version + " from"); return; }
  for (var i = 0; i < files.length; i++) {
    var request = new XMLHttpRequest();
    request.open("GET", base.replace(/\\/?$/, "/") + files[i], false);
    request.send();
    if (request.status !== 200) { console.warn("jupyter_nest: could not load " + files[i]); return; }
    var script = document.createElement("script");
    script.textContent = request.responseText;
    document.head.appendChild(script);
  }
})(%s, %s);"""

# jupyter_bokeh sends each document patch as three comm messages (header, metadata, content), and
# a view's BokehJS Receiver takes them by position. A view that starts counting in the middle of a
# patch (made while the update thread sends one, as Notebook 7 does on Run All under load) reads
# every later patch out of step and drops it: the view never changes again. This makes the
# Receiver start a message at the next header wherever it is, and skip anything else while it
# waits for one; a view in step gets exactly what it got before.
_RESYNC = """(function (version) {
  var B = window.Bokeh;
  B = B && B[version] && B[version].require ? B[version] : B;
  if (!B || !B.require) { return; }
  var R;
  try { R = B.require("protocol/receiver").Receiver; } catch (e) { return; }
  var p = R.prototype;
  if (p.jupyterNestResync) { return; }
  p.jupyterNestResync = true;
  function header(f) {
    if (typeof f !== "string" || f.length > 2000 || f.indexOf('"msgtype"') < 0) { return false; }
    try { var h = JSON.parse(f); return h !== null && typeof h.msgtype === "string" && "msgid" in h; }
    catch (e) { return false; }
  }
  var start = p._HEADER;
  p._HEADER = function (f) { if (header(f)) { start.call(this, f); } };
  ["_METADATA", "_CONTENT", "_BUFFER_HEADER"].forEach(function (name) {
    var step = p[name];
    p[name] = function (f) { (header(f) ? start : step).call(this, f); };
  });
})(%s);"""


def _in_vscode() -> bool:
    return any(name.startswith("VSCODE_") for name in os.environ)


def bokehjs_files(layout: Any) -> list[str]:
    """The BokehJS files ``layout`` needs, relative to the Jupyter server's base URL.

    Examples
    --------
    >>> bokehjs_files(SlotView().layout)[0]
    'jupyter-nest/static/js/bokeh.min.js'
    """
    from bokeh.embed.bundle import bundle_for_objs_and_resources
    from bokeh.resources import Resources

    bundle = bundle_for_objs_and_resources([layout], Resources(mode="server", root_url=f"{SERVER_ROUTE}/"))
    return [str(getattr(url, "url", url)) for url in bundle.js_files]


def _load_bokehjs(layout: Any) -> None:
    """Make sure the page has BokehJS before the widget renders, without storing BokehJS in the notebook.

    ``jupyter-nest.widget.bokehjs``: ``server`` emits a 2 KB loader, with every view (an output
    cleared or a page reloaded takes its BokehJS with it); ``inline`` the whole of BokehJS (4 MB)
    once per kernel, for front ends without a Jupyter server (VS Code); ``auto`` picks inline in
    VS Code only.
    """
    global _inline_loaded
    import bokeh
    from IPython.display import display

    resync = _RESYNC % json.dumps(bokeh.__version__)
    mode = config.get("widget.bokehjs")
    if mode not in ("auto", "server", "inline"):
        raise NestError(f"jupyter-nest.widget.bokehjs is {mode!r}: set it to auto, server or inline")
    if mode == "inline" or (mode == "auto" and _in_vscode()):
        if not _inline_loaded:
            from bokeh.io import output_notebook
            from bokeh.resources import INLINE

            output_notebook(INLINE, hide_banner=True)
            display({"application/javascript": resync}, raw=True)
            _inline_loaded = True
        return
    loader = _SERVER_LOADER % (json.dumps(bokeh.__version__), json.dumps(bokehjs_files(layout)))
    display({"application/javascript": f"{loader}\n{resync}"}, raw=True)


class _Model(BokehModel):
    """A BokehModel whose browser events change the document under the view's lock, and whose
    updates can go to the browser as one patch."""

    def __init__(self, layout: Any, lock: threading.Lock, on_close: Any) -> None:
        self._nest_lock = lock
        self._nest_on_close = on_close
        self._nest_closed = False
        self._nest_batch: list[Any] | None = None
        super().__init__(layout)

    @contextlib.contextmanager
    def batch(self) -> Iterator[None]:
        """Send the changes made inside as one patch: jupyter_bokeh sends one per change, and each
        costs three comm messages and a walk over every model of the document to serialise."""
        self._nest_batch = []
        try:
            yield
        finally:
            events, self._nest_batch = self._nest_batch, None
            if events:
                self._send_patch(events)

    def _document_patched(self, event: Any) -> None:
        if event.setter is self:
            return
        if self._nest_batch is not None:
            self._nest_batch.append(event)
        else:
            self._send_patch([event])

    def _send_patch(self, events: list[Any]) -> None:
        # as jupyter_bokeh sends a patch of one event; BokehJS applies a patch's events in order
        msg = Protocol().create("PATCH-DOC", events)
        for part in (msg.header_json, msg.metadata_json, msg.content_json):
            self.send({"msg": "patch", "payload": part})
        for buffer in msg.buffers:
            self.send({"msg": "patch", "payload": json.dumps(buffer.ref)})
            self.send({"msg": "patch"}, [buffer.to_bytes()])

    def _sync_model(self, *args: Any) -> None:
        with self._nest_lock:
            super()._sync_model(*args)

    def close(self) -> None:
        if self._nest_closed:  # ipywidgets closes again on garbage collection; Bokeh refuses twice
            return
        self._nest_closed = True
        self._nest_on_close()
        super().close()

    def __repr__(self) -> str:
        return "<jupyter_nest slot view>"


class SlotWidget:
    """Every worker's task slots, seceded tasks and queue, live, plus counts over time and a task tree.

    Parameters
    ----------
    session : Session
        The cluster to watch.
    root : Future or key, optional
        Whose task tree to draw; default the latest task that spawned others.
    interval : float, optional
        Seconds between updates; default ``jupyter-nest.widget.interval``.

    Examples
    --------
    >>> import jupyter_nest
    >>> view = jupyter_nest.widget()  # doctest: +SKIP
    >>> view  # shows it  # doctest: +SKIP
    >>> view.close()  # doctest: +SKIP
    """

    def __init__(self, session: cluster.Session, root: Future | Any = None, interval: float | None = None) -> None:
        self.session = session
        self.client = session.client
        self.root = root.key if isinstance(root, Future) else root
        self.interval = config.seconds("widget.interval", interval)
        self.lock = threading.Lock()
        self.updates = 0
        self._previous: Snapshot | None = None
        self._unreachable_since: float | None = None
        self._last_tree = 0.0
        self._last_keyframe = 0.0
        self._stop = threading.Event()
        self._gone: dict[str, float] = {}
        self.view = SlotView()
        self._top = self.root  # where zooming out of the tree returns
        self.view.sources["nest-tree-nodes"].selected.on_change("indices", self._zoom)
        self.model = _Model(self.view.layout, self.lock, self._stop_updates)
        self._thread = threading.Thread(target=self._run, name="jupyter-nest-slot-view", daemon=True)
        self._thread.start()

    def show_tree(self, root: Future | Any) -> None:
        """Draw the task tree of ``root`` (a future or a key) from now on."""
        self.root = self._top = root.key if isinstance(root, Future) else root

    def _zoom(self, attr: str, old: list[int], new: list[int]) -> None:
        # A click in the tree (runs in the browser event's _sync_model, under the lock): a box
        # becomes the root, the top box goes back up; summaries ("+120") have no key to zoom to.
        if not new:
            return
        nodes = self.view.sources["nest-tree-nodes"].data
        i = new[0]
        if nodes["y"][i] == 0:
            self.root = self._top
        elif nodes["key"][i]:
            self.root = nodes["key"][i]
        self._last_tree = 0.0
        self.view.sources["nest-tree-nodes"].selected.indices = []

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def _tree(self) -> TreeNode | None:
        return tree_data(self.client, self.root, max_nodes=300, timeout=2)

    def _problem(self, snap: Snapshot, previous: Snapshot | None) -> str | None:
        now = time.time()
        if previous is not None:
            before = {w["address"] for w in previous["workers"]}
            for address in before - {w["address"] for w in snap["workers"]}:
                self._gone[address] = now
        self._gone = {a: t for a, t in self._gone.items() if now - t < 30}
        if self._gone:
            return status_line(snap) + " · worker left: " + ", ".join(sorted(self._gone))
        return None

    def refresh(self) -> bool:
        """Fetch a snapshot and redraw now (the update thread does this every ``interval``).

        Returns False once the cluster has stopped (the view then says so and stays as it is).
        """
        with self.lock, self.model.batch():
            return self._refresh()

    def _refresh(self) -> bool:
        if self.client.status not in ("running", "connecting"):
            if self._previous is not None:
                stamp = time.strftime("%H:%M:%S")
                self.view.update({**self._previous, "time": time.time()},
                                 problem=f"cluster stopped at {stamp} ({self.client.status}); "
                                         "this view is final: the last picture before it stopped")
            return False
        try:
            snap = snapshot(self.client, timeout=max(2 * self.interval, 2))
            problem = self._problem(snap, self._previous)
            self._unreachable_since = None
        except Exception as error:
            if self._previous is None:
                return True
            self._unreachable_since = self._unreachable_since or time.time()
            stamp = time.strftime("%H:%M:%S", time.localtime(self._unreachable_since))
            snap = {**self._previous, "time": time.time()}
            problem = (f"scheduler {self.session.address} unreachable since {stamp} "
                       f"({type(error).__name__}); showing the last picture")
        self.view.update(snap, problem)
        if self._unreachable_since is None and time.monotonic() - self._last_tree > 1:
            self._last_tree = time.monotonic()
            try:
                self.view.update_tree(self._tree())
            except Exception:
                self.view.update_tree(None)
        if time.monotonic() - self._last_keyframe >= KEYFRAME_SECONDS:
            self._last_keyframe = time.monotonic()
            self.view.resend()
        self._previous = snap
        self.updates += 1
        return True

    def _run(self) -> None:
        while not self._stop.is_set():
            started = time.monotonic()
            if not self.refresh():
                return
            self._stop.wait(max(0.0, self.interval - (time.monotonic() - started)))

    def _stop_updates(self) -> None:
        self._stop.set()
        thread = getattr(self, "_thread", None)  # absent when __init__ failed half way
        if thread is not None and threading.current_thread() is not thread:
            thread.join(timeout=5)

    def close(self) -> None:
        """Stop updating and remove the view."""
        self.model.close()

    def _ipython_display_(self) -> None:
        from IPython.display import display

        _load_bokehjs(self.view.layout)
        display(self.model)

    def __repr__(self) -> str:
        return "<jupyter_nest slot view>"


def widget(root: Future | Any = None, interval: float | None = None) -> SlotWidget:
    """The live slot view of this kernel's cluster; display it (the last expression of a cell does).

    Parameters
    ----------
    root : Future or key, optional
        Whose task tree to draw; default the latest task that spawned others.
    interval : float, optional
        Seconds between updates (default ``jupyter-nest.widget.interval``).

    Examples
    --------
    >>> import jupyter_nest
    >>> jupyter_nest.widget()  # doctest: +SKIP
    """
    return SlotWidget(cluster.require("The slot view"), root=root, interval=interval)
