"""What watching costs: a recursion with and without jupyter_nest's monitor and live widget.

In one run, alternating, on 2 workers x 1 thread (Dask's profiler off on both):

- bare: a plain LocalCluster, no plugins, nobody watching;
- monitored: a jupyter_nest cluster (lineage, monitor and balancer plugins) with the
  slot view's update thread running at its default rate, as in a notebook.

The recursion is the Dask docs' get_client + secede/rejoin Fibonacci with one task per
call, which makes many transitions for the plugins to follow. Also printed: snapshot
latency (idle and during the recursion), the age of worker reports in snapshots
(worker -> scheduler push), a poll of every worker with ``client.run`` for comparison,
and the widget's update rate while the main thread blocks on a result.

    python benchmarks/bench_monitor.py [--n 13] [--repeat 5]
"""

from __future__ import annotations

import argparse
import statistics
import threading
import time

import dask
from bench_forkjoin import dask_secede_fib as fib
from distributed import Client, LocalCluster

import jupyter_nest
from jupyter_nest import monitor


def pct(values, q):
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=13)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    with dask.config.set({"distributed.worker.profile.enabled": False}):
        bare_cluster = LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=None, host="127.0.0.1")
    bare = Client(bare_cluster, set_as_default=False)
    session = jupyter_nest.start(workers=2, threads=1, dashboard=False)
    watched = session.client

    def open_view():
        view = jupyter_nest.widget()
        view.model.send = lambda *a, **k: None  # no browser here: the comm has nobody to talk to
        return view

    for client in (bare, watched):
        client.submit(fib, 8, pure=False).result()
    times = {"bare": [], "plugins": [], "monitored": []}
    latencies_busy: list[float] = []
    stop = threading.Event()

    def sample():
        while not stop.is_set():
            t = time.perf_counter()
            monitor.snapshot(watched)
            latencies_busy.append(time.perf_counter() - t)
            time.sleep(0.05)

    for _ in range(args.repeat):
        t = time.perf_counter()
        bare.submit(fib, args.n, pure=False).result()
        times["bare"].append(time.perf_counter() - t)
        t = time.perf_counter()
        watched.submit(fib, args.n, pure=False).result()
        times["plugins"].append(time.perf_counter() - t)
        view = open_view()
        t = time.perf_counter()
        watched.submit(fib, args.n, pure=False).result()
        elapsed = time.perf_counter() - t
        times["monitored"].append(elapsed)
        rate = view.updates / elapsed
        view.close()
    sampler = threading.Thread(target=sample)  # latency under load, in a run of its own
    sampler.start()
    watched.submit(fib, args.n, pure=False).result()
    stop.set()
    sampler.join()

    idle = []
    ages = []
    for _ in range(200):
        t = time.perf_counter()
        snap = monitor.snapshot(watched)
        idle.append(time.perf_counter() - t)
        ages += [snap["time"] - w["reported"] for w in snap["workers"] if w["reported"]]
    polls = []
    for _ in range(50):
        t = time.perf_counter()
        watched.run(lambda dask_worker: len(dask_worker.state.executing))
        polls.append(time.perf_counter() - t)

    jupyter_nest.stop()
    bare.close()
    bare_cluster.close()

    b, p, m = (statistics.median(times[k]) for k in ("bare", "plugins", "monitored"))
    calls = 2 * round(1.618 ** args.n / 2.236 * 1.618) - 1
    print(f"fib({args.n}) with get_client+secede, one task per call (~{calls} tasks), 2 workers x 1 thread, "
          f"median of {args.repeat}")
    print(f"  bare LocalCluster              {b:7.3f} s")
    print(f"  jupyter_nest plugins, no view  {p:7.3f} s   ({(p / b - 1) * 100:+.1f}%)")
    print(f"  jupyter_nest + live widget     {m:7.3f} s   ({(m / b - 1) * 100:+.1f}%)")
    print(f"snapshot latency, idle           median {statistics.median(idle) * 1e3:6.2f} ms   "
          f"p95 {pct(idle, .95) * 1e3:6.2f} ms")
    print(f"snapshot latency, during run     median {statistics.median(latencies_busy) * 1e3:6.2f} ms   "
          f"p95 {pct(latencies_busy, .95) * 1e3:6.2f} ms")
    print(f"age of worker reports (idle)     median {statistics.median(ages) * 1e3:6.0f} ms   "
          f"p95 {pct(ages, .95) * 1e3:6.0f} ms (heartbeat every 2 s when nothing changes; 100 ms when it does)")
    print(f"client.run poll of all workers   median {statistics.median(polls) * 1e3:6.2f} ms   "
          f"p95 {pct(polls, .95) * 1e3:6.2f} ms")
    print(f"widget updates while blocked     {rate:5.1f} per second (interval {view.interval:g} s)")


if __name__ == "__main__":
    main()
