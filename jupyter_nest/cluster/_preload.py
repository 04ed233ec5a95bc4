"""Dask preload for the worker processes a kernel starts.

- Jupyter interrupts a kernel by sending SIGINT to the kernel's whole process
  group, which the local cluster's worker processes belong to; each would die
  with a KeyboardInterrupt, taking every result with it. Moving a worker process
  into a process group of its own keeps it alive. It still exits when the
  kernel does: Dask's worker processes watch their parent.
- Workers log every failed task ("Compute Failed"). With tasks that wait on
  tasks, one failure is logged again at every level, into the notebook, while
  the same error already reaches the notebook as the exception it raises.
- A worker's event loop shares the GIL with its task threads. While a task runs
  Python code, every message the loop has to handle waits up to the interpreter's
  switch interval (5 ms) for the GIL; handing work between workers takes several
  such messages. ``jupyter-nest.worker-switch-interval`` (1 ms) shortens the wait;
  it only matters when the loop has something to do.
"""

from __future__ import annotations

import logging
import os
import sys
from typing import Any

from .. import config


class _NoComputeFailed(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith("Compute Failed")


def quiet_task_failures() -> None:
    """Drop the worker's "Compute Failed" log records in this process (idempotent)."""
    logger = logging.getLogger("distributed.worker")
    if not any(isinstance(f, _NoComputeFailed) for f in logger.filters):
        logger.addFilter(_NoComputeFailed())


class _NoWorkerLossNoise(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith(("Couldn't gather keys", "Closed comm %r while trying to write"))


def quiet_worker_loss() -> None:
    """Drop what the scheduler logs in this process when a worker dies mid-task (idempotent).

    "Couldn't gather keys" (ERROR): the dead worker held the data; the client asks again and the
    keys are recomputed. "Closed comm ... while trying to write" (CRITICAL, with a traceback): a
    message to the dead worker's own client, which is gone. Neither asks anything of the user,
    and both landed in the notebook, as the scheduler of a local cluster runs in the kernel.
    """
    logger = logging.getLogger("distributed.scheduler")
    if not any(isinstance(f, _NoWorkerLossNoise) for f in logger.filters):
        logger.addFilter(_NoWorkerLossNoise())


def dask_setup(worker: Any) -> None:
    """Called by Dask in each worker process at start (``preload=[jupyter_nest._wire.PRELOAD_MODULE]``)."""
    if hasattr(os, "setpgrp"):
        os.setpgrp()
    quiet_task_failures()
    sys.setswitchinterval(config.seconds("worker-switch-interval"))
