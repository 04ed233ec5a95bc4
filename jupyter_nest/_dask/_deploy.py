"""The parts of ``distributed.deploy`` and ``distributed.comm`` that cluster start-up builds on."""

from __future__ import annotations

from typing import Any

from distributed import LocalCluster, Nanny
from distributed.comm import connect as connect_comm
from distributed.core import Status
from distributed.deploy.spec import SpecCluster
from distributed.deploy.ssh import Process as SSHProcess
from distributed.deploy.ssh import Scheduler as SSHScheduler
from distributed.deploy.ssh import Worker as SSHWorker
from distributed.deploy.ssh import logger as ssh_logger
from distributed.deploy.utils import nprocesses_nthreads
from distributed.utils import format_dashboard_link

__all__ = ["NannyKeepingLocalCluster", "SSHProcess", "SSHScheduler", "SSHWorker", "SpecCluster", "Status",
           "close_cluster", "connect_comm", "format_dashboard_link", "nprocesses_nthreads", "ssh_logger"]


class NannyKeepingLocalCluster(LocalCluster):
    """A ``LocalCluster`` that leaves a nanny to restart its dead worker, however long that takes.

    Dask's ``SpecCluster`` closes the nanny of a worker that left the scheduler and is not back
    within ``distributed.deploy.lost-worker-timeout``: a restart slowed down by a busy machine,
    or a worker killed again while it restarts, then shrinks the cluster for good. It also logs a
    ``KeyError`` for a worker that left before the cluster heard it joined.
    """

    def _update_worker_status(self, op: str, msg: Any) -> None:
        if op == "remove":
            info = self.scheduler_info["workers"].pop(msg, None)
            nanny = self.workers.get(info["name"]) if info is not None else None
            if info is None or (isinstance(nanny, Nanny) and nanny.status == Status.running):
                return
            self.scheduler_info["workers"][msg] = info
        super()._update_worker_status(op, msg)


def close_cluster(cluster: Any) -> None:
    """Close ``cluster``; a ``SpecCluster`` first closes its workers, and each one then says so.

    ``SpecCluster.close`` asserts that every worker object it created, and that something still
    holds, says it closed. dask-jobqueue's jobs never do: after a scale-down, ``close`` raised
    ``AssertionError: Status.running`` whenever an old job was still alive, and left the cluster
    half closed (a notebook holding ``cluster.workers``, or garbage not yet collected).
    """
    if isinstance(cluster, SpecCluster):
        if getattr(cluster.scheduler, "status", None) == Status.closed:
            # Its scheduler ran in this process and stopped: telling it to stop would try to
            # reach it for the whole connect timeout (30 s) first.
            cluster.shutdown_scheduler = False
        if cluster.status == Status.running:
            cluster.scale(0)
            cluster.sync(cluster._correct_state)
            for worker in list(cluster._created):
                if worker.status == Status.running:  # closed above, by the cluster's own means
                    worker.status = Status.closed
    cluster.close()
