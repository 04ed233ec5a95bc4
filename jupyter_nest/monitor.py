"""The monitor: what every worker's task slots hold right now, as compact snapshots.

The only module that reads Dask's internals for the slot view. Data flows one way:

- :class:`SlotsPlugin` (a worker plugin) follows its worker's task transitions
  exactly, including secede, assigns each running task a stable slot, and at most
  every ``jupyter-nest.monitor-interval`` sends what changed to the scheduler as an
  event. Every ``blocked-scan`` it also looks at the stacks of running tasks to
  find those blocked waiting on other tasks without having seceded (the
  deadlock the hang detector warns about).
- :class:`MonitorPlugin` (a scheduler plugin) keeps the latest report of every
  worker, counts task states, and answers ``nest_snapshot`` requests.
- :func:`snapshot` / :func:`snapshot_async` fetch a snapshot from a client, or
  from a bare scheduler address (no Client needed: the Jupyter server uses that).

Polling the scheduler for snapshots was chosen over pushing them to clients:
see ``benchmarks/bench_monitor.py`` for the measured cost and latency.
"""

from __future__ import annotations

import asyncio
import sys
import threading
import time
from collections import Counter
from typing import Any

from dask.utils import key_split
from distributed import Client, Security
from distributed.core import rpc
from distributed.diagnostics.plugin import SchedulerPlugin, WorkerPlugin
from tornado.ioloop import PeriodicCallback

from . import aio
from .forkjoin import runtime_of

TOPIC = "jupyter-nest-slots"
WORKER_PLUGIN = "jupyter-nest-slots"
SCHEDULER_PLUGIN = "jupyter-nest-monitor"
_RUNNING = frozenset({"executing", "long-running", "cancelled"})
SECEDED_LISTED = 50
_LIVE = frozenset({"released", "waiting", "queued", "no-worker", "processing"})


def _wire(key: Any) -> Any:
    """A key in a form events can carry (msgpack turns tuples into lists)."""
    return key if isinstance(key, (str, int, float)) else list(key)


def _unwire(key: Any) -> Any:
    return tuple(_unwire(k) for k in key) if isinstance(key, list) else key


_TASK_WAITS = frozenset({"_gather", "_result", "_wait", "_exception", "_traceback"})


def _blocked_in_client_wait(frame: Any) -> bool:
    """True when a thread's stack is inside Dask's blocking ``sync``, waiting on futures.

    Waits on other things (``distributed.Event``, ``Lock``, ``Queue``) go through
    ``sync`` too, but do not need a task slot to end, so they are not a deadlock.
    """
    while frame is not None:
        code = frame.f_code
        if code.co_name == "sync" and code.co_filename.endswith(("distributed/utils.py", "distributed\\utils.py")):
            return getattr(frame.f_locals.get("func"), "__name__", "") in _TASK_WAITS and not _joins_a_spawn(frame)
        frame = frame.f_back
    return False


def _joins_a_spawn(frame: Any) -> bool:
    """True when the code that waits is ``@nest``'s join of a child another slot runs (which cannot deadlock)."""
    while frame is not None and frame.f_globals.get("__name__", "").startswith(("distributed.", "jupyter_nest.client")):
        frame = frame.f_back
    return frame is not None and frame.f_globals.get("__name__") == "jupyter_nest.forkjoin"


class SlotsPlugin(WorkerPlugin):
    """Worker side of the monitor: the task in each slot, seceded tasks, blocked tasks.

    Parameters
    ----------
    interval : float
        Seconds between reports when something changed (a report is also sent
        every 2 s regardless, as a heartbeat).
    blocked_scan : float
        Seconds between scans of running tasks' stacks for blocking waits.
    """

    name = WORKER_PLUGIN
    idempotent = True

    def __init__(self, interval: float = 0.1, blocked_scan: float = 0.5) -> None:
        self.interval = interval
        self.blocked_scan = blocked_scan

    def setup(self, worker: Any) -> None:
        self.worker = worker
        self.slots: list[Any] = [None] * worker.state.nthreads
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
            if i >= self.worker.state.nthreads:
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
        threads = {key: ident for ident, key in self.worker.active_threads.items()}
        pool = {t.ident for ex in self.worker.executors.values() for t in getattr(ex, "_threads", ())}
        for key in [k for k in self.seceded if threads.get(k) in pool]:
            del self.seceded[key]  # rejoined: it holds a slot again
            self._take_slot(key)
            self.changed = True
        frames = sys._current_frames()
        now = time.time()
        blocked = {}
        for key in self.slots:
            if key is not None and _blocked_in_client_wait(frames.get(threads.get(key))):
                blocked[key] = self.blocked.get(key, now)
        if blocked.keys() != self.blocked.keys():
            self.changed = True
        self.blocked = blocked

    def _tick(self) -> None:
        now = time.time()
        if now - self.last_scan >= self.blocked_scan:
            self.last_scan = now
            self._scan()
        state = self.worker.state
        queued = len(state.ready) + len(state.constrained)
        if not self.changed and queued == self.last_queued and now - self.last_sent < 2:
            return
        self.changed = False
        self.last_sent = now
        self.last_queued = queued
        inline = runtime_of(self.worker).inline_counts()
        self.worker.log_event(TOPIC, {
            "address": self.worker.address,
            "time": now,
            "slots": [None if k is None else [_wire(k), self.since.get(k, now), inline.get(k, 0)]
                      for k in self.slots],
            "seceded": [[_wire(k), t] for k, t in self.seceded.items()],
            "blocked": [[_wire(k), t] for k, t in self.blocked.items()],
            "queued": queued,
            "threads": threading.active_count(),
        })


class MonitorPlugin(SchedulerPlugin):
    """Scheduler side of the monitor: the latest report of every worker, task counts, snapshots."""

    name = SCHEDULER_PLUGIN
    idempotent = True

    def __init__(self) -> None:
        self.reports: dict[str, dict[str, Any]] = {}
        self.states: Counter[str] = Counter()
        self.done = 0
        self.erred = 0

    async def start(self, scheduler: Any) -> None:
        self.scheduler = scheduler
        self.states = Counter(ts.state for ts in scheduler.tasks.values())
        scheduler.handlers["nest_snapshot"] = self.snapshot

    def transition(self, key: Any, start: str, finish: str, *args: Any, **kwargs: Any) -> None:
        self.states[start] -= 1
        self.states[finish] += 1
        if finish == "memory":
            self.done += 1
        elif finish == "erred":
            self.erred += 1

    def log_event(self, topic: str, msg: Any) -> None:
        if topic == TOPIC and msg.get("address") in self.scheduler.workers:
            self.reports[msg["address"]] = msg

    def remove_worker(self, scheduler: Any, worker: str, **kwargs: Any) -> None:
        self.reports.pop(worker, None)

    def _waiting_on(self, key: Any) -> int:
        lineage = self.scheduler.plugins.get("jupyter-nest-lineage")
        if lineage is None:
            return 0
        tasks = self.scheduler.tasks
        return sum(1 for c in lineage.children.get(key, ()) if c in tasks and tasks[c].state in _LIVE)

    def _task(self, wired: list[Any], with_children: bool = False) -> dict[str, Any]:
        key = _unwire(wired[0])
        out = {"key": str(key), "name": key_split(key), "since": wired[1]}
        if len(wired) > 2:
            out["inline"] = wired[2]
        if with_children:
            out["waiting_on"] = self._waiting_on(key)
        return out

    def snapshot(self) -> dict[str, Any]:
        """The state of every worker's slots and the cluster's totals, JSON-serialisable."""
        workers = []
        for address, ws in self.scheduler.workers.items():
            report = self.reports.get(address, {})
            slots = report.get("slots") or [None] * ws.nthreads
            workers.append({
                "address": address,
                "name": str(ws.name),
                "nthreads": ws.nthreads,
                "status": ws.status.name,
                "memory": ws.memory.process,
                "memory_limit": ws.memory_limit or 0,
                "slots": [None if s is None else self._task(s) for s in slots],
                # the oldest seceded tasks in full, the rest counted: a recursion can
                # hold thousands, and this runs on the scheduler's event loop
                "seceded": [self._task(s, with_children=True)
                            for s in sorted(report.get("seceded", ()), key=lambda s: s[1])[:SECEDED_LISTED]],
                "seceded_more": max(0, len(report.get("seceded", ())) - SECEDED_LISTED),
                "blocked": [self._task(s) for s in report.get("blocked", ())],
                "queued": report.get("queued", 0),
                "threads": report.get("threads", 0),
                "reported": report.get("time"),
            })
        running = sum(1 for w in workers for s in w["slots"] if s is not None)
        return {
            "version": 1,
            "time": time.time(),
            "scheduler": self.scheduler.address,
            "workers": workers,
            "totals": {
                "workers": len(workers),
                "threads": sum(w["nthreads"] for w in workers),
                "running": running,
                "seceded": sum(len(w["seceded"]) + w["seceded_more"] for w in workers),
                "queued": self.states["queued"] + self.states["no-worker"]
                + sum(w["queued"] for w in workers),
                "waiting": self.states["waiting"],
                "done": self.done,
                "erred": self.erred,
            },
        }


def snapshot(source: Client | str, security: Security | None = None, timeout: float = 2.0) -> dict[str, Any]:
    """Fetch a snapshot of a cluster's slots from its scheduler.

    Parameters
    ----------
    source : Client or str
        A connected client, or a scheduler address (then a short-lived
        connection is made; no Client is needed).
    security : distributed.Security, optional
        For ``tls://`` addresses.
    timeout : float
        Seconds to wait for the answer.

    Returns
    -------
    dict
        ``{"version", "time", "scheduler", "workers": [...], "totals": {...}}``.

    Raises
    ------
    OSError, TimeoutError
        When the scheduler cannot be reached in time.

    Examples
    --------
    >>> snap = snapshot(client)  # doctest: +SKIP
    >>> snap["totals"]["running"], snap["totals"]["seceded"]  # doctest: +SKIP
    (2, 5)
    """
    if isinstance(source, Client):
        return source.sync(source.scheduler.nest_snapshot, callback_timeout=timeout)
    return aio.run(snapshot_async(source, security, timeout), timeout)


async def snapshot_async(address: str, security: Security | None = None, timeout: float = 2.0) -> dict[str, Any]:
    """As :func:`snapshot`, from a scheduler address, in a running event loop."""
    args = (security or Security()).get_connection_args("client")
    async with rpc(address, timeout=timeout, connection_args=args) as scheduler:
        return await asyncio.wait_for(scheduler.nest_snapshot(), timeout)
