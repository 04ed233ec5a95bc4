"""Random recursions of every API under random worker kills: results, errors, hangs and the time a kill costs.

Run as a script for the figures (``cd tests && python -m support.chaos --kills 100``); ``tests/fault/test_chaos.py``
runs a bounded number of trials in the slow tier. Each trial starts a recursion on a cluster of ``workers`` x 1
thread, SIGKILLs one worker or all but one at a random moment of its usual run time, and waits for the result:
a wrong value or an unexpected error is a failure, no answer within ``hang_after`` seconds a hang. The extra time
a kill costs is the trial's time minus the median time of the same recursion without a kill, measured in the
same run.
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import distributed
from support.clusters import wait_whole

import jupyter_nest
from jupyter_nest import nest


def plain_fib(n: int) -> int:
    return n if n < 2 else plain_fib(n - 1) + plain_fib(n - 2)


def _busy(seconds: float) -> None:
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        pass


@nest
def nest_fib(n: int) -> int:
    if n < 2:
        _busy(0.0002)
        return n
    a, b = nest_fib.spawn(n - 1), nest_fib.spawn(n - 2)
    return a.result() + b.result()


@nest
def nest_tree(depth: int, fanout: int) -> int:
    """A tree of ``fanout ** depth`` 1 ms leaves; returns the leaf count."""
    if depth == 0:
        _busy(0.001)
        return 1
    return sum(h.result() for h in [nest_tree.spawn(depth - 1, fanout) for _ in range(fanout)])


def worker_client_fib(n: int, salt: int) -> int:
    """A tree of distinct tasks (``pure=False``), as are the other two below."""
    if n < 2:
        return n
    with jupyter_nest.worker_client() as client:
        a, b = client.submit(worker_client_fib, n - 1, salt, pure=False), client.submit(worker_client_fib, n - 2, salt, pure=False)
        return a.result() + b.result()


def get_client_fib(n: int, salt: int) -> int:
    """Ours, without secede(): the wait gives the slot up by itself. Pure keys, as Dask's default: fib(n - 2)
    is submitted by two parents, so the recursion is a chain of shared keys, not a tree."""
    if n < 2:
        return n
    client = jupyter_nest.get_client()
    a, b = client.submit(get_client_fib, n - 1, salt), client.submit(get_client_fib, n - 2, salt)
    return a.result() + b.result()


def dask_secede_fib(n: int, salt: int) -> int:
    """Dask's own names, as its docs write it."""
    if n < 2:
        return n
    client = distributed.get_client()
    a, b = client.submit(dask_secede_fib, n - 1, salt, pure=False), client.submit(dask_secede_fib, n - 2, salt, pure=False)
    distributed.secede()
    value = a.result() + b.result()
    distributed.rejoin()
    return value


def delayed_fib(n: int, salt: int) -> int:
    """``dask.compute`` of delayed calls inside a task."""
    import dask

    if n < 2:
        return n
    return sum(dask.compute(dask.delayed(delayed_fib, pure=False)(n - 1, salt), dask.delayed(delayed_fib, pure=False)(n - 2, salt)))


@dataclass
class API:
    name: str
    start: Callable[[distributed.Client, random.Random], tuple[distributed.Future, Any]]


def _submit(fn: Callable[..., Any], n: int) -> Callable[[distributed.Client, random.Random], Any]:
    def start(client: distributed.Client, rng: random.Random) -> tuple[distributed.Future, Any]:
        # a new salt per trial: the pure keys of one trial are never another's (the cluster keeps no results)
        return client.submit(fn, n, rng.getrandbits(64), pure=False), plain_fib(n)
    return start


def _nest_fib(client: distributed.Client, rng: random.Random) -> tuple[Any, Any]:
    n = rng.randint(16, 18)
    return nest_fib.spawn(n), plain_fib(n)


def _nest_tree(client: distributed.Client, rng: random.Random) -> tuple[Any, Any]:
    depth, fanout = rng.choice([(9, 2), (6, 3), (4, 6), (3, 9)])
    return nest_tree.spawn(depth, fanout), fanout ** depth


APIS = {api.name: api for api in [
    API("nest-fib", _nest_fib),
    API("nest-tree", _nest_tree),
    API("worker_client", _submit(worker_client_fib, 11)),
    API("get_client", _submit(get_client_fib, 20)),
    API("dask-secede", _submit(dask_secede_fib, 11)),
    API("dask-compute", _submit(delayed_fib, 10)),
]}


@dataclass
class Tally:
    """What the trials of one API gave."""

    baseline: list[float] = field(default_factory=list)
    extra: list[float] = field(default_factory=list)
    kills: int = 0
    right: int = 0
    wrong: list[str] = field(default_factory=list)
    hangs: int = 0

    def row(self, name: str) -> str:
        base = statistics.median(self.baseline) if self.baseline else float("nan")
        extra = sorted(self.extra) or [float("nan")]
        p95 = extra[min(len(extra) - 1, int(0.95 * len(extra)))]
        return (f"{name:<14}{self.kills:>6}{self.right:>7}{len(self.wrong):>7}{self.hangs:>7}"
                f"{base:>10.2f}{statistics.median(extra):>9.2f}{p95:>9.2f}{extra[-1]:>9.2f}")


HEADER = f"{'api':<14}{'kills':>6}{'right':>7}{'wrong':>7}{'hangs':>7}{'base s':>10}{'+med s':>9}{'+p95 s':>9}{'+max s':>9}"


def worker_pids(client: distributed.Client) -> dict[str, int]:
    """The process of each worker; asked again while one goes away (a task of the last trial may kill it)."""
    for _ in range(50):
        try:
            return client.run(os.getpid)
        except OSError:
            time.sleep(0.1)
    return client.run(os.getpid)


def trial(client: distributed.Client, api: API, rng: random.Random, tally: Tally, workers: int,
          kill: bool, hang_after: float) -> None:
    started = time.monotonic()
    future, want = api.start(client, rng)
    if kill:
        base = statistics.median(tally.baseline)
        time.sleep(rng.uniform(0.1, 0.9) * base)
        pids = worker_pids(client)  # fewer than ``workers`` while a nanny restarts one that died by itself
        victims = rng.sample(sorted(pids), min(len(pids), 1 if rng.random() < 0.5 else workers - 1))
        for address in victims:
            os.kill(pids[address], signal.SIGKILL)
        tally.kills += 1
    try:
        got = future.result(timeout=hang_after)
    except TimeoutError:
        tally.hangs += 1
        future.cancel()
        return
    except Exception as error:
        tally.wrong.append(f"{type(error).__name__}: {error}")
        return
    finally:
        del future
    elapsed = time.monotonic() - started
    if got != want:
        tally.wrong.append(f"{got!r} != {want!r}")
    elif kill:
        tally.right += 1
        tally.extra.append(max(0.0, elapsed - statistics.median(tally.baseline)))
    else:
        tally.baseline.append(elapsed)


def run(kills: int, apis: list[str], workers: int = 3, seed: int = 0, hang_after: float = 120,
        out: Any = sys.stdout) -> dict[str, Tally]:
    """``kills`` killed trials per API (each after a few unkilled ones); prints one row per API."""
    rng = random.Random(seed)
    tallies: dict[str, Tally] = {}
    session = jupyter_nest.start(workers=workers, threads=1, dashboard=False, replace=True)
    try:
        client = session.client
        for name in apis:
            api, tally = APIS[name], tallies.setdefault(name, Tally())
            for _ in range(3):
                trial(client, api, rng, tally, workers, kill=False, hang_after=hang_after)
            for i in range(kills):
                trial(client, api, rng, tally, workers, kill=True, hang_after=hang_after)
                wait_whole(client, workers)
                if i % 4 == 3:  # the baseline moves with the machine's load: keep measuring it
                    trial(client, api, rng, tally, workers, kill=False, hang_after=hang_after)
            print(tally.row(name), file=out, flush=True)
            for wrong in tally.wrong[:5]:
                print(f"    {wrong[:400]}", file=out, flush=True)
    finally:
        jupyter_nest.stop()
    return tallies


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kills", type=int, default=100, help="killed trials per API")
    parser.add_argument("--workers", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--api", action="append", choices=sorted(APIS), help="default: all")
    options = parser.parse_args()
    print(HEADER, flush=True)
    run(options.kills, options.api or list(APIS), options.workers, options.seed)
