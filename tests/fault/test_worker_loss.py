"""Workers lost mid-recursion, on real local clusters of worker processes: the cluster keeps its shape, every
API gets its result. Each test gets its own cluster (it kills workers) and stops it."""

from __future__ import annotations

import os
import signal
import time

import dask
import pytest

import jupyter_nest

pytestmark = [pytest.mark.timeout(180), pytest.mark.slow]


def kill(client, address):
    os.kill(client.run(os.getpid, workers=[address])[address], signal.SIGKILL)


def test_a_worker_slower_to_restart_than_dask_waits_still_comes_back():
    # Dask's SpecCluster closes a nanny whose worker is not back within lost-worker-timeout (15 s): a restart
    # slowed down by a busy machine, or a worker killed again while restarting, then shrinks the cluster for
    # good. A shorter timeout makes any restart too slow.
    with dask.config.set({"distributed.deploy.lost-worker-timeout": "100ms"}):
        session = jupyter_nest.start(workers=2, threads=1, dashboard=False, replace=True)
        try:
            client = session.client
            victim = sorted(client.scheduler_info()["workers"])[0]
            kill(client, victim)
            client.wait_for_workers(2, timeout=60)
            time.sleep(1)  # well past the timeout
            assert len(session.cluster.workers) == 2, session.cluster.workers
            assert len(client.scheduler_info()["workers"]) == 2
            kill(client, sorted(client.scheduler_info()["workers"])[1])
            client.wait_for_workers(2, timeout=60)
            assert client.submit(sum, [1, 2]).result(timeout=30) == 3
        finally:
            jupyter_nest.stop()
