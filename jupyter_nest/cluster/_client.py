"""The kernel's client of its session: a :class:`~jupyter_nest.runtime.NestClient` that describes its cluster."""

from __future__ import annotations

from typing import Any

from ..runtime import NestClient
from ._summary import ClusterSummary, summarize


class SessionClient(NestClient):
    """The client ``start`` and ``connect`` return; its notebook display is the cluster summary.

    Examples
    --------
    >>> client = jupyter_nest.start(workers=2, threads=1).client  # doctest: +SKIP
    >>> client  # the summary: kind, scheduler, dashboard, shape  # doctest: +SKIP
    """

    nest_kind: str = "remote scheduler"
    nest_dashboard: bool = True

    def summary(self, detailed: bool = False) -> ClusterSummary:
        """The cluster behind this client, as ``%nest_cluster status`` shows it."""
        return summarize(self, self.nest_kind, self.nest_dashboard, detailed=detailed)

    def _repr_html_(self) -> str:
        if self.status != "running":
            return f"<div><strong>jupyter_nest</strong>: client {self.status}</div>"
        return self.summary()._repr_html_()

    def _repr_pretty_(self, p: Any, cycle: bool) -> None:
        if self.status != "running":
            p.text(f"jupyter_nest: client {self.status}")
        else:
            p.text(self.summary().text())


# Messages and reprs name the class where users find it, not the private module that defines it.
SessionClient.__module__ = "jupyter_nest.cluster"
