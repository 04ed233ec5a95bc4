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
            raise TimeoutError(f"{len(live)} tasks still run or wait on the scheduler after {timeout} s: the "
                               f"cluster is not as a test should find it: {live[:5]}")
        time.sleep(0.05)


def _live_tasks(dask_scheduler: Any) -> list[str]:
    return [f"{ts.key} {ts.state} on {ts.processing_on and ts.processing_on.address} for "
            f"{sorted(cs.client_key for cs in ts.who_wants or ())} waiting on {[d.key for d in ts.waiting_on or ()]}"
            for ts in dask_scheduler.tasks.values() if ts.state in ("waiting", "queued", "processing", "no-worker")]
