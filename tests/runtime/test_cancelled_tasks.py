"""A task the scheduler cancels while it runs stops waiting and spawning at once, on an in-process cluster.

Dask tells worker plugins the state a transition was asked for (``executing -> released``), not the one the
task reached (``cancelled``: its thread runs on). The plugins that end a cancelled task's wait
(``RuntimePlugin``) and stop its ``@nest`` spawns (``OfferPlugin``) must hear of it all the same. A chaos run
showed what happens otherwise: an offered child whose parent's worker died was cancelled, went on waiting for
a grandchild that Dask had queued behind it in the same one-thread worker, and the recursion hung.
"""

from __future__ import annotations

import threading

# jupyter_nest.config before distributed.utils_test (see tests/forkjoin/test_balancer_plugins.py)
import jupyter_nest.config

# isort: split
import distributed
import pytest
from distributed.utils_test import gen_cluster
from support.polling import until

import jupyter_nest
from jupyter_nest import _dask, nest
from jupyter_nest.forkjoin import BalancerPlugin, OfferPlugin, ledger_of
from jupyter_nest.forkjoin._spawn import run_root
from jupyter_nest.runtime import RuntimePlugin

pytestmark = pytest.mark.timeout(60)

GATE, ENDED = threading.Event(), threading.Event()
WAITS_ON_BLOCKER = threading.Event()
RAISED: list[BaseException] = []


def blocker():
    GATE.wait(30)
    return 1


def waits_on_the_blocker():
    """Waits, on the worker's client, for a task the test holds: only this task's own cancel can end the wait."""
    client = jupyter_nest.get_client()
    future = distributed.Future("blocker", client=client)
    WAITS_ON_BLOCKER.set()
    try:
        return future.result()
    finally:
        ENDED.set()


@nest
def tick():
    return 1


def spawns_after_the_gate():
    """A @nest root that waits for the gate, then spawns: a root cancelled meanwhile must refuse to."""
    def body():
        WAITS_ON_BLOCKER.set()
        GATE.wait(30)
        return tick.spawn().result()
    try:
        return run_root(body, (), {})
    except BaseException as error:
        RAISED.append(error)
        raise


def running(worker, key):
    return _dask.task_state(worker, key) in ("executing", "long-running")


@pytest.fixture
def events():
    GATE.clear()
    ENDED.clear()
    WAITS_ON_BLOCKER.clear()
    RAISED.clear()
    yield
    GATE.set()  # whatever the test did, nothing of it stays blocked


@gen_cluster(client=True, nthreads=[("127.0.0.1", 2)])
async def test_a_cancelled_task_stops_waiting_at_once(c, s, a, events):
    await c.register_plugin(RuntimePlugin())
    held = c.submit(blocker, key="blocker")
    waiter = c.submit(waits_on_the_blocker, key="waiter")
    await until(WAITS_ON_BLOCKER.is_set, what="the waiter to wait")
    await c.cancel([waiter])
    await until(ENDED.is_set, timeout=5, what="the cancelled task's wait to end")
    assert running(a, "blocker"), "the awaited task was not the waiter's to cancel"
    GATE.set()
    assert await held == 1


@gen_cluster(client=True, nthreads=[("127.0.0.1", 1)])
async def test_a_cancelled_nest_task_spawns_no_more(c, s, a, events):
    for plugin in (RuntimePlugin(), BalancerPlugin(), OfferPlugin()):
        await c.register_plugin(plugin)
    root = c.submit(spawns_after_the_gate, key="spawner")
    await until(WAITS_ON_BLOCKER.is_set, what="the root to start")
    await c.cancel([root])
    await until(lambda: ledger_of(a).contexts["spawner"].cancelled, timeout=5,
                what="the worker's fork-join ledger to hear of the cancel")
    GATE.set()
    await until(lambda: RAISED, what="the root to end")
    assert isinstance(RAISED[0], _dask.FutureCancelledError), RAISED
