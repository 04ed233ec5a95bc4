"""Merge sort of a 200 MB NumPy array with ``@nest`` on 2 x 1 against NumPy's sequential sort, and the
bytes the scheduler received meanwhile.

One run: a ``dask scheduler`` and a ``dask worker --nworkers 2 --nthreads 1`` as processes of
their own (so the scheduler's received bytes are its own: counted at its sockets, see
``tests/support/received.py``), the sequential sort in this process, side by side, ``--repeat``
times each (the median is printed).

The sort: ``msort(a)`` spawns the two halves of ``a`` (children get slices), then merges them in
parallel too (``pmerge`` splits the merge at the median of the longer run, a binary search in
the other, down to pieces that fit in cache) and concatenates the merged pieces once. The
sequential baselines are NumPy's own ``np.sort`` (a SIMD quicksort, far faster per element than
any merge written in NumPy) and the same ``msort`` run as a plain call. Children
an idle slot steals take their slices with them straight from the worker that spawned them
(``jupyter-nest.forkjoin.direct-above``), never through the scheduler.

- cluster: the array already on a worker (scattered once, untimed), the sorted array left there;
- notebook: the array sent from here (scattered straight to a worker) and the result fetched back.

    python benchmarks/bench_mergesort.py [--megabytes 200] [--repeat 3]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import cloudpickle
import distributed
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from bench_forkjoin import timed
from support import received
from support.processes import DaskProcesses

import jupyter_nest
from jupyter_nest import nest

SORT_LEAF = 1 << 20  # elements a child sorts with np.sort (8 MB)
MERGE_LEAF = 1 << 18  # elements merged in one go (2 MB: they stay in cache)


@nest
def pmerge(a: np.ndarray, b: np.ndarray) -> list[np.ndarray]:
    """Sorted runs ``a`` and ``b`` merged, as a list of sorted pieces in order."""
    if len(a) + len(b) <= MERGE_LEAF:
        # NumPy has no linear merge; its SIMD sort of the two runs beats any merge written in NumPy
        return [np.sort(np.concatenate([a, b]))]
    if len(a) < len(b):
        a, b = b, a
    i = len(a) // 2
    j = int(np.searchsorted(b, a[i]))
    low, high = pmerge.spawn(a[:i], b[:j]), pmerge.spawn(a[i:], b[j:])
    return low.result() + high.result()


@nest
def msort(a: np.ndarray) -> np.ndarray:
    if len(a) <= SORT_LEAF:
        return np.sort(a)
    mid = len(a) // 2
    left, right = msort.spawn(a[:mid]), msort.spawn(a[mid:])
    return np.concatenate(pmerge(left.result(), right.result()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--megabytes", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=3)
    options = parser.parse_args()
    data = np.random.default_rng(0).random(options.megabytes * 2**20 // 8)
    expected = np.sort(data)
    cloudpickle.register_pickle_by_value(sys.modules[__name__])  # the dask processes cannot import this file
    cloudpickle.register_pickle_by_value(received)
    with tempfile.TemporaryDirectory() as tmp:
        procs = DaskProcesses(Path(tmp), workers=2, threads=1)
        try:
            procs.wait_for_workers(2)
            client = jupyter_nest.connect(procs.address).client
            client.run_on_scheduler(received.count_received)
            on_cluster = client.scatter(data, direct=True)
            assert np.array_equal(client.gather(msort.spawn(on_cluster), direct=True), expected)  # warm-up, checked

            def cluster_run():
                root = msort.spawn(on_cluster)
                distributed.wait(root)
                return root

            def notebook_run():
                return client.gather(msort.spawn(data), direct=True)

            before = client.run_on_scheduler(received.received)
            seq, _ = timed(lambda: np.sort(data), options.repeat)
            cluster, _ = timed(cluster_run, options.repeat)
            notebook, value = timed(notebook_run, options.repeat)
            nbytes = client.run_on_scheduler(received.received) - before
            assert np.array_equal(value, expected)
            plain, _ = timed(lambda: msort(data), 1)
        finally:
            jupyter_nest.stop()
            procs.close()
    print(f"{options.megabytes} MB of float64 ({len(data):,} elements), 2 workers x 1 thread, "
          f"median of {options.repeat}")
    print(f"  np.sort in this process (sequential)      {seq:7.2f} s")
    print(f"  msort as a plain call (sequential)        {plain:7.2f} s")
    print(f"  @nest msort, array on the cluster         {cluster:7.2f} s   {seq / cluster:5.2f}x np.sort  "
          f"{plain / cluster:5.2f}x plain msort  (goal >= 1.6x)")
    print(f"  @nest msort, from and back to here        {notebook:7.2f} s   {seq / notebook:5.2f}x np.sort  "
          f"{plain / notebook:5.2f}x plain msort")
    print(f"  scheduler received during the timed runs  {nbytes / 1e6:7.3f} MB  (goal < 1 MB; "
          f"{2 * options.repeat} sorts of {options.megabytes} MB)")


if __name__ == "__main__":
    main()
