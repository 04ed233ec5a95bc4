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
per-round ratios with a 95% confidence interval of that median, their middle half (p25-p75) and
their range, over many rounds. The same for CPU time, counted for each cluster alone: the thread of
this process that runs its scheduler, nannies and client, its worker processes, the main thread
that waits, and the slot view's thread when one is open. Both schedulers run in this process, and
an idle cluster's timers would otherwise be charged to the other's round.

    python benchmarks/bench_monitor.py [--n 13] [--repeat 60]
"""

from __future__ import annotations

import argparse
import os
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


def median_ci(values):
    """A 95% confidence interval of the median, from order statistics (no assumption on the spread)."""
    values = sorted(values)
    half = 0.98 * len(values) ** 0.5  # 1.96 * sqrt(n) / 2
    low, high = int(len(values) / 2 - half), int(len(values) / 2 + half)
    return values[max(low, 0)], values[min(high, len(values) - 1)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=13)
    parser.add_argument("--repeat", type=int, default=60)
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

    def footprint(client: Client) -> tuple[int, list[psutil.Process]]:
        """The thread of this process that runs a cluster's scheduler, nannies and client, and its workers."""
        loop_thread = client.run_on_scheduler(threading.get_native_id)
        return loop_thread, [psutil.Process(pid) for pid in client.run(os.getpid).values()]

    footprints = {"bare": footprint(bare), "plugins": footprint(watched)}
    footprints["monitored"] = footprints["plugins"]

    def thread_cpu(*native_ids: int) -> float:
        return sum(t.user_time + t.system_time for t in me.threads() if t.id in native_ids)

    def cpu(kind: str, *more_threads: int) -> float:
        loop_thread, processes = footprints[kind]
        # the main thread (its id is the process's) submits and waits for every kind alike
        return thread_cpu(loop_thread, me.pid, *more_threads) + sum(sum(p.cpu_times()[:2]) for p in processes)

    def run(kind: str) -> float:
        view = open_view() if kind == "monitored" else None
        view_thread = () if view is None else (view._thread.native_id,)
        client = bare if kind == "bare" else watched
        t, c = time.perf_counter(), cpu(kind, *view_thread)
        client.submit(fib, args.n, pure=False).result()
        elapsed = time.perf_counter() - t
        cpus[kind].append(cpu(kind, *view_thread) - c)
        if view is not None:
            rates.append(view.updates / elapsed)
            view.close()
        return elapsed

    kinds = list(times)
    rates: list[float] = []
    ratios: dict[str, list[float]] = {"plugins": [], "monitored": [], "view": []}
    cpus: dict[str, list[float]] = {kind: [] for kind in kinds}
    cpu_ratios: dict[str, list[float]] = {"plugins": [], "monitored": [], "view": []}
    for round_ in range(args.repeat):
        order = kinds[round_ % 3:] + kinds[:round_ % 3]
        this = {kind: run(kind) for kind in order}
        for kind in kinds:
            times[kind].append(this[kind])
        for kind in ("plugins", "monitored"):
            ratios[kind].append(this[kind] / this["bare"] - 1)
            cpu_ratios[kind].append(cpus[kind][-1] / cpus["bare"][-1] - 1)
        # the view alone: the same cluster with and without it, in the same round
        ratios["view"].append(this["monitored"] / this["plugins"] - 1)
        cpu_ratios["view"].append(cpus["monitored"][-1] / cpus["plugins"][-1] - 1)
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
        low, high = median_ci(r)
        return (f"cost {statistics.median(r):+5.1f}% (95% CI {low:+5.1f}..{high:+5.1f}%)  "
                f"middle half {pct(r, .25):+5.1f}..{pct(r, .75):+5.1f}%  range {min(r):+5.1f}..{max(r):+5.1f}%")

    print(f"fib({args.n}) with get_client+secede, one task per call (~{calls} tasks), 2 workers x 1 thread, "
          f"{args.repeat} interleaved rounds; cost = median of each round's time / its bare time")
    print(f"  bare LocalCluster              {b:7.3f} s")
    print(f"  jupyter_nest plugins, no view  {p:7.3f} s   {spread('plugins')}")
    print(f"  jupyter_nest + live widget     {m:7.3f} s   {spread('monitored')}")
    print(f"  the widget alone (vs plugins)             {spread('view')}")
    for kind, label in (("bare", "bare LocalCluster, CPU "), ("plugins", "plugins, no view, CPU"),
                        ("monitored", "+ live widget, CPU    ")):
        cost = "" if kind == "bare" else spread(kind, cpu_ratios)
        print(f"  {label}         {statistics.median(cpus[kind]):7.3f} s   {cost}")
    print(f"  the widget alone, CPU                     {spread('view', cpu_ratios)}")
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
