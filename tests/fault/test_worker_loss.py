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


def kill_and_wait_for_the_restart(client, address, workers):
    os.kill(client.run(os.getpid, workers=[address])[address], signal.SIGKILL)
    # by the scheduler's own list: the cluster object's may not have heard of the death yet
    deadline = time.monotonic() + 60
    while True:
        known = client.scheduler_info(n_workers=-1)["workers"]
        if address not in known and len(known) == workers:
            return
        assert time.monotonic() < deadline, f"{address} was not replaced within 60 s: {sorted(known)}"
        time.sleep(0.1)


def test_a_worker_slower_to_restart_than_dask_waits_still_comes_back():
    # Dask's SpecCluster closes a nanny whose worker is not back within lost-worker-timeout (15 s): a restart
    # slowed down by a busy machine, or a worker killed again while restarting, then shrinks the cluster for
    # good. A shorter timeout makes any restart too slow.
    with dask.config.set({"distributed.deploy.lost-worker-timeout": "100ms"}):
        session = jupyter_nest.start(workers=2, threads=1, dashboard=False, replace=True)
        try:
            client = session.client
            kill_and_wait_for_the_restart(client, sorted(client.scheduler_info()["workers"])[0], 2)
            time.sleep(1)  # well past the timeout
            assert len(session.cluster.workers) == 2, session.cluster.workers
            assert len(client.scheduler_info(n_workers=-1)["workers"]) == 2
            kill_and_wait_for_the_restart(client, sorted(client.scheduler_info()["workers"])[1], 2)
            assert client.submit(sum, [1, 2]).result(timeout=30) == 3
        finally:
            jupyter_nest.stop()
