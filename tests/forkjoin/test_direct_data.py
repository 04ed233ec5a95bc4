"""Big arguments of ``@nest`` children travel worker to worker, never through the scheduler.

The cluster is real ``dask scheduler`` and ``dask worker`` processes (2 x 1), so the bytes
the scheduler's sockets receive are counted in a process of its own (``support.received``).
"""

from __future__ import annotations

import sys
import time
import warnings

import cloudpickle
import numpy as np
import pytest
from support import received
from support.processes import DaskProcesses

import jupyter_nest
from jupyter_nest import nest

pytestmark = [pytest.mark.timeout(180), pytest.mark.slow]


@nest
def merge_sort(a, leaf):
    """``a`` sorted, and the workers that sorted its pieces (children get slices of ``a``)."""
    if len(a) <= leaf:
        import distributed

        return np.sort(a), {distributed.get_worker().address}
    mid = len(a) // 2
    left, right = merge_sort.spawn(a[:mid], leaf), merge_sort.spawn(a[mid:], leaf)
    (x, where_x), (y, where_y) = left.result(), right.result()
    # two sorted runs: the stable sort (timsort) merges them in linear time
    return np.sort(np.concatenate([x, y]), kind="stable"), where_x | where_y


def busy(seconds):
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        pass


@nest
def sorted_summary(a, leaf):
    """What the test checks, small enough that the result itself adds nothing to the scheduler's reads."""
    mid = len(a) // 2
    left, right = merge_sort.spawn(a[:mid], leaf), merge_sort.spawn(a[mid:], leaf)
    busy(0.5)  # the idle slot asks for work meanwhile
    nest(busy).spawn(0.1).result()  # this spawn offers the pending halves, 20 MB each
    (x, where_x), (y, where_y) = left.result(), right.result()
    out = np.sort(np.concatenate([x, y]), kind="stable")
    return bool(np.all(out[:-1] <= out[1:])), float(out.sum()), len(out), sorted(where_x | where_y)


@pytest.fixture
def processes(tmp_path):
    procs = DaskProcesses(tmp_path, workers=2, threads=1, log=tmp_path / "dask.log")
    for module in (sys.modules[__name__], received):  # these processes cannot import the tests
        cloudpickle.register_pickle_by_value(module)
    try:
        procs.wait_for_workers(2)
        jupyter_nest.connect(procs.address)
        yield procs
    finally:
        jupyter_nest.stop()
        procs.close()
        for module in (sys.modules[__name__], received):
            cloudpickle.unregister_pickle_by_value(module)


def test_slices_of_a_big_array_never_pass_through_the_scheduler(processes, tmp_path):
    data = np.random.default_rng(0).random(5_000_000)  # 40 MB: each stolen half is 20 MB
    client = jupyter_nest.current().client
    client.run_on_scheduler(received.count_received)
    before = client.run_on_scheduler(received.received)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ok, total, n, where = sorted_summary.spawn(data, 600_000).result()
    nbytes = client.run_on_scheduler(received.received) - before
    assert (ok, n) == (True, len(data)) and total == pytest.approx(data.sum())
    assert len(where) == 2, f"both workers sort pieces (else nothing was offered): {where}"
    assert nbytes < 1_000_000, f"the scheduler received {nbytes:,} bytes"
    assert not [w for w in caught if issubclass(w.category, UserWarning)], [str(w.message) for w in caught]
    assert "large graph" not in (tmp_path / "dask.log").read_text()
