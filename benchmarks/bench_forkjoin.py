"""``@nest`` against the Dask docs' task-from-task patterns and plain Python, on one 2 x 1 cluster.

One process tree, one run: a jupyter_nest cluster of 2 workers x 1 thread (Dask's
profiler off, as jupyter_nest starts it) runs every variant; sequential Python runs in
this process. Cases, as in issue 8:

- zero work: fib(n), one spawn (or one Dask task) per call;
- medium grain: a binary tree whose leaves burn ~50 us of CPU;
- coarse grain: a binary tree of 256 leaves of ~20 ms (and who ran them);
- unbalanced: a random tree with skewed subtree sizes.

Efficiency is sequential time / (2 x parallel time): 100% is a perfect 2-core run.
Each @nest case runs once untimed first (the workers unpickle its functions and
warm their caches), then ``--repeat`` times; the median is printed.
The Dask patterns run one task per call, so they get smaller sizes (printed) to
finish in reasonable time; compare them per call. Peak OS threads per worker
process are sampled with psutil during each run.

    python benchmarks/bench_forkjoin.py [--repeat 5] [--quick]
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import threading
import time

import distributed
import psutil

import jupyter_nest
from jupyter_nest import nest


def burn(loops: int) -> int:
    total = 0
    for i in range(loops):
        total += i
    return total


def calibrate(seconds: float) -> int:
    """Loop count that burns about ``seconds`` of CPU here."""
    loops = 1000
    while True:
        t = time.perf_counter()
        for _ in range(5):
            burn(loops)
        took = (time.perf_counter() - t) / 5
        if took > 0.002:
            return max(1, int(loops * seconds / took))
        loops *= 2


# -- the workloads, written the four ways --------------------------------------------------------

def seq_fib(n):
    return n if n < 2 else seq_fib(n - 1) + seq_fib(n - 2)


@nest
def nest_fib(n):
    if n < 2:
        return n
    a, b = nest_fib.spawn(n - 1), nest_fib.spawn(n - 2)
    return a.result() + b.result()


def dask_secede_fib(n):
    if n < 2:
        return n
    client = distributed.get_client()
    jobs = [client.submit(dask_secede_fib, n - 1, pure=False), client.submit(dask_secede_fib, n - 2, pure=False)]
    distributed.secede()
    out = client.gather(jobs)
    distributed.rejoin()
    return sum(out)


def dask_worker_client_fib(n):
    if n < 2:
        return n
    with distributed.worker_client() as client:
        jobs = [client.submit(dask_worker_client_fib, n - 1, pure=False),
                client.submit(dask_worker_client_fib, n - 2, pure=False)]
        return sum(client.gather(jobs))


def leaf(loops):
    burn(loops)
    return {distributed.get_worker().address if _in_task() else "local": 1}


def _in_task():
    try:
        distributed.get_worker()
        return True
    except ValueError:
        return False


def merge(counts):
    out = {}
    for c in counts:
        for k, v in c.items():
            out[k] = out.get(k, 0) + v
    return out


def children(node):
    """A tree node is ``(leaves, loops, seed)``: leaves below it, CPU per leaf, and the seed of
    its shape (``None``: a balanced binary split). The tree is built as it is walked, as real
    recursive work discovers its own shape, so spawning a subtree ships three numbers."""
    leaves, loops, seed = node
    if leaves == 1:
        return ()
    if seed is None:
        return ((leaves // 2, loops, None), (leaves - leaves // 2, loops, None))
    rng = random.Random(seed)
    fanout = min(leaves, rng.randint(2, 4))
    cuts = sorted(rng.sample(range(1, leaves), fanout - 1))
    sizes = [b - a for a, b in zip([0, *cuts], [*cuts, leaves], strict=True)]
    return tuple((size, loops, rng.randrange(1 << 30)) for size in sizes)


def seq_tree(node):
    kids = children(node)
    if not kids:
        return leaf(node[1])
    return merge(seq_tree(c) for c in kids)


@nest
def nest_tree(node):
    kids = children(node)
    if not kids:
        return leaf(node[1])
    return merge([h.result() for h in [nest_tree.spawn(c) for c in kids]])


def dask_secede_tree(node):
    kids = children(node)
    if not kids:
        return leaf(node[1])
    client = distributed.get_client()
    jobs = [client.submit(dask_secede_tree, c, pure=False) for c in kids]
    distributed.secede()
    out = client.gather(jobs)
    distributed.rejoin()
    return merge(out)


def dask_worker_client_tree(node):
    kids = children(node)
    if not kids:
        return leaf(node[1])
    with distributed.worker_client() as client:
        return merge(client.gather([client.submit(dask_worker_client_tree, c, pure=False) for c in kids]))


# -- measuring ------------------------------------------------------------------------------------

class ThreadPeak:
    def __init__(self, pids):
        self.pids, self.peak = pids, 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self._stop.wait(0.005):
            for pid in self.pids:
                try:
                    self.peak = max(self.peak, psutil.Process(pid).num_threads())
                except psutil.NoSuchProcess:
                    pass

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()


def timed(fn, repeat):
    times, value = [], None
    for _ in range(repeat):
        t = time.perf_counter()
        value = fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times), value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="smaller sizes, for a smoke run")
    args = parser.parse_args()
    r = args.repeat
    fib_n, dask_fib_n = (22, 10) if args.quick else (27, 14)
    medium_leaves, dask_medium_leaves = (2048, 128) if args.quick else (16384, 1024)
    coarse_leaves, unbalanced_leaves = (64, 512) if args.quick else (256, 2048)

    session = jupyter_nest.start(workers=2, threads=1, dashboard=False)
    client = session.client
    pids = list(client.run(os.getpid).values())
    rows = []

    def on_cluster(fn, *a):
        return lambda: client.submit(fn, *a, pure=False).result()

    def row(case, variant, size, seconds, seq_seconds, peak, note=""):
        rows.append((case, variant, size, seconds, seq_seconds, peak, note))

    nest_fib.spawn(fib_n).result()  # warm up: worker clients, imports
    client.submit(dask_secede_fib, 3, pure=False).result()

    # zero work
    seq, _ = timed(lambda: seq_fib(fib_n), r)
    with ThreadPeak(pids) as tp:
        t, v = timed(lambda: nest_fib.spawn(fib_n).result(), r)
    assert v == seq_fib(fib_n)
    row("zero work", "jupyter_nest @nest", f"fib({fib_n})", t, seq, tp.peak)
    seq_small, _ = timed(lambda: seq_fib(dask_fib_n), r)
    for name, fn in [("dask get_client+secede", dask_secede_fib), ("dask worker_client", dask_worker_client_fib)]:
        with ThreadPeak(pids) as tp:
            t, v = timed(on_cluster(fn, dask_fib_n), 1)
        assert v == seq_fib(dask_fib_n)
        row("zero work", name, f"fib({dask_fib_n})", t, seq_small, tp.peak)

    # medium and coarse grain, unbalanced
    fifty_us, twenty_ms = calibrate(50e-6), calibrate(20e-3)
    one_ms = calibrate(1e-3)
    cases = [
        ("medium 50us", (medium_leaves, fifty_us, None), (dask_medium_leaves, fifty_us, None)),
        ("coarse 20ms", (coarse_leaves, twenty_ms, None), (coarse_leaves, twenty_ms, None)),
        ("unbalanced", (unbalanced_leaves, one_ms, 7), (unbalanced_leaves // 8, one_ms, 7)),
    ]
    for case, tree, dask_tree in cases:
        seq, _ = timed(lambda tree=tree: seq_tree(tree), 1)
        nest_tree.spawn(tree).result()  # warm up
        with ThreadPeak(pids) as tp:
            t, counts = timed(lambda tree=tree: nest_tree.spawn(tree).result(), r)
        share = min(counts.get(a, 0) for a in worker_addresses(client)) / tree[0]
        row(case, "jupyter_nest @nest", f"{tree[0]} leaves", t, seq, tp.peak,
            f"smaller worker share {share:.0%}")
        dask_seq, _ = timed(lambda dask_tree=dask_tree: seq_tree(dask_tree), 1)
        for name, fn in [("dask get_client+secede", dask_secede_tree), ("dask worker_client", dask_worker_client_tree)]:
            with ThreadPeak(pids) as tp:
                t, _ = timed(on_cluster(fn, dask_tree), 1)
            row(case, name, f"{dask_tree[0]} leaves", t, dask_seq, tp.peak)
    jupyter_nest.stop()

    print(f"2 workers x 1 thread, Dask profiler off; median of {r} for @nest; efficiency = seq / (2 x time)")
    header = (f"{'case':12s} {'variant':24s} {'size':>13s} {'time s':>8s} {'seq s':>7s} {'x seq':>7s} "
              f"{'effic.':>7s} {'threads':>7s}  note")
    print(header)
    for case, variant, size, t, seq, peak, note in rows:
        print(f"{case:12s} {variant:24s} {size:>13s} {t:8.3f} {seq:7.3f} {t / seq:7.1f} {seq / (2 * t):7.0%} "
              f"{peak:7d}  {note}")


def worker_addresses(client):
    return list(client.scheduler_info(n_workers=-1)["workers"])


if __name__ == "__main__":
    main()
