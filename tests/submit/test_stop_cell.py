"""Stopping a submitted cell on a worker (``stop_cell``) stops the cell's code and nothing else.

Fast tier: ``gen_cluster`` runs the scheduler and a one-thread worker in this process.
"""

from __future__ import annotations

import asyncio
import sys
import time

# jupyter_nest.config before distributed.utils_test (see test_output_plugin.py).
import jupyter_nest.config  # noqa: F401

# isort: split
import dask
import pytest
from distributed import Event
from distributed.utils_test import gen_cluster
from support.polling import until

from jupyter_nest import _wire
from jupyter_nest.submit._shipped.capture import uninstall
from jupyter_nest.submit._shipped.run import run_cell, stop_cell

pytestmark = pytest.mark.timeout(120)

CELL = "cell-1"


def cell(source: str) -> dict[str, str]:
    return {"source": source, "filename": "<cell>", "id": CELL}


@pytest.fixture(autouse=True)
def original_streams():
    """run_cell routes this process's stdout and stderr (the worker runs here): give them back."""
    yield
    uninstall()


@gen_cluster(client=True, nthreads=[("127.0.0.1", 1)], timeout=100)
async def test_stopping_a_cell_as_its_tasks_end_leaves_the_worker_its_thread(c, s, a):
    # The worker's one thread runs short tasks of the cell, one after another, while the cell is stopped
    # again and again; a thread switch every microsecond makes every race show. The exception stop_cell
    # sends must land in the cell's code: landing after a task ended, in Dask's pool loop, kills the
    # worker's only thread, and the worker never runs a task again.
    switch = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    # A stop landing in a finalizer that runs inside the cell is "ignored" by Python and handed to
    # sys.unraisablehook in the worker's thread; pytest's hook is Python code, which the next stop can
    # land in, and pytest then fails the test ("Failed to process unraisable exception", 1 CI run in 3).
    # Python's own hook is C code, which an exception sent to the thread cannot interrupt.
    unraisable, sys.unraisablehook = sys.unraisablehook, sys.__unraisablehook__
    try:
        with dask.annotate(**{_wire.CELL_ANNOTATION: CELL}):
            futures = c.map(run_cell, [cell("sum(range(10000))")] * 400, [{}] * 400, [{}] * 400, pure=False)
        deadline = time.monotonic() + 30
        while not all(f.done() for f in futures) and time.monotonic() < deadline:
            await stop_cell(CELL, a)
            await asyncio.sleep(0)
    finally:
        sys.setswitchinterval(switch)
        sys.unraisablehook = unraisable
    assert all(f.done() for f in futures), "the worker stopped running tasks: its thread ended"
    stopped = [f for f in futures if f.status == "error"]
    assert stopped, "no cell was ever stopped: the race was not run"
    for f in stopped:
        assert type(await f.exception()).__name__ == "CellCancelled"
    print(f"{len(stopped)} of {len(futures)} cells stopped")
    assert await asyncio.wait_for(c.submit(sum, [40, 2], pure=False), 10) == 42
    assert all(t.is_alive() for t in a.executors["default"]._threads)


async def stop_endless(c, a, source: str) -> None:
    with dask.annotate(**{_wire.CELL_ANNOTATION: CELL}):
        future = c.submit(run_cell, cell(source), {}, {}, pure=False)
    deadline = time.monotonic() + 30
    while not await stop_cell(CELL, a):
        assert time.monotonic() < deadline, "the cell never started, or stop_cell cannot see it"
        await asyncio.sleep(0.01)
    error = await asyncio.wait_for(future.exception(), 10)
    assert type(error).__name__ == "CellCancelled"


@gen_cluster(client=True, nthreads=[("127.0.0.1", 1)], timeout=60)
async def test_stopping_a_cell_stops_its_running_code(c, s, a):
    await stop_endless(c, a, "import time\nwhile True:\n    time.sleep(0.01)")


@gen_cluster(client=True, nthreads=[("127.0.0.1", 1)], timeout=60)
async def test_a_cell_that_replaced_sys_stdout_is_stopped_too(c, s, a):
    await stop_endless(c, a, "import contextlib, io, time\nwith contextlib.redirect_stdout(io.StringIO()):\n"
                             "    while True:\n        time.sleep(0.01)")


def hold_the_slot(seconds: float) -> None:
    time.sleep(seconds)


@gen_cluster(client=True, nthreads=[("127.0.0.1", 1)], timeout=60)
async def test_a_cell_rejoining_the_pool_is_not_interrupted(c, s, a):
    # The cell left the pool (as worker_client does) and waits to rejoin it behind a task holding the
    # worker's one slot. Raised in that wait, CellCancelled left Dask's pool counting a thread about to
    # end: the worker never ran a task again. Its wait on the cluster ends with the cancel instead.
    source = ("from distributed import Event, rejoin, secede\nsecede()\nEvent('rejoin').wait(30)\nrejoin()\n"
              "'rejoined'")
    with dask.annotate(**{_wire.CELL_ANNOTATION: CELL}):
        future = c.submit(run_cell, cell(source), {}, {}, pure=False)
        await until(lambda: a.state.long_running, what="the cell to leave the pool")
        blocker = c.submit(hold_the_slot, 3, pure=False)
        await until(lambda: a.state.executing, what="the slot to be held")
    await Event("rejoin").set()
    pool = a.executors["default"]
    await until(lambda: pool._rejoin_list, what="the cell to wait to rejoin the pool")
    await stop_cell(CELL, a)
    await blocker
    assert await asyncio.wait_for(future, 10) == "rejoined"
    assert await asyncio.wait_for(c.submit(sum, [40, 2], pure=False), 10) == 42
