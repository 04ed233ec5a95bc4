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

The three kinds run interleaved, one of each per round, in an order that rotates every round, and
each round's monitored and plugin times are divided by the same round's bare time: a load that
comes and goes on a shared machine then moves all three alike. Printed: the median of those
per-round ratios, their middle half (p25-p75) and their range, over many rounds. The same for CPU
time (this process, where the local schedulers run, and every worker process): on a machine shared
with other work, wall time swings by tens of percent from round to round, CPU time much less.

    python benchmarks/bench_monitor.py [--n 13] [--repeat 15]
"""

from __future__ import annotations

import argparse
import statistics
import threading
import time

import dask
import psutil
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
    parser.add_argument("--repeat", type=int, default=15)
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

    me = psutil.Process()

    def cpu() -> float:
        total = 0.0
        for process in [me, *me.children(recursive=True)]:
            try:
                times_ = process.cpu_times()
            except psutil.Error:
                continue
            total += times_.user + times_.system
        return total

    def run(kind: str) -> float:
        view = open_view() if kind == "monitored" else None
        client = bare if kind == "bare" else watched
        t, c = time.perf_counter(), cpu()
        client.submit(fib, args.n, pure=False).result()
        elapsed = time.perf_counter() - t
        cpus[kind].append(cpu() - c)
        if view is not None:
            rates.append(view.updates / elapsed)
            view.close()
        return elapsed

    kinds = list(times)
    rates: list[float] = []
    ratios: dict[str, list[float]] = {"plugins": [], "monitored": []}
    cpus: dict[str, list[float]] = {kind: [] for kind in kinds}
    cpu_ratios: dict[str, list[float]] = {"plugins": [], "monitored": []}
    for round_ in range(args.repeat):
        order = kinds[round_ % 3:] + kinds[:round_ % 3]
        this = {kind: run(kind) for kind in order}
        for kind in kinds:
            times[kind].append(this[kind])
        for kind in ratios:
            ratios[kind].append(this[kind] / this["bare"] - 1)
            cpu_ratios[kind].append(cpus[kind][-1] / cpus["bare"][-1] - 1)
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

    def spread(kind: str, of: dict[str, list[float]] = ratios) -> str:
        r = [100 * x for x in of[kind]]
        return (f"cost {statistics.median(r):+5.1f}%  middle half {pct(r, .25):+5.1f}..{pct(r, .75):+5.1f}%  "
                f"range {min(r):+5.1f}..{max(r):+5.1f}%")

    print(f"fib({args.n}) with get_client+secede, one task per call (~{calls} tasks), 2 workers x 1 thread, "
          f"{args.repeat} interleaved rounds; cost = median of each round's time / its bare time")
    print(f"  bare LocalCluster              {b:7.3f} s")
    print(f"  jupyter_nest plugins, no view  {p:7.3f} s   {spread('plugins')}")
    print(f"  jupyter_nest + live widget     {m:7.3f} s   {spread('monitored')}")
    for kind, label in (("bare", "bare LocalCluster, CPU "), ("plugins", "plugins, no view, CPU"),
                        ("monitored", "+ live widget, CPU    ")):
        cost = "" if kind == "bare" else spread(kind, cpu_ratios)
        print(f"  {label}         {statistics.median(cpus[kind]):7.3f} s   {cost}")
    print(f"snapshot latency, idle           median {statistics.median(idle) * 1e3:6.2f} ms   "
          f"p95 {pct(idle, .95) * 1e3:6.2f} ms")
    print(f"snapshot latency, during run     median {statistics.median(latencies_busy) * 1e3:6.2f} ms   "
          f"p95 {pct(latencies_busy, .95) * 1e3:6.2f} ms")
    print(f"age of worker reports (idle)     median {statistics.median(ages) * 1e3:6.0f} ms   "
          f"p95 {pct(ages, .95) * 1e3:6.0f} ms (heartbeat every 2 s when nothing changes; 100 ms when it does)")
    print(f"client.run poll of all workers   median {statistics.median(polls) * 1e3:6.2f} ms   "
          f"p95 {pct(polls, .95) * 1e3:6.2f} ms")
    print(f"widget updates while blocked     {statistics.median(rates):5.1f} per second "
          f"(interval {jupyter_nest.config.seconds('widget.interval'):g} s)")


if __name__ == "__main__":
    main()
