"""The hang detector: one clear warning when every slot of the cluster waits on tasks that cannot start.

A task that gathers the results of tasks it submitted, without seceding first,
keeps its slot while it waits. When every slot is held that way, the tasks
being waited on can never start: the cluster is deadlocked and, in plain Dask,
silent. jupyter_nest's own ``get_client()`` cannot get there (its waits
secede), but plain ``distributed.get_client()`` can. This watcher reads the
monitor's snapshots and, once every slot has been blocked for longer than
``jupyter-nest.hang-warning``, writes one warning into the notebook (the cell
that is running at that moment), naming the blocked tasks and the fix.
"""

from __future__ import annotations

import threading
import warnings

from distributed import Client

from .._wire import Snapshot
from ..errors import HangWarning
from ._read import snapshot

FIX = (
    "Fix: get the client inside tasks with `jupyter_nest.get_client()` (its waits secede "
    "automatically), or call `secede()` before waiting and `rejoin()` after, or wait inside "
    "`with worker_client():`. Interrupt the kernel to cancel the stuck work."
)


def diagnose(snap: Snapshot, threshold: float) -> str | None:
    """The warning for a snapshot where every slot has been blocked for ``threshold`` seconds, else None.

    Examples
    --------
    >>> diagnose({"time": 0, "workers": []}, 10) is None
    True
    """
    workers = snap["workers"]
    if not workers or any(len(w["blocked"]) < w["nthreads"] for w in workers):
        return None
    blocked = [(b, w["address"]) for w in workers for b in w["blocked"]]
    waited = snap["time"] - max(b["since"] for b, _ in blocked)
    if waited < threshold:
        return None
    names = "; ".join(f"{b['key']} on {addr}" for b, addr in blocked[:5])
    more = f" and {len(blocked) - 5} more" if len(blocked) > 5 else ""
    slots = sum(w["nthreads"] for w in workers)
    which = "Its only task slot has" if slots == 1 else f"All {slots} task slots have"
    return (
        f"the cluster looks deadlocked. {which} been blocked for {waited:.0f} s by "
        f"tasks waiting on other tasks without seceding, so the tasks they wait for cannot start. "
        f"Blocked: {names}{more}. {FIX}"
    )


class HangWatcher:
    """A daemon thread that polls snapshots and warns once per deadlock.

    Parameters
    ----------
    client : distributed.Client
        The kernel's client.
    threshold : float
        Seconds every slot must have been blocked before the warning.
    interval : float
        Seconds between snapshots.
    """

    def __init__(self, client: Client, threshold: float, interval: float = 1.0) -> None:
        self.client = client
        self.threshold = threshold
        self.interval = interval
        self.warnings: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="jupyter-nest-hang-watcher", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        warned = False
        while not self._stop.wait(self.interval):
            try:
                snap = snapshot(self.client, timeout=5)
            except Exception:
                continue  # a busy or departing scheduler: try again next time
            message = diagnose(snap, self.threshold)
            if message and not warned:
                self.warnings.append(message)
                # shown as "jupyter_nest:1: HangWarning: ...": the code that raised it is this watcher
                # thread, so Python's usual file, line and source line would say nothing useful
                warnings.warn_explicit(message, HangWarning, "jupyter_nest", 1, module="jupyter_nest")
            warned = message is not None

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
