"""@nest work sharing on an in-process cluster: BalancerPlugin (scheduler) and OfferPlugin (worker)
hand pending children to idle slots as Dask tasks, without deadlock and without piling up threads.

Fast tier: ``gen_cluster`` runs the scheduler and workers in this process (they share one GIL, so
the point here is where work runs, not speed-up).
"""

from __future__ import annotations

import asyncio
import threading
import time

# jupyter_nest.config before distributed.utils_test: gen_cluster resets dask.config to what it was when
# utils_test was imported, and that must include jupyter_nest's settings (importing jupyter_nest alone
# imports no Dask and registers none).
import jupyter_nest.config  # noqa: F401

# isort: split
import distributed
import pytest
from distributed.utils_test import gen_cluster
from support.polling import until
from support.recursions import fib

from jupyter_nest import _dask, _wire, nest
from jupyter_nest.forkjoin import BalancerPlugin, OfferPlugin, ledger_of
from jupyter_nest.forkjoin._lending import claim
from jupyter_nest.forkjoin._spawn import run_root
from jupyter_nest.runtime import LineagePlugin, RuntimePlugin

pytestmark = pytest.mark.timeout(60)

TWO_WORKERS = [("127.0.0.1", 1), ("127.0.0.1", 1)]
ONE_SLOT = [("127.0.0.1", 1)]
# The documented bound: threads stay within nthreads + 4 per worker process.
EXTRA_THREADS_PER_WORKER = 4


def busy(seconds):
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        pass


@nest
def fib_where(n):
    """fib(n), and the workers its leaves ran on. Each leaf costs 0.1 ms, so the 4181 leaves of
    fib(18) take about 0.4 s: ample time for the idle worker to ask for work (it asks within
    tens of milliseconds), short enough for the fast tier."""
    if n < 2:
        busy(0.0001)
        return n, frozenset([distributed.get_worker().address])
    a, b = fib_where.spawn(n - 1), fib_where.spawn(n - 2)
    (x, where_a), (y, where_b) = a.result(), b.result()
    return x + y, where_a | where_b


def spawns_and_waits(n):
    """A plain Dask task that spawns a @nest root and waits for it (it must give its slot up)."""
    return fib.spawn(n).result()


async def install(c):
    for plugin in (LineagePlugin(), RuntimePlugin(), BalancerPlugin(), OfferPlugin()):
        await c.register_plugin(plugin)


async def run_sampling_threads(future):
    """Wait for ``future``, sampling this process's thread count; return (result, peak)."""
    peak = threading.active_count()
    while not future.done():
        peak = max(peak, threading.active_count())
        await asyncio.sleep(0.002)
    return await future, peak


def ledgers_settled(*workers):
    return all(not ledger_of(w).contexts and not ledger_of(w).handed_out
               and not any(thread.is_alive() for thread in ledger_of(w).seceded) for w in workers)


@gen_cluster(client=True, nthreads=TWO_WORKERS)
async def test_fib_root_shares_work_with_the_idle_worker(c, s, a, b):
    await install(c)
    baseline = threading.active_count()
    root = c.submit(run_root, fib_where.fn, (18,), {}, key="fib-root", pure=False)
    (value, where), peak = await run_sampling_threads(root)

    assert value == 2584
    # Leaves ran on both workers: children left the root's thread for the other worker.
    assert where == {a.address, b.address}

    # They left as offered Dask tasks, children of the root in the lineage plugin's tree.
    tree = await getattr(c.scheduler, _wire.TREE_HANDLER)(key="fib-root")
    offered = tree["children"]
    assert offered, "no child of the root became a Dask task"
    assert {child["name"] for child in offered} == {"fib_where"}
    assert any(child["state"] == "finished" for child in offered)

    # The worker not running the root entered @nest code (it claimed an offer): OfferPlugin said so.
    working = {msg["address"] for _, msg in await c.get_events(_wire.WORK_TOPIC) if msg.get("working")}
    assert working == {a.address, b.address}

    # No thread explosion: within nthreads + 4 per worker (both workers live in this process).
    allowed = sum(w.state.nthreads + EXTRA_THREADS_PER_WORKER for w in (a, b))
    assert peak - baseline <= allowed, f"threads grew from {baseline} to {peak} (allowed +{allowed})"

    # Nothing left behind in the workers' ledgers once the root is done.
    await until(lambda: ledgers_settled(a, b), what="the fork-join ledgers to empty")


@gen_cluster(client=True, nthreads=ONE_SLOT)
async def test_one_worker_one_thread_completes(c, s, a):
    await install(c)
    root = c.submit(run_root, fib.fn, (16,), {}, key="fib-alone", pure=False)
    assert await root == 987
    # A plain task that spawns a root and waits for it holds the only slot the root needs:
    # the wait must give it up, or this deadlocks.
    assert await c.submit(spawns_and_waits, 15, key="waits-for-fib") == 610
    tree = await getattr(c.scheduler, _wire.TREE_HANDLER)(key="waits-for-fib")
    assert [child["name"] for child in tree["children"]] == ["fib"]
    await until(lambda: ledgers_settled(a), what="the fork-join ledger to empty")


@nest
def leaves():
    """Two 1 s leaves, then four short ones, spawned slowly enough for the idle worker to take the oldest;
    the root runs the short ones, then waits for a long one (a leaf has nothing to lend), seceded."""
    handles = []
    for i in range(6):
        handles.append(nest(busy).spawn(1.0 if i < 2 else 0.05))
        busy(0.05)
    return [h.result() for h in handles]


ROOT_LEFT, LINGER = threading.Event(), threading.Event()


def root_then_linger():
    """A root whose thread still runs a while after its nest code ends, as Dask's code after a task does."""
    run_root(leaves.fn, (), {})
    seceded = not _dask.in_pool_thread()
    ROOT_LEFT.set()
    LINGER.wait(10)
    return seceded


@gen_cluster(client=True, nthreads=TWO_WORKERS)
async def test_a_seceding_permit_comes_free_only_when_its_thread_ends(c, s, a, b):
    """Had the permit come free when the root's nest code ended, a thread seceding meanwhile would make the
    pool start one thread too many: a loaded CI run counted nthreads + 5 threads in a worker."""
    await install(c)
    ROOT_LEFT.clear()
    LINGER.clear()
    root = c.submit(root_then_linger, workers=[a.address], pure=False)
    await until(ROOT_LEFT.is_set, what="the root's nest code to end")
    second = ledger_of(a).try_secede()
    LINGER.set()
    assert await root is True, "the root did not secede while it waited"
    assert second is False, "a second thread seceded while the first one still ran"
    await until(lambda: ledgers_settled(a), what="the seceded thread to end")
    assert ledger_of(a).try_secede(), "the permit stayed taken after its thread ended"


def claim_timed(owner):
    started = time.monotonic()
    claimed = claim(owner, 1, "a-thief")
    return claimed, time.monotonic() - started


@gen_cluster(client=True, nthreads=TWO_WORKERS, config={"distributed.comm.timeouts.connect": "30s"})
async def test_a_claim_on_an_owner_that_left_ends_at_once(c, s, a, b):
    """An offered child starting just as its owner's worker dies claims it from a dead address: Dask's connect
    retries a refused connection for the whole connect timeout (30 s), and the thief's slot idled that long."""
    await install(c)
    owner = await distributed.Worker(s.address, nthreads=1)
    address = owner.address
    await owner.close()
    await until(lambda: address in ledger_of(a).gone, timeout=10, what="the balancer to say the owner left")
    claimed, elapsed = await c.submit(claim_timed, address, workers=[a.address])
    assert claimed is False
    assert elapsed < 3, f"the claim took {elapsed:.1f} s"
