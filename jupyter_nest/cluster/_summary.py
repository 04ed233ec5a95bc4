"""How a cluster is described to the user: one summary, as text and as HTML."""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from typing import Any

from dask.utils import format_bytes

from ..errors import NestConnectionError
from ._dashboard import browser_link


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def _link(url: str | None) -> str:
    if not url:
        return "off"
    return f'<a href="{html.escape(url)}" target="_blank">{html.escape(url)}</a>'


@dataclass(frozen=True)
class WorkerRow:
    """One worker as ``status`` lists it."""

    address: str
    threads: int
    memory_used: int
    memory_limit: int
    executing: int
    seceded: int
    ready: int


@dataclass(frozen=True)
class ClusterSummary:
    """What a cluster is: where it listens, its shape and its memory.

    ``tasks`` (counts by worker-side state) and ``rows`` (one per worker) are
    filled for ``%nest_cluster status`` and left empty for the short summary.
    """

    kind: str
    scheduler: str
    dashboard: str | None
    workers: int
    threads: int
    memory: int
    tasks: dict[str, int] = field(default_factory=dict)
    rows: tuple[WorkerRow, ...] = ()
    dashboard_via: str = ""

    def shape(self) -> str:
        per_worker = self.threads // self.workers if self.workers else 0
        if self.workers and per_worker * self.workers == self.threads:
            shape = f"{_plural(self.workers, 'worker')} x {_plural(per_worker, 'thread')}"
        else:
            shape = f"{_plural(self.workers, 'worker')}, {_plural(self.threads, 'thread')}"
        return f"{shape}, {format_bytes(self.memory)}"

    def _task_line(self) -> str:
        return ", ".join(f"{n} {state}" for state, n in self.tasks.items()) or "none"

    def text(self) -> str:
        lines = [
            f"jupyter_nest: {self.kind}, {self.shape()}",
            f"  scheduler  {self.scheduler}",
            f"  dashboard  {self._dashboard_text()}",
        ]
        if self.rows or self.tasks:
            lines.append(f"  tasks      {self._task_line()}")
            for r in self.rows:
                lines.append(
                    f"  {r.address}  {_plural(r.threads, 'thread')}, "
                    f"{format_bytes(r.memory_used)} / {format_bytes(r.memory_limit)}, "
                    f"{r.executing} running, {r.seceded} seceded, {r.ready} queued"
                )
        return "\n".join(lines)

    def _dashboard_text(self) -> str:
        if not self.dashboard:
            return "off"
        return f"{self.dashboard} ({self.dashboard_via})" if self.dashboard_via else self.dashboard

    def __str__(self) -> str:
        return self.text()

    def _repr_pretty_(self, p: Any, cycle: bool) -> None:
        p.text(self.text())

    def _repr_html_(self) -> str:
        rows = [
            ("Scheduler", f"<code>{html.escape(self.scheduler)}</code>"),
            ("Dashboard", _link(self.dashboard)
             + (f" ({html.escape(self.dashboard_via)})" if self.dashboard and self.dashboard_via else "")),
            ("Shape", html.escape(self.shape())),
        ]
        if self.rows or self.tasks:
            rows.append(("Tasks", html.escape(self._task_line())))
        body = "".join(
            f'<tr><th style="text-align:left">{k}</th><td style="text-align:left">{v}</td></tr>'
            for k, v in rows
        )
        workers = ""
        if self.rows:
            head = "".join(
                f"<th>{h}</th>"
                for h in ("Worker", "Threads", "Memory", "Running", "Seceded", "Queued")
            )
            cells = "".join(
                f"<tr><td><code>{html.escape(r.address)}</code></td><td>{r.threads}</td>"
                f"<td>{format_bytes(r.memory_used)} / {format_bytes(r.memory_limit)}</td>"
                f"<td>{r.executing}</td><td>{r.seceded}</td><td>{r.ready}</td></tr>"
                for r in self.rows
            )
            workers = f"<table><tr>{head}</tr>{cells}</table>"
        return (
            f"<div><strong>jupyter_nest</strong>: {html.escape(self.kind)}"
            f"<table>{body}</table>{workers}</div>"
        )


def summarize(client: Any, kind: str, dashboard: bool, detailed: bool = False) -> ClusterSummary:
    """Describe the cluster behind ``client``; ``detailed`` adds tasks and per-worker rows."""
    # Asked while the client reconnects, Dask tries to reach the scheduler for its connect timeout
    # twice (a minute) before it answers from a stale cache; it answers {} once it gave up.
    info = client.scheduler_info(n_workers=-1) if client.status == "running" else {}
    if client.status != "running" or "workers" not in info:
        address = getattr(client.scheduler, "address", None) or "of this cluster"
        raise NestConnectionError(
            f"The scheduler at {address} does not answer: this kernel lost its connection to it "
            f"(the client is {client.status}). If the scheduler stopped, `%nest_cluster start --replace` "
            "starts a new cluster, or `%nest_cluster stop` forgets this one."
        )
    workers = info["workers"]
    rows: tuple[WorkerRow, ...] = ()
    tasks: dict[str, int] = {}
    if detailed:
        rows = tuple(
            WorkerRow(
                address=addr,
                threads=w["nthreads"],
                memory_used=w["metrics"].get("memory", 0),
                memory_limit=w.get("memory_limit") or 0,
                executing=w["metrics"].get("task_counts", {}).get("executing", 0),
                seceded=w["metrics"].get("task_counts", {}).get("long-running", 0),
                ready=w["metrics"].get("task_counts", {}).get("ready", 0),
            )
            for addr, w in sorted(workers.items())
        )
        for w in workers.values():
            for state, n in w["metrics"].get("task_counts", {}).items():
                tasks[state] = tasks.get(state, 0) + n
    link, via = browser_link(
        client.dashboard_link if dashboard and "dashboard" in info.get("services", {}) else None
    )
    return ClusterSummary(
        kind=kind,
        scheduler=info.get("address", client.scheduler.address),
        dashboard=link,
        dashboard_via=via,
        workers=len(workers),
        threads=sum(w["nthreads"] for w in workers.values()),
        memory=sum(w.get("memory_limit") or 0 for w in workers.values()),
        tasks=dict(sorted(tasks.items())),
        rows=rows,
    )
