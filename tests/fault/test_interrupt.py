"""A kernel interrupt stops the whole tree of every API within 2 s, in a real kernel, and the next recursion runs.

Each recursion below runs far longer than the test waits (its leaves take 20 ms, and it has thousands), so only
the interrupt can end it: the cell must return, and then no task of the tree may run or wait on the scheduler,
and no worker thread may still run its code. The test prints how long each took; on a quiet machine every API
stops within 2 s (the goal). The bounds here leave room for a busy CI machine, which runs everything at half speed
or less (with two busy loops beside the test, cells returned after up to 6.4 s and trees stopped after up to 13 s),
while a tree that does not stop at all waits out until_idle's 30 s, and a wedged worker fails the next recursion.
Every wait shows its progress bar before the interrupt (as a user's would, past 1 s): the bar must end marked
interrupted, without a last measure of the tree holding the cell up, and with no update after the cell's error.
"""

from __future__ import annotations

import re
import time

import pytest

pytestmark = [pytest.mark.timeout(300), pytest.mark.slow, pytest.mark.kernel]

SETUP = '''
%load_ext jupyter_nest
import dask, distributed, time, jupyter_nest
from jupyter_nest import nest
client = %nest_cluster start --workers 2 --threads 1 --no-dashboard
# the default, whatever the environment says: every wait below shows its progress bar before the interrupt
dask.config.set({"jupyter-nest.progress.wait-bar-after": "1s"})

def leaf():
    end = time.perf_counter() + 0.02
    while time.perf_counter() < end:
        pass
    return 1

@nest
def nest_tree(depth):
    if depth == 0:
        return leaf()
    return sum(h.result() for h in [nest_tree.spawn(depth - 1) for _ in range(4)])

def worker_client_tree(depth):
    if depth == 0:
        return leaf()
    with jupyter_nest.worker_client() as c:
        return sum(c.gather([c.submit(worker_client_tree, depth - 1, pure=False) for _ in range(4)]))

def get_client_tree(depth):
    if depth == 0:
        return leaf()
    c = jupyter_nest.get_client()
    return sum(c.gather([c.submit(get_client_tree, depth - 1, pure=False) for _ in range(4)]))

def dask_secede_tree(depth):
    if depth == 0:
        return leaf()
    c = distributed.get_client()
    futures = [c.submit(dask_secede_tree, depth - 1, pure=False) for _ in range(4)]
    distributed.secede()
    value = sum(c.gather(futures))
    distributed.rejoin()
    return value

def compute_tree(depth):
    if depth == 0:
        return leaf()
    return sum(dask.compute(*[dask.delayed(compute_tree, pure=False)(depth - 1) for _ in range(4)]))

TREE = ("leaf", "nest_tree", "worker_client_tree", "get_client_tree", "dask_secede_tree", "compute_tree")
LIVE = ("processing", "queued", "waiting", "no-worker")

def busy_tasks():
    """Tasks on the scheduler that have not ended, and worker threads still running our tree functions."""
    live = client.run_on_scheduler(lambda dask_scheduler: sum(
        ts.state in LIVE for ts in dask_scheduler.tasks.values()))
    def running(dask_worker):
        import traceback
        from jupyter_nest._dask import current_frames  # sys._current_frames() can freeze a worker (see there)
        return sum(any(f.name in TREE for f in traceback.extract_stack(frame))
                   for frame in current_frames().values())
    try:
        return live + sum(client.run(running).values())
    except OSError:  # a worker went away mid-poll (seen once, after a %%nest_submit interrupt): ask again
        return 1

def until_idle(timeout=30):
    started = time.monotonic()
    while busy_tasks() and time.monotonic() - started < timeout:
        time.sleep(0.02)
    return time.monotonic() - started

def what_runs():
    """What keeps the tree from stopping: live tasks by state, and where the threads running tree code are."""
    import collections
    states = client.run_on_scheduler(lambda dask_scheduler: dict(collections.Counter(
        (ts.state, ts.key.split("-")[0]) for ts in dask_scheduler.tasks.values()
        if ts.state in LIVE)))
    def stacks(dask_worker):
        import traceback
        from jupyter_nest._dask import current_frames
        return [" <- ".join(f"{f.name}:{f.lineno}" for f in reversed(traceback.extract_stack(frame)[-6:]))
                for frame in current_frames().values()
                if any(f.name in TREE for f in traceback.extract_stack(frame))]
    def pool(dask_worker):
        e = dask_worker.executors["default"]
        return {"threads": len(e._threads), "alive": sum(t.is_alive() for t in e._threads),
                "rejoining": len(e._rejoin_list), "queued": e._work_queue.qsize(),
                "executing": len(dask_worker.state.executing), "long-running": len(dask_worker.state.long_running)}
    return {"tasks": {f"{state} {prefix}": n for (state, prefix), n in states.items()}, "threads": client.run(stacks),
            "pools": client.run(pool)}
'''

RECURSIONS = {
    "nest": "nest_tree.spawn(8).result()",
    "worker_client": "client.submit(worker_client_tree, 8, pure=False).result()",
    "get_client": "client.submit(get_client_tree, 8, pure=False).result()",
    "dask-secede": "client.submit(dask_secede_tree, 8, pure=False).result()",
    "dask-compute": "client.submit(compute_tree, 8, pure=False).result()",
    "nest_submit": "%%nest_submit --wait\nwith jupyter_nest.worker_client() as c:\n"
                   "    c.submit(worker_client_tree, 8, pure=False).result()",
}


BAR = re.compile(r"▕[█░]*▏")


@pytest.fixture(scope="module")
def k(module_kernel):
    module_kernel.run(SETUP, timeout=120).check()
    return module_kernel


@pytest.mark.parametrize("api", list(RECURSIONS))
def test_an_interrupt_stops_the_whole_tree_within_two_seconds(k, api):
    cell = k.client.execute(RECURSIONS[api])
    time.sleep(2.5)  # the tree is spread over both workers by now
    k.manager.interrupt_kernel()
    interrupted = time.monotonic()
    reply = k.collect(cell, timeout=30)
    error = reply.error
    returned = time.monotonic() - interrupted
    assert error is not None and error["ename"] == "KeyboardInterrupt", error
    # the wait's progress bar says so, and no update of it comes after the cell's error
    bars = [i for i, m in enumerate(reply.messages)
            if m["msg_type"] in ("display_data", "update_display_data") and BAR.search(m["content"]["data"]["text/plain"])]
    assert bars, [m["msg_type"] for m in reply.messages]
    last = reply.messages[bars[-1]]["content"]["data"]["text/plain"]
    assert last.endswith("· interrupted"), last
    assert bars[-1] < next(i for i, m in enumerate(reply.messages) if m["msg_type"] == "error")
    # measured in the kernel, which polls the cluster much faster than this test can ask the kernel
    waited = k.value("until_idle()")
    stopped = returned + waited
    print(f"{api}: the cell returned {returned:.2f} s after the interrupt, the tree stopped after {stopped:.2f} s")
    assert returned < 10, f"{api}: the cell returned {returned:.2f} s after the interrupt"
    assert stopped < 20, (f"{api}: tasks or threads of the tree still ran {stopped:.2f} s after the interrupt: "
                         f"{k.value('what_runs()')}")
    assert k.value("nest_tree.spawn(3).result(timeout=30)") == 64
