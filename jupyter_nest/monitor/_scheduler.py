"""The monitor's scheduler half: the latest report of every worker, task counts, and snapshots."""

from __future__ import annotations

import time
from collections import Counter
from typing import Any

from dask.utils import key_split
from distributed.diagnostics.plugin import SchedulerPlugin

from .. import _dask
from .._wire import (
    CALL_ANNOTATION,
    LINEAGE_PLUGIN,
    MONITOR_PLUGIN,
    SECEDED_REPORTED,
    SLOTS_TOPIC,
    SNAPSHOT_HANDLER,
    SNAPSHOT_VERSION,
    SlotTask,
    Snapshot,
    WorkerSlots,
)


def unwire_key(key: Any) -> Any:
    """A key as it was before an event carried it (lists back to tuples)."""
    return tuple(unwire_key(k) for k in key) if isinstance(key, list) else key


class MonitorPlugin(SchedulerPlugin):
    """Scheduler side of the monitor: the latest report of every worker, task counts, snapshots."""

    name = MONITOR_PLUGIN
    idempotent = True

    def __init__(self) -> None:
        self.reports: dict[str, dict[str, Any]] = {}
        self.states: Counter[str] = Counter()
        self.done = 0
        self.erred = 0
        self.calls: dict[Any, str] = {}  # of tasks the scheduler still has

    async def start(self, scheduler: Any) -> None:
        self.scheduler = scheduler
        self.states = Counter(ts.state for ts in scheduler.tasks.values())
        scheduler.handlers[SNAPSHOT_HANDLER] = self.snapshot

    def transition(self, key: Any, start: str, finish: str, *args: Any, **kwargs: Any) -> None:
        self.states[start] -= 1
        self.states[finish] += 1
        if finish == "memory":
            self.done += 1
        elif finish == "erred":
            self.erred += 1
        elif finish == "forgotten":
            self.calls.pop(key, None)

    def log_event(self, topic: str, msg: Any) -> None:
        if topic == SLOTS_TOPIC and msg.get("address") in self.scheduler.workers:
            self.reports[msg["address"]] = msg

    def remove_worker(self, scheduler: Any, worker: str, **kwargs: Any) -> None:
        self.reports.pop(worker, None)

    def _waiting_on(self, key: Any) -> int:
        lineage = self.scheduler.plugins.get(LINEAGE_PLUGIN)
        return 0 if lineage is None else lineage.live_children(key)

    def _call(self, key: Any, name: str) -> str:
        """``fib(17)``: the task's call with shortened arguments, worked out once per task."""
        call = self.calls.get(key)
        if call is None:
            ts = self.scheduler.tasks.get(key)
            if ts is None:  # forgotten already: nothing would ever drop it from the memo
                return name
            # an offered @nest child says what it runs; its Dask function is fork-join's
            call = self.calls[key] = (ts.annotations or {}).get(CALL_ANNOTATION) or _dask.task_call(ts, name)
        return call

    def _task(self, wired: list[Any], with_children: bool = False) -> SlotTask:
        key = unwire_key(wired[0])
        name = key_split(key)
        out: SlotTask = {"key": str(key), "name": name, "since": wired[1], "call": self._call(key, name)}
        lineage = self.scheduler.plugins.get(LINEAGE_PLUGIN)
        parent = None if lineage is None else lineage.parent.get(key)
        if parent is not None:
            out["parent"] = str(parent)
        if len(wired) > 2:
            out["inline"] = wired[2]
        if with_children:
            out["waiting_on"] = self._waiting_on(key)
        return out

    def snapshot(self) -> Snapshot:
        """The state of every worker's slots and the cluster's totals, JSON-serialisable."""
        workers: list[WorkerSlots] = []
        for address, ws in self.scheduler.workers.items():
            report = self.reports.get(address, {})
            slots = report.get("slots") or [None] * ws.nthreads
            reported = report.get("seceded", ())
            seceded = sorted(reported, key=lambda s: s[1])[:SECEDED_REPORTED]
            workers.append({
                "address": address,
                "name": str(ws.name),
                "nthreads": ws.nthreads,
                "status": ws.status.name,
                "memory": _dask.worker_memory(ws),
                "memory_limit": ws.memory_limit or 0,
                "slots": [None if s is None else self._task(s) for s in slots],
                # the worker reports the oldest seceded tasks in full and counts the rest
                "seceded": [self._task(s, with_children=True) for s in seceded],
                "seceded_more": max(0, report.get("seceded_total", len(reported)) - len(seceded)),
                "blocked": [self._task(s) for s in report.get("blocked", ())],
                "queued": report.get("queued", 0),
                "threads": report.get("threads", 0),
                "reported": report.get("time"),
            })
        running = sum(1 for w in workers for s in w["slots"] if s is not None)
        return {
            "version": SNAPSHOT_VERSION,
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
