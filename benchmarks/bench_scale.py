"""The scheduler-side cost of ``@nest``'s balancer and monitor as a cluster grows: 8 to 64 workers,
simulated on this machine.

Each size is a ``LocalCluster(processes=False)`` of N in-process workers x 1 thread (one event
loop, one process: the scheduler's own work is what is measured, not the workers') adopted by
jupyter_nest, running the same ``@nest`` tree (``--leaves`` leaves of ``--leaf-ms`` ms, so the
idle slots keep asking for work). Every scheduler-side handler of the balancer
(``BalancerPlugin``: ``transition``, ``log_event``, ``_balance``, ``_ask_for``) and of the
monitor (``MonitorPlugin``: ``transition``, ``log_event``) is wrapped in a
``time.thread_time`` accumulator (nested calls counted once): CPU time of the scheduler's thread,
so a handler is not charged for the GIL the busy in-process workers hold meanwhile. Printed per N:

- tasks: Dask tasks that finished (the root and offered children);
- rounds: the balancer looking for idle slots (when a slot frees up, and every 50 ms), and
  asks: idle slots it asked a worker to send work to; its time per round and per ask;
- the balancer's and the monitor's time per scheduler transition, and the monitor's per
  worker report (each worker reports its slots every 100 ms).

Flat columns mean the cost does not grow with the cluster.

    python benchmarks/bench_scale.py [--sizes 8 16 32 64] [--leaves 2048] [--leaf-ms 2]
"""

from __future__ import annotations

import argparse
import functools
import time
from collections import Counter
from typing import Any

from distributed import LocalCluster

import jupyter_nest
from jupyter_nest import nest
from jupyter_nest.forkjoin import BalancerPlugin
from jupyter_nest.monitor import MonitorPlugin

spent: Counter[str] = Counter()
calls: Counter[str] = Counter()
_inside = [False]


def accumulate(cls: type, name: str) -> None:
    """Wrap ``cls.name`` so its CPU time adds to ``spent``, once per outermost plugin call."""
    original = getattr(cls, name)
    label = f"{cls.__name__}.{name}"

    @functools.wraps(original)
    def timed(*args: Any, **kwargs: Any) -> Any:
        calls[label] += 1
        if _inside[0]:
            return original(*args, **kwargs)
        _inside[0] = True
        start = time.thread_time()
        try:
            return original(*args, **kwargs)
        finally:
            spent[label] += time.thread_time() - start
            _inside[0] = False

    setattr(cls, name, timed)


for _name in ("transition", "log_event", "_balance", "_balance_all", "_ask_for"):
    if hasattr(BalancerPlugin, _name):  # _balance_all: the periodic round, where it is separate
        accumulate(BalancerPlugin, _name)
for _name in ("transition", "log_event"):
    accumulate(MonitorPlugin, _name)


def burn(seconds: float) -> None:
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        pass


@nest
def tree(leaves: int, seconds: float) -> int:
    if leaves == 1:
        burn(seconds)
        return 1
    half = leaves // 2
    left, right = tree.spawn(half, seconds), tree.spawn(leaves - half, seconds)
    return left.result() + right.result()


def run(n: int, leaves: int, seconds: float) -> dict[str, float]:
    with LocalCluster(n_workers=n, threads_per_worker=1, processes=False, dashboard_address=":0") as cluster:
        jupyter_nest.attach(cluster)
        try:
            client = jupyter_nest.current().client
            client.wait_for_workers(n)
            assert tree.spawn(64, seconds).result() == 64  # warm up
            spent.clear()
            calls.clear()
            done_before = cluster.scheduler.plugins[MonitorPlugin.name].done
            start = time.perf_counter()
            assert tree.spawn(leaves, seconds).result() == leaves
            wall = time.perf_counter() - start
            tasks = cluster.scheduler.plugins[MonitorPlugin.name].done - done_before
        finally:
            jupyter_nest.stop()
    balancer = sum(v for k, v in spent.items() if k.startswith("BalancerPlugin"))
    return {"n": n, "wall": wall, "tasks": tasks, "balancer": balancer,
            "rounds": calls["BalancerPlugin._balance"] + calls["BalancerPlugin._balance_all"],
            "asks": calls["BalancerPlugin._ask_for"],
            "transitions": calls["MonitorPlugin.transition"], "events": calls["MonitorPlugin.log_event"],
            "monitor_transition": spent["MonitorPlugin.transition"], "monitor_event": spent["MonitorPlugin.log_event"],
            "balancer_transition": spent["BalancerPlugin.transition"]}


def per(total: float, count: int) -> float:
    """Microseconds per call."""
    return total / max(count, 1) * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[8, 16, 32, 64])
    parser.add_argument("--leaves", type=int, default=2048)
    parser.add_argument("--leaf-ms", type=float, default=2.0)
    options = parser.parse_args()
    rows = [run(n, options.leaves, options.leaf_ms / 1000) for n in options.sizes]
    print(f"@nest tree of {options.leaves} leaves x {options.leaf_ms} ms; in-process workers x 1 thread")
    print("balancer: all its handlers; a round looks for idle slots (on a slot freeing, or every 50 ms);")
    print("an ask is one idle slot asked for work. monitor: per scheduler transition and per worker report.")
    print(f"{'workers':>7s} {'wall s':>6s} {'tasks':>5s} {'rounds':>6s} {'asks':>5s} {'balancer ms':>11s} "
          f"{'us/round':>8s} {'us/ask':>7s} {'us/transition':>13s} {'monitor us/trans.':>17s} {'us/report':>9s}")
    for r in rows:
        print(f"{r['n']:7d} {r['wall']:6.2f} {r['tasks']:5d} {r['rounds']:6d} {r['asks']:5d} "
              f"{r['balancer'] * 1e3:11.1f} {per(r['balancer'], r['rounds']):8.1f} "
              f"{per(r['balancer'], r['asks']):7.1f} "
              f"{per(r['balancer_transition'], r['transitions']):13.2f} "
              f"{per(r['monitor_transition'], r['transitions']):17.2f} {per(r['monitor_event'], r['events']):9.2f}")

if __name__ == "__main__":
    main()
