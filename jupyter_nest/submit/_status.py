"""The live status line of a cell submitted without ``--wait``; it turns into the result when done.

The line is a display with an id in the submitting cell: queued, then running
on a worker (with the elapsed time, refreshed by one shared background thread),
then replaced by the cell's value as IPython would show it, or by a one-line
account of the error, cancellation or loss.
"""

from __future__ import annotations

import html
import threading
import time
import traceback
from typing import Any

from dask.utils import format_bytes, format_time, parse_bytes

from .. import config
from ._api import Submission
from ._traceback import explain


class Line:
    """One line of text, shown as plain text or HTML."""

    def __init__(self, text: str) -> None:
        self.text = text

    def __repr__(self) -> str:
        return self.text

    def _repr_pretty_(self, p: Any, cycle: bool) -> None:
        p.text(self.text)

    def _repr_html_(self) -> str:
        return f'<pre style="margin:0">{html.escape(self.text)}</pre>'


def _error_line(submission: Submission) -> str:
    """``ZeroDivisionError: division by zero (line 3: `1 / 0`)``, pointing into the cell."""
    future = submission.future
    exc = future.exception()
    where = ""
    frames = [f for f in traceback.extract_tb(future.traceback()) if f.filename == submission.cell.filename]
    if frames:
        lineno = frames[-1].lineno or 0
        where = f" (line {lineno}: `{submission.cell.line(lineno)}`)"
    return f"{type(exc).__name__}: {exc}{where}"


class StatusLine:
    """Shows a submission's progress in its cell until it is done, then its outcome.

    Parameters
    ----------
    submission : Submission
        The sent cell.
    name : str
        The notebook variable holding the future, named in the messages.
    quiet : bool
        Show "done" instead of the value (the cell ended with ``;``).

    Examples
    --------
    >>> StatusLine(submission, "_nest", quiet=False).show()  # doctest: +SKIP
    """

    def __init__(self, submission: Submission, name: str, quiet: bool = False) -> None:
        self.submission = submission
        self.name = name
        self.quiet = quiet
        self.submitted = time.monotonic()
        self.started: float | None = None
        self.worker: str | None = None
        self.finished = False
        self.lock = threading.Lock()
        self.display_id = ""

    @property
    def label(self) -> str:
        return self.submission.cell.label

    def text(self) -> str:
        now = time.monotonic()
        if self.started is None:
            state = f"queued for {now - self.submitted:.0f} s"
        else:
            state = f"running on {self.worker} for {now - self.started:.0f} s"
        return f"{self.label}: {state} (the future is `{self.name}`)"

    def __repr__(self) -> str:
        return self.text()

    def _repr_pretty_(self, p: Any, cycle: bool) -> None:
        p.text(self.text())

    def _repr_html_(self) -> str:
        return Line(self.text())._repr_html_()

    def show(self) -> None:
        """Display the line in the current cell and keep it up to date from now on."""
        from IPython.display import display

        handle = display(self, display_id=True)
        self.display_id = handle.display_id if handle is not None else ""
        self.submission.output.when_started(self._on_started)
        _ticker.add(self)
        self.submission.future.add_done_callback(self._on_done)

    def _update(self, obj: Any) -> None:
        if self.display_id:
            self.submission.output.update(self.display_id, obj)

    def _on_started(self, worker: str) -> None:
        with self.lock:
            if self.finished:
                return
            self.started, self.worker = time.monotonic(), worker
            self._update(self)

    def tick(self) -> None:
        with self.lock:
            if not self.finished:
                self._update(self)

    def _on_done(self, future: Any) -> None:
        try:
            outcome = self._outcome(future)
        except Exception as e:  # the line must end, whatever went wrong fetching the value
            outcome = Line(f"{self.label}: done, but its value could not be shown "
                           f"({type(e).__name__}: {e}); `{self.name}.result()` returns it")
        with self.lock:
            self.finished = True
            self._update(outcome)
        _ticker.discard(self)

    def _outcome(self, future: Any) -> Any:
        took = format_time(time.monotonic() - (self.started or self.submitted))
        if future.status == "error":
            explain(self.submission.cell, future.exception(), future.traceback())
            return Line(f"{self.label}: failed after {took}: {_error_line(self.submission)}. "
                        f"`{self.name}.result()` raises it with the traceback.")
        if future.status != "finished":
            return Line(f"{self.label}: {future.status}")
        nbytes = future.client.nbytes(keys=[future.key], summary=False).get(future.key, 0)
        if nbytes > parse_bytes(config.get("submit.display-limit")):
            return Line(f"{self.label}: done in {took}; its value, a {future.type.__name__} of "
                        f"{format_bytes(nbytes)}, stays on the cluster: `{self.name}.result()` "
                        "fetches it")
        value = future.result()
        if value is None or self.quiet:
            return Line(f"{self.label}: done in {took}")
        return value


class _Ticker:
    """One background thread refreshing every running status line's elapsed time."""

    def __init__(self) -> None:
        self.lines: set[StatusLine] = set()
        self.lock = threading.Lock()
        self.thread: threading.Thread | None = None

    def add(self, line: StatusLine) -> None:
        with self.lock:
            self.lines.add(line)
            if self.thread is None:
                self.thread = threading.Thread(target=self._run, name="jupyter-nest-status", daemon=True)
                self.thread.start()

    def discard(self, line: StatusLine) -> None:
        with self.lock:
            self.lines.discard(line)

    def _run(self) -> None:
        while True:
            time.sleep(config.seconds("submit.status-interval"))
            with self.lock:
                lines = list(self.lines)
                if not lines:
                    self.thread = None
                    return
            for line in lines:
                line.tick()


_ticker = _Ticker()
