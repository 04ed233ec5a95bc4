"""Progress of one root task and everything it spawned: a bar whose total grows with the tree, live while a cell blocks.

The bar is a display output updated in place (``update_display_data``), not a
widget: JupyterLab and Notebook 7 redraw its HTML, and headless runs
(``jupyter execute``, nbclient) keep its last text, so a saved notebook says how
the run ended. A daemon thread updates it, as kernel-loop callbacks do not run
while a cell blocks in ``future.result()``.
"""

from __future__ import annotations

import html
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from dask.utils import key_split
from distributed import Future

from .. import cluster, config
from .._wire import TreeNode
from ..monitor import snapshot
from ..runtime import tree_data

_ENDED = frozenset({"finished", "erred", "cancelled", "released", "inline"})
_FAILED = frozenset({"erred"})
_WAITING = frozenset({"waiting", "queued", "no-worker", "pending"})
# Keys with a bar updating now: a wait on them shows no second one.
_live: set[Any] = set()


def counts(tree: TreeNode | None, seceded: int = 0) -> dict[str, int]:
    """Tasks of a root's tree by what they are doing, from the lineage's summary of it.

    ``seceded`` (from a monitor snapshot) is taken out of ``running``: the scheduler
    counts a seceded task as processing.

    Examples
    --------
    >>> tree = {"key": "f", "name": "f", "state": "processing", "children": [],
    ...         "hidden": {"tasks": 4, "states": {"finished": 2, "processing": 2}, "more": False}}
    >>> counts(tree, seceded=1)
    {'total': 5, 'done': 2, 'running': 2, 'seceded': 1, 'waiting': 0, 'failed': 0}
    """
    states: dict[str, int] = {}
    if tree is not None:
        states[tree["state"]] = 1
        for state, n in tree.get("hidden", {}).get("states", {}).items():
            states[state] = states.get(state, 0) + n
    total = sum(states.values())
    processing = states.get("processing", 0)
    seceded = min(seceded, processing)
    return {
        "total": total,
        "done": sum(n for s, n in states.items() if s in _ENDED and s not in _FAILED),
        "running": processing - seceded,
        "seceded": seceded,
        "waiting": sum(n for s, n in states.items() if s in _WAITING),
        "failed": sum(n for s, n in states.items() if s in _FAILED),
    }


def text(name: str, c: dict[str, int], elapsed: float, width: int = 20) -> str:
    """``fib(20) ▕██████░░░░▏ 61% 13,421/21,891 done · 2 running · 130 seceded · 0 failed · 12.3 s``."""
    share = c["done"] / c["total"] if c["total"] else 0.0
    filled = round(share * width)
    return (f"{name} ▕{'█' * filled}{'░' * (width - filled)}▏ {share:4.0%} {c['done']:,}/{c['total']:,} done · "
            f"{c['running']:,} running · {c['seceded']:,} seceded · {c['failed']:,} failed · {elapsed:.1f} s")


def _html(name: str, c: dict[str, int], elapsed: float, final: str) -> str:
    share = c["done"] / c["total"] if c["total"] else 0.0
    line = html.escape(text(name, c, elapsed).split("▏ ", 1)[1])
    return (f'<div class="jp-Nest-progress" data-percent="{share * 100:.0f}" style="font-size:12px">'
            f'<b>{html.escape(name)}</b> '
            f'<progress value="{c["done"]}" max="{max(c["total"], 1)}" style="width:40%;max-width:300px;'
            f'vertical-align:middle"></progress> <span class="jp-Nest-progress-text">{line}{final}</span></div>')


class Progress:
    """A live progress bar of ``future``'s task and all it spawns; see :func:`progress`."""

    def __init__(self, future: Future, interval: float | None = None, name: str | None = None) -> None:
        self.future = future
        self.client = future.client
        self.name = name or key_split(future.key)
        self.interval = max(config.seconds("widget.interval", interval), 0.1)
        self.started = time.monotonic()
        self.counts = counts(None)
        self._display_id = f"jupyter-nest-progress-{uuid.uuid4().hex}"
        self._stop = threading.Event()
        # Held from the check of _stop to the update it allows: once stop() returns, no update of the
        # thread's can land after the final one.
        self._updating = threading.Lock()
        # set by stop() and when the future ends: the last update need not wait out the interval
        self._wake = threading.Event()
        self._thread = threading.Thread(target=self._run, name="jupyter-nest-progress", daemon=True)

    def _measure(self) -> None:
        tree = tree_data(self.client, self.future.key, max_nodes=1, timeout=2)
        try:
            seceded = snapshot(self.client, timeout=2)["totals"]["seceded"]
        except Exception:
            seceded = 0
        self.counts = counts(tree, seceded)

    def _refresh(self) -> None:
        try:
            self._measure()
        except Exception:
            pass  # the cluster went away: keep the last counts

    def _bundle(self, status: str | None = None) -> dict[str, str]:
        """The bar as display data; ``status`` (how the run ended) only with the counts measured after it."""
        elapsed = time.monotonic() - self.started
        final = "" if status is None else f" · {status}"
        return {"text/plain": text(self.name, self.counts, elapsed) + final,
                "text/html": _html(self.name, self.counts, elapsed, final)}

    def _run(self) -> None:
        from IPython.display import update_display

        while True:
            done = self.future.done()
            self._refresh()
            if done and self.counts["total"]:
                self.counts["done"] = self.counts["total"] - self.counts["failed"]  # nothing runs any more
            with self._updating:
                if self._stop.is_set():
                    break
                update_display(self._bundle(self.future.status if done else None), raw=True,
                               display_id=self._display_id)
            if done or self.client.status not in ("running", "connecting"):
                break
            self._wake.wait(self.interval)
            if self._stop.is_set():
                break  # no measure after stop(): an interrupted tree is being cancelled
        _live.discard(self.future.key)

    def stop(self) -> None:
        """Stop updating (the bar keeps its last state)."""
        with self._updating:
            self._stop.set()
        self._wake.set()

    def interrupt(self) -> None:
        """Stop updating at once and mark the bar interrupted, asking the cluster nothing.

        An interrupted wait calls it: the tree is being cancelled, and a last measure of a
        large tree would hold up the cell (and the scheduler) while it stops.
        """
        from IPython.display import update_display

        self.stop()
        _live.discard(self.future.key)
        update_display(self._bundle("interrupted"), raw=True, display_id=self._display_id)

    def finish(self) -> None:
        """Stop updating and show the state the future is in now, from this thread.

        What waited on the future calls it when the wait ends, so the bar says how the run
        ended before the next cell can change it (stopping the cluster cancels every future).
        """
        self.stop()
        if self._thread.is_alive():
            self._thread.join(timeout=5)
        _live.discard(self.future.key)
        from IPython.display import update_display

        status = self.future.status
        self._refresh()
        if status == "finished" and self.counts["total"]:
            self.counts["done"] = self.counts["total"] - self.counts["failed"]
        update_display(self._bundle(status), raw=True, display_id=self._display_id)

    @contextmanager
    def while_waiting(self) -> Iterator[Progress]:
        """End the bar with the wait it wraps: with its final counts, or at once when interrupted.

        Examples
        --------
        >>> bar = progress(future)  # doctest: +SKIP
        >>> display(bar)  # doctest: +SKIP
        >>> with bar.while_waiting():  # doctest: +SKIP
        ...     future.result()
        """
        try:
            yield self
        except BaseException as error:
            _end([self], error)
            raise
        _end([self], None)

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self._bundle(), raw=True, display_id=self._display_id)
        if not self._thread.is_alive() and not self._stop.is_set():
            _live.add(self.future.key)
            self._thread.start()
            self.future.add_done_callback(lambda _: self._wake.set())

    def __repr__(self) -> str:
        return text(self.name, self.counts, time.monotonic() - self.started)


def progress(future: Future, interval: float | None = None, name: str | None = None) -> Progress:
    """Show a live progress bar of ``future``'s task and every task it spawns, like Dask's ``progress()``.

    The total grows as the tree grows; the bar counts tasks done, running,
    seceded and failed and the time elapsed, and keeps updating while a cell
    blocks (on ``future.result()``, say). In ``jupyter execute`` output its last
    state is kept as text.

    Parameters
    ----------
    future : distributed.Future
        The root: a future from ``client.submit``, ``%%nest_submit`` or ``f.spawn(...)``.
    interval : float, optional
        Seconds between updates (default ``jupyter-nest.widget.interval``, at least 0.1).
    name : str, optional
        What the bar is labelled with; default the task's name.

    Returns
    -------
    Progress
        Displayed when it is the last expression of a cell; ``display(p)`` otherwise.

    Examples
    --------
    >>> future = client.submit(fib, 20)  # doctest: +SKIP
    >>> jupyter_nest.progress(future)  # doctest: +SKIP
    fib ▕████████████████████▏ 100% 21,891/21,891 done · 0 running · 0 seceded · 0 failed · 14.2 s · finished
    """
    if not isinstance(future, Future):
        raise TypeError(f"progress needs a distributed Future (from client.submit or f.spawn), not {type(future)!r}")
    cluster.require("progress")
    return Progress(future, interval=interval, name=name)


@contextmanager
def bars_while_waiting(client: Any, futures: list[Future]) -> Iterator[None]:
    """Show a progress bar per awaited root when the kernel's wait on ``futures`` outlasts a moment.

    The runtime calls it around every wait of the kernel's main thread (``future.result()``,
    ``client.gather``, ``f.spawn(n).result()``); a quick wait shows nothing. Set
    ``jupyter-nest.progress.wait-bar: false`` to turn the bars off.

    Examples
    --------
    >>> with bars_while_waiting(client, [future]):  # doctest: +SKIP
    ...     future.result()
    """
    roots = _roots(futures)
    if not roots:
        yield
        return
    started = time.monotonic()
    after = config.seconds("progress.wait-bar-after")
    ended = threading.Event()
    # Held from the check of `ended` to the bar's display: after the wait ends, no new bar appears.
    showing = threading.Lock()
    bars: list[Progress] = []

    def show() -> None:
        from IPython.display import display

        if ended.wait(after):
            return
        for future in roots:
            if future.key not in _live and not future.done():
                bar = Progress(future)
                bar.started = started  # the time the cell has waited
                # shown before its first measure, which its own thread makes: under load a measure of a
                # large tree takes seconds, and the bar would come too late to show the wait at all
                with showing:
                    if ended.is_set():
                        return
                    display(bar)
                    bars.append(bar)

    threading.Thread(target=show, name="jupyter-nest-wait-bars", daemon=True).start()
    try:
        yield
    except BaseException as error:
        with showing:
            ended.set()
        _end(bars, error)
        raise
    with showing:
        ended.set()
    _end(bars, None)


def _end(bars: list[Progress], error: BaseException | None) -> None:
    """End the bars of a wait that returned or raised ``error``."""
    for bar in bars:
        if error is None or isinstance(error, Exception):
            bar.finish()  # a failed tree's counts say where it failed
        else:
            bar.interrupt()  # KeyboardInterrupt: the cell returns while the tree is cancelled


def _roots(futures: list[Future]) -> list[Future]:
    """The futures a wait shows bars of: none outside a kernel, when turned off, or past ``wait-bar-limit``."""
    if not config.get("progress.wait-bar"):
        return []
    from IPython import get_ipython

    if getattr(get_ipython(), "kernel", None) is None:
        return []  # a script or a terminal IPython: no display to update in place
    roots = list({f.key: f for f in futures if f.key not in _live and not f.done()}.values())
    # Many roots are a collection (dask.compute of an array, a gather of a map), not a few recursions.
    return roots if len(roots) <= int(config.get("progress.wait-bar-limit")) else []
