"""The Dask client jupyter_nest hands out: a ``distributed.Client`` that describes itself as a cluster summary."""

from __future__ import annotations

from typing import Any

from distributed import Client

from .summary import ClusterSummary, summarize


class NestClient(Client):
    """A ``distributed.Client`` whose notebook display is the jupyter_nest cluster summary.

    Everything else is Dask's: it is the default client after ``start`` or
    ``connect``, so ``dask.compute``, ``client.submit`` and ``get_client()``
    inside tasks work as the Dask documentation shows.

    Examples
    --------
    >>> import jupyter_nest
    >>> client = jupyter_nest.start(workers=2, threads=1).client  # doctest: +SKIP
    >>> client.submit(sum, [1, 2, 3]).result()  # doctest: +SKIP
    6
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
