"""The parts of ``distributed.deploy`` and ``distributed.comm`` that cluster start-up builds on."""

from __future__ import annotations

from distributed.comm import connect as connect_comm
from distributed.core import Status
from distributed.deploy.spec import SpecCluster
from distributed.deploy.ssh import Process as SSHProcess
from distributed.deploy.ssh import Scheduler as SSHScheduler
from distributed.deploy.ssh import Worker as SSHWorker
from distributed.deploy.ssh import logger as ssh_logger
from distributed.deploy.utils import nprocesses_nthreads
from distributed.utils import format_dashboard_link

__all__ = ["SSHProcess", "SSHScheduler", "SSHWorker", "SpecCluster", "Status", "connect_comm",
           "format_dashboard_link", "nprocesses_nthreads", "ssh_logger"]
