"""Kernel side: put what a submitted cell's tasks print into that cell's output, from any thread.

Workers publish cell output as Dask events (see ``_shipped.capture``);
the client calls :func:`_on_event` on its event-loop thread, which looks the
cell up here and sends the text to the notebook with the parent header of the
cell that submitted it, so it lands in that cell even after the cell finished
and never in whichever cell happens to run at the time.
"""

from __future__ import annotations

import sys
import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from .._wire import CELL_OUTPUT_TOPIC

#: How many cells' output channels are remembered; output for older cells is dropped.
_REMEMBERED = 1000

_lock = threading.Lock()
_cells: OrderedDict[str, CellOutput] = OrderedDict()


class CellOutput:
    """The output area of one notebook cell (or the console, outside a kernel).

    Create it while the cell runs, on the thread that runs the cell: it keeps
    that cell's parent header. Its methods may then be called from any thread.

    Examples
    --------
    >>> out = CellOutput()                  # doctest: +SKIP
    >>> out.stream("stdout", "hello\\n")     # doctest: +SKIP
    """

    def __init__(self) -> None:
        from IPython import get_ipython

        self.shell = get_ipython()
        kernel = getattr(self.shell, "kernel", None)
        self.kernel = kernel if hasattr(kernel, "session") else None
        self.parent = self.kernel.get_parent() if self.kernel is not None else None
        self.worker: str | None = None
        self._on_started: list[Callable[[str], None]] = []

    def stream(self, name: str, text: str) -> None:
        """Write ``text`` to the cell's ``stdout`` or ``stderr``."""
        if self.kernel is None:
            stream = getattr(sys, name, sys.stdout)
            stream.write(text)
            stream.flush()
            return
        self.kernel.session.send(
            self.kernel.iopub_socket, "stream", {"name": name, "text": text},
            parent=self.parent, ident=f"stream.{name}".encode(),
        )

    def update(self, display_id: str, obj: Any) -> None:
        """Replace the display ``display_id`` in the cell with ``obj``'s rich representation."""
        if self.kernel is None or self.shell is None:
            return
        data, metadata = self.shell.display_formatter.format(obj)
        self.kernel.session.send(
            self.kernel.iopub_socket, "update_display_data",
            {"data": data, "metadata": metadata, "transient": {"display_id": display_id}},
            parent=self.parent, ident=b"display_data",
        )

    def started(self, worker: str) -> None:
        """The cell's task started on ``worker``."""
        with _lock:
            self.worker = worker
            callbacks = list(self._on_started)
        for callback in callbacks:
            callback(worker)

    def when_started(self, callback: Callable[[str], None]) -> None:
        """Call ``callback(worker)`` when the task starts (at once if it has)."""
        with _lock:
            self._on_started.append(callback)
            worker = self.worker
        if worker is not None:
            callback(worker)


def register(cell: str, output: CellOutput) -> None:
    """Send the output of ``cell`` (its id, see ``_shipped.capture``) to ``output``.

    Examples
    --------
    >>> register(submission.id, CellOutput())  # in the submitting cell  # doctest: +SKIP
    """
    with _lock:
        _cells[cell] = output
        while len(_cells) > _REMEMBERED:
            _cells.popitem(last=False)


def subscribe(client: Any) -> None:
    """Have ``client`` deliver cell output events here (once per client).

    Examples
    --------
    >>> subscribe(jupyter_nest.current().client)  # doctest: +SKIP
    """
    if not getattr(client, "_jupyter_nest_output", False):
        client.subscribe_topic(CELL_OUTPUT_TOPIC, _on_event)
        client._jupyter_nest_output = True


def _on_event(event: tuple[float, dict[str, Any]]) -> None:
    _, msg = event
    with _lock:
        output = _cells.get(str(msg.get("cell")))
    if output is None:  # another kernel's cell on a shared scheduler, or forgotten
        return
    if "started" in msg:
        output.started(msg["started"])
    for name, text in msg.get("out", ()):
        output.stream(name, text)
