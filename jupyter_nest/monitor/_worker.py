"""The monitor's worker half: what each slot of this worker holds, reported to the scheduler as events.

:class:`SlotsPlugin` follows its worker's task transitions exactly, including
secede, assigns each running task a stable slot, and at most every
``jupyter-nest.monitor-interval`` sends what changed to the scheduler as an
event. Every ``blocked-scan`` it also looks at the stacks of running tasks to
find those blocked waiting on other tasks without having seceded (the deadlock
the hang detector warns about).
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable
from typing import Any

from distributed.diagnostics.plugin import WorkerPlugin
from tornado.ioloop import PeriodicCallback

from .. import _dask
from .._wire import FORKJOIN_PACKAGE, RUNTIME_PACKAGE, SECEDED_REPORTED, SLOTS_PLUGIN, SLOTS_TOPIC

_RUNNING = frozenset({"executing", "long-running", "cancelled"})


def wire_key(key: Any) -> Any:
    """A key in a form events can carry (msgpack turns tuples into lists)."""
    return key if isinstance(key, (str, int, float)) else list(key)


def _no_inline(worker: Any) -> dict[Any, int]:
    return {}


class SlotsPlugin(WorkerPlugin):
    """Worker side of the monitor: the task in each slot, seceded tasks, blocked tasks.

    Parameters
    ----------
    interval : float
        Seconds between reports when something changed (a report is also sent
        every 2 s regardless, as a heartbeat).
    blocked_scan : float
        Seconds between scans of running tasks' stacks for blocking waits.
    inline_counts : callable, optional
        ``inline_counts(worker)``: task key -> children it ran in its own thread
        (``@nest``'s count; the composition root passes fork-join's).
    """

    name = SLOTS_PLUGIN
    idempotent = True

    def __init__(self, interval: float = 0.1, blocked_scan: float = 0.5,
                 inline_counts: Callable[[Any], dict[Any, int]] = _no_inline) -> None:
        self.interval = interval
        self.blocked_scan = blocked_scan
        self.inline_counts = inline_counts

    def setup(self, worker: Any) -> None:
        self.worker = worker
        self.slots: list[Any] = [None] * _dask.nthreads(worker)
        self.since: dict[Any, float] = {}
        self.seceded: dict[Any, float] = {}
        self.blocked: dict[Any, float] = {}
        self.changed = True
        self.last_queued = 0
        self.last_sent = 0.0
        self.last_scan = 0.0
        self._callback = PeriodicCallback(self._tick, self.interval * 1000)
        self._callback.start()

    def teardown(self, worker: Any) -> None:
        self._callback.stop()

    def _take_slot(self, key: Any) -> None:
        try:
            self.slots[self.slots.index(None)] = key
        except ValueError:  # more running than threads: a rejoin is in progress
            self.slots.append(key)

    def _free_slot(self, key: Any) -> None:
        if key in self.slots:
            i = self.slots.index(key)
            self.slots[i] = None
            if i >= _dask.nthreads(self.worker):
                del self.slots[i]

    def transition(self, key: Any, start: str, finish: str, **kwargs: Any) -> None:
        if finish == "executing":
            self.since[key] = time.time()
            self._take_slot(key)
        elif finish == "long-running":
            self.seceded[key] = time.time()
            self._free_slot(key)
        elif start in _RUNNING and finish not in _RUNNING:
            self.since.pop(key, None)
            self.seceded.pop(key, None)
            self.blocked.pop(key, None)
            self._free_slot(key)
        else:
            return
        self.changed = True

    def _scan(self) -> None:
        """Find running tasks blocked in a client wait, and seceded tasks that rejoined."""
        threads = _dask.task_threads(self.worker)
        pool = _dask.pool_thread_idents(self.worker)
        for key in [k for k in self.seceded if threads.get(k) in pool]:
            del self.seceded[key]  # rejoined: it holds a slot again
            self._take_slot(key)
            self.changed = True
        frames = _dask.current_frames()
        now = time.time()
        blocked = {}
        for key in self.slots:
            # A @nest join waits in its slot on a child that runs elsewhere: that cannot deadlock.
            if key is not None and _dask.waits_on_futures(frames.get(threads.get(key, -1)),
                                                          unless_from=(FORKJOIN_PACKAGE,),
                                                          through=(RUNTIME_PACKAGE,)):
                blocked[key] = self.blocked.get(key, now)
        if blocked.keys() != self.blocked.keys():
            self.changed = True
        self.blocked = blocked

    def _tick(self) -> None:
        now = time.time()
        if now - self.last_scan >= self.blocked_scan:
            self.last_scan = now
            self._scan()
        queued = _dask.queued(self.worker)
        if not self.changed and queued == self.last_queued and now - self.last_sent < 2:
            return
        self.changed = False
        self.last_sent = now
        self.last_queued = queued
        inline = self.inline_counts(self.worker)
        self.worker.log_event(SLOTS_TOPIC, {
            "address": self.worker.address,
            "time": now,
            "slots": [None if k is None else [wire_key(k), self.since.get(k, now), inline.get(k, 0)]
                      for k in self.slots],
            # in order of seceding (a rejoined task that secedes again goes to the end): the oldest first
            "seceded": [[wire_key(k), t] for k, t in itertools.islice(self.seceded.items(), SECEDED_REPORTED)],
            "seceded_total": len(self.seceded),
            "blocked": [[wire_key(k), t] for k, t in self.blocked.items()],
            "queued": queued,
            "threads": threading.active_count(),
        })
