"""Checking that a cluster a test hands on is whole: every worker back, nothing left running."""

from __future__ import annotations

import time
from typing import Any

import distributed


def wait_whole(client: distributed.Client, workers: int, timeout: float = 60) -> None:
    """Until the nannies have restarted every killed worker and no task runs or waits."""
    client.wait_for_workers(workers, timeout=timeout)
    deadline = time.monotonic() + timeout
    while live := client.run_on_scheduler(_live_tasks):
        if time.monotonic() > deadline:
            raise TimeoutError(f"{live} tasks still run or wait on the scheduler after {timeout} s: the cluster "
                               "is not as a test should find it")
        time.sleep(0.05)


def _live_tasks(dask_scheduler: Any) -> int:
    return sum(ts.state in ("waiting", "queued", "processing", "no-worker") for ts in dask_scheduler.tasks.values())
