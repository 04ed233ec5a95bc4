"""Time to a ready cluster: ``jupyter_nest.start()`` against a bare ``LocalCluster()`` + ``Client()``.

Both start 2 workers x 1 thread and run one task; runs alternate so that the
machine's noise hits both alike. Prints medians and the ratio.

    python benchmarks/bench_start.py [--repeat 5]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from typing import Any

from distributed import Client, LocalCluster

import jupyter_nest


def time_to_ready(make_cluster: Callable[[], Any]) -> float:
    """Seconds from creating a Dask cluster to the first result of a task on it."""
    t = time.perf_counter()
    cluster = make_cluster()
    client = Client(cluster)
    client.submit(sum, [1, 2]).result()
    elapsed = time.perf_counter() - t
    client.close()
    cluster.close()
    return elapsed


def bare() -> float:
    return time_to_ready(lambda: LocalCluster(n_workers=2, threads_per_worker=1))


def nest() -> float:
    t = time.perf_counter()
    session = jupyter_nest.start(workers=2, threads=1)
    session.client.submit(sum, [1, 2]).result()
    elapsed = time.perf_counter() - t
    jupyter_nest.stop()
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    times: dict[str, list[float]] = {"LocalCluster()+Client()": [], "jupyter_nest.start()": []}
    for _ in range(args.repeat):
        times["LocalCluster()+Client()"].append(bare())
        times["jupyter_nest.start()"].append(nest())
    base = statistics.median(times["LocalCluster()+Client()"])
    print(f"{'':26s} {'median s':>9s} {'min s':>7s} {'ratio':>6s}")
    for name, ts in times.items():
        print(f"{name:26s} {statistics.median(ts):9.3f} {min(ts):7.3f} {statistics.median(ts) / base:6.2f}")


if __name__ == "__main__":
    main()
