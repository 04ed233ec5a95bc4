"""Soak: random recursions of every API for a while in a real kernel, with the live slot view open; the kernel's
RSS, threads and open files must stay flat.

Run: ``python benchmarks/soak.py --minutes 10``. Prints one row per minute, after a warm-up, and the growth per
minute of each measure over the soak, from a least-squares line.

The warm-up lasts ``--warm-up`` minutes (3): the kernel's RSS rises by 3-4 MB in the first two minutes while bounded
stores fill to their working size, and is flat from the third. Those stores: Dask keeps a finished span (and its task
groups) for 60 s and more, dropping old ones every 10 s (about 900 spans at this rate); each of the kernel's nine
comms keeps its last 1,000 messages (``distributed.admin.low-level-log-length``: 12 MB of the kernel here, mostly
there after the first minute); pools, caches and the allocators' arenas reach the size the mix of recursions needs.

Two of Dask's own stores in the kernel are bounded but change over far longer than a soak, so they would read as
growth:

- ``dask.utils.key_split``'s ``lru_cache`` keeps the last 100,000 keys the scheduler met. The soak makes about
  7,000 new keys a minute, so the cache fills in a quarter of an hour, and its dict's table then grows in steps
  (3.7 MB, then 7.3 MB after 175,000 keys) and fills its entries for another half hour before each rebuild: a
  saw-tooth of several MB with a period longer than the soak. The soak clears the cache before each row, so every
  row sees it holding the same minute of keys.
- The system monitors of the scheduler and both nannies keep an hour of samples
  (``distributed.admin.system-monitor.log-length``, 7,200); the soak's cluster keeps a minute.

Each cell runs 50 recursions (a few seconds, like a notebook's cells): IPython keeps every cell a kernel ran (its
history, its ``_iN`` variable, its source in ``linecache``), about 1.2 kB a cell, by design and without bound. At
5 recursions a cell that alone read as 0.2 MB a minute; at 50 it is 0.02 MB a minute.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from support.kernels import Kernel

SETUP = """
%load_ext jupyter_nest
import random, dask, dask.utils, distributed, jupyter_nest
from jupyter_nest import nest
from IPython.display import display
# a minute of system-monitor samples, not an hour (see the module's docstring)
dask.config.set({"distributed.admin.system-monitor.log-length": 120})
client = %nest_cluster start --workers 2 --threads 1 --no-dashboard
view = jupyter_nest.widget()
display(view)

@nest
def nest_fib(n):
    return n if n < 2 else sum(h.result() for h in [nest_fib.spawn(n - 1), nest_fib.spawn(n - 2)])

def wc_fib(n):
    if n < 2:
        return n
    with jupyter_nest.worker_client() as c:
        return sum(c.gather([c.submit(wc_fib, n - 1), c.submit(wc_fib, n - 2)]))

def gc_fib(n):
    if n < 2:
        return n
    c = jupyter_nest.get_client()
    return sum(c.gather([c.submit(gc_fib, n - 1), c.submit(gc_fib, n - 2)]))

def compute_fib(n):
    if n < 2:
        return n
    return sum(dask.compute(dask.delayed(compute_fib)(n - 1), dask.delayed(compute_fib)(n - 2)))

def fib(n):
    return n if n < 2 else fib(n - 1) + fib(n - 2)

def one_round(rng):
    kind = rng.choice(["nest", "worker_client", "get_client", "compute", "map"])
    n = rng.randint(6, 10)
    if kind == "nest":
        got, want = nest_fib.spawn(n + 8).result(), fib(n + 8)
    elif kind == "worker_client":
        got, want = client.submit(wc_fib, n, pure=False).result(), fib(n)
    elif kind == "get_client":
        got, want = client.submit(gc_fib, n, pure=False).result(), fib(n)
    elif kind == "compute":
        got, want = client.submit(compute_fib, n - 2, pure=False).result(), fib(n - 2)
    else:
        got, want = nest.gather(nest.map(fib, [x % 15 for x in range(n * 100)])), [fib(x % 15) for x in range(n * 100)]
    assert got == want, (kind, got, want)

rng = random.Random(0)
"""
PER_CELL = 50


def sample(pid: int) -> dict[str, float]:
    p = psutil.Process(pid)
    return {"rss_mb": p.memory_info().rss / 2**20, "threads": p.num_threads(), "fds": p.num_fds()}


def slope(values: list[float]) -> float:
    """Least-squares growth per step."""
    xs = range(len(values))
    mx, my = statistics.fmean(xs), statistics.fmean(values)
    den = sum((x - mx) ** 2 for x in xs)
    return sum((x - mx) * (y - my) for x, y in zip(xs, values, strict=True)) / den if den else 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=10)
    parser.add_argument("--warm-up", type=float, default=3, help="minutes before the first row")
    options = parser.parse_args()
    kernel = Kernel()
    try:
        kernel.run(SETUP, timeout=180).check()
        rows, rounds = [], 0
        next_sample = time.monotonic() + 60 * options.warm_up
        end = next_sample + 60 * options.minutes
        while time.monotonic() < end:
            reply = kernel.run(f"for _ in range({PER_CELL}):\n    one_round(rng)", timeout=300).check()
            rounds += PER_CELL
            del reply
            if time.monotonic() >= next_sample:
                kernel.run("dask.utils.key_split.cache_clear()\nimport gc\ngc.collect()").check()
                # live Python objects: flat while RSS grows means the growth is outside Python's heap
                blocks = kernel.value("__import__('sys').getallocatedblocks()")
                row = sample(kernel.pid) | {"py_blocks_k": blocks / 1000, "rounds": rounds}
                rows.append(row)
                print(json.dumps({k: round(v, 1) for k, v in row.items()}), flush=True)
                next_sample += 60
        measures = ("rss_mb", "py_blocks_k", "threads", "fds")
        print("per minute:", {k: round(slope([r[k] for r in rows]), 3) for k in measures},
              "over", len(rows), "samples,", rounds, "recursions")
    finally:
        kernel.shutdown()


if __name__ == "__main__":
    main()
