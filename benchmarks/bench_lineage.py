"""Per-task cost of jupyter_nest's runtime: lineage, monitor plugins and our client, against plain Dask.

Runs the docs' ``worker_client`` Fibonacci with one task per call (``pure=False``) on
2 workers x 1 thread, three ways, alternating, in one process:

- dask:        a bare LocalCluster and ``distributed.worker_client``
- plugins:     a jupyter_nest cluster (lineage + monitor plugins) with ``distributed.worker_client``
- jupyter_nest: the same cluster with ``jupyter_nest.worker_client`` (our client: safe waits,
               future adoption, error chains)

Both clusters run with Dask's statistical profiler off, so only our additions differ.

    python benchmarks/bench_lineage.py [--n 14] [--repeat 3]
"""

from __future__ import annotations

import argparse
import statistics
import time

import dask
import distributed
from distributed import Client, LocalCluster

import jupyter_nest


def make_fib(api):
    def fib(n):
        if n < 2:
            return n
        with api.worker_client() as client:
            a = client.submit(fib, n - 1, pure=False)
            b = client.submit(fib, n - 2, pure=False)
            return a.result() + b.result()

    return fib


def calls(n: int) -> int:
    return 1 if n < 2 else 1 + calls(n - 1) + calls(n - 2)


def timed(client: Client, fib, n: int) -> float:
    t = time.perf_counter()
    client.submit(fib, n, pure=False).result()
    return time.perf_counter() - t


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=14)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    tasks = calls(args.n)
    with dask.config.set({"distributed.worker.profile.enabled": False}):
        bare = LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=None, host="127.0.0.1")
    bare_client = Client(bare, set_as_default=False)
    session = jupyter_nest.start(workers=2, threads=1, dashboard=False)
    times: dict[str, list[float]] = {"dask": [], "plugins": [], "jupyter_nest": []}
    dask_fib, nest_fib = make_fib(distributed), make_fib(jupyter_nest)
    for _name, client, fib in [("dask", bare_client, dask_fib), ("plugins", session.client, dask_fib),
                               ("jupyter_nest", session.client, nest_fib)]:
        timed(client, fib, 6)  # warm up: worker clients connect once
    for _ in range(args.repeat):
        times["dask"].append(timed(bare_client, dask_fib, args.n))
        times["plugins"].append(timed(session.client, dask_fib, args.n))
        times["jupyter_nest"].append(timed(session.client, nest_fib, args.n))
    jupyter_nest.stop()
    bare_client.close()
    bare.close()
    base = statistics.median(times["dask"])
    print(f"fib({args.n}) with worker_client, one task per call: {tasks} tasks, 2 workers x 1 thread, "
          f"median of {args.repeat}")
    print(f"{'':14s} {'seconds':>8s} {'us/task':>8s} {'ratio':>6s} {'extra us/task':>14s}")
    for name, ts in times.items():
        m = statistics.median(ts)
        print(f"{name:14s} {m:8.2f} {m / tasks * 1e6:8.0f} {m / base:6.2f} {(m - base) / tasks * 1e6:14.0f}")


if __name__ == "__main__":
    main()
