"""``@nest`` on in-process workers (``LocalCluster(processes=False)``, ``inproc://`` comms), where
nothing sent between workers is serialized."""

from __future__ import annotations

import time

import dask
import pytest
from distributed import LocalCluster

import jupyter_nest
from jupyter_nest import nest

pytestmark = [pytest.mark.timeout(120), pytest.mark.slow]


@nest
def leaves(n):
    if n == 1:
        end = time.perf_counter() + 0.001
        while time.perf_counter() < end:
            pass
        return 1
    left, right = leaves.spawn(n // 2), leaves.spawn(n - n // 2)
    return left.result() + right.result()


def test_lent_and_returned_children_arrive_unwrapped():
    """A borrowed child's arguments and value cross between in-process workers wrapped in ``ToPickle``,
    which no serialization takes off there: the borrower got the wrapper (a TypeError)."""
    # no thread may secede: a task waiting on a stolen child must borrow from the thief
    with dask.config.set({"jupyter-nest.forkjoin.max-seceded": 0}), \
            LocalCluster(n_workers=2, threads_per_worker=1, processes=False, dashboard_address=":0") as cluster:
        jupyter_nest.attach(cluster)
        try:
            client = jupyter_nest.current().client
            for _ in range(5):  # whether a run lends depends on timing: a busy machine may need a few
                assert leaves.spawn(1024).result() == 1024
                lent = client.run(lambda dask_worker: jupyter_nest.forkjoin.ledger_of(dask_worker).lent)
                if sum(lent.values()):
                    break
            assert sum(lent.values()) > 0, "nothing was lent: the test did not cross workers"
        finally:
            jupyter_nest.stop()
