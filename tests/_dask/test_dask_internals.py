"""Each accessor of ``jupyter_nest._dask`` against the installed Dask, on an in-process cluster.

When a Dask release changes an internal we read, the failing test here names the accessor to fix.
"""

from __future__ import annotations

import contextvars
import sys
import threading

# jupyter_nest.config before distributed.utils_test: gen_cluster resets dask.config to what it was when
# utils_test was imported, and that must include jupyter_nest's settings (importing jupyter_nest alone
# imports no Dask and registers none).
import jupyter_nest.config  # noqa: F401

# isort: split
import distributed
import pytest
from distributed import Event
from distributed.utils_test import gen_cluster
from support.polling import until

from jupyter_nest import _dask

pytestmark = pytest.mark.timeout(60)

ONE_SLOT = [("127.0.0.1", 1)]
TWO_WORKERS = [("127.0.0.1", 1), ("127.0.0.1", 1)]


def inc(x):
    return x + 1


def thread_facts():
    """What a task thread learns about itself, before and after it gives its slot up."""
    held = (_dask.task_key(), _dask.in_task(), _dask.in_pool_thread())
    distributed.secede()
    seceded = (_dask.task_key(), _dask.in_task(), _dask.in_pool_thread())
    distributed.rejoin()
    return held, seceded


@gen_cluster(client=True, nthreads=ONE_SLOT)
async def test_a_task_thread_knows_its_key_and_whether_it_holds_a_slot(c, s, a):
    held, seceded = await c.submit(thread_facts, key="facts")
    assert held == ("facts", True, True)
    assert seceded == ("facts", True, False)
    assert (_dask.task_key(), _dask.in_task(), _dask.in_pool_thread()) == (None, False, False)


def hold(release, started=None):
    if started is not None:
        Event(started).set()
    Event(release).wait()
    return threading.get_ident()


@gen_cluster(client=True, nthreads=ONE_SLOT)
async def test_worker_state_readers(c, s, a):
    release, started = Event("release", client=c), Event("started", client=c)
    first = c.submit(hold, release.name, started.name, key="first")
    await started.wait(timeout=30)
    second = c.submit(hold, release.name, key="second")
    await until(lambda: _dask.queued(a) == 1, what="the second task to queue on the worker")

    assert _dask.nthreads(a) == 1
    assert _dask.task_state(a, "first") == "executing"
    assert _dask.task_state(a, "nope") is None
    ident = _dask.task_threads(a)["first"]
    assert ident in _dask.pool_thread_idents(a)
    assert _dask.waits_on_futures(_dask.current_frames()[ident]) is False  # it waits on an Event

    await release.set()
    assert await first == ident
    await second


def waits_without_seceding(release):
    client = distributed.get_client()
    return client.submit(hold, release, key="awaited").result()


@gen_cluster(client=True, nthreads=[("127.0.0.1", 2)])
async def test_a_thread_blocked_on_futures_is_seen_as_waiting(c, s, a):
    release = Event("release", client=c)
    waiter = c.submit(waits_without_seceding, release.name, key="waiter")
    await until(lambda: "awaited" in _dask.task_threads(a), what="the awaited task to run")

    def waiting():
        ident = _dask.task_threads(a).get("waiter")
        return ident is not None and _dask.waits_on_futures(_dask.current_frames().get(ident))

    await until(waiting, what="the waiter to block in Client.sync")
    frame = _dask.current_frames()[_dask.task_threads(a)["waiter"]]
    assert _dask.waits_on_futures(frame, unless_from=(__name__,)) is False  # called from this module
    await release.set()
    await waiter


def submit_child():
    client = distributed.get_client()
    return client.submit(inc, 1, key="child").result()


@gen_cluster(client=True, nthreads=TWO_WORKERS)
async def test_the_update_graph_hook_sees_the_submitting_task(c, s, a, b):
    submitter: contextvars.ContextVar[object] = contextvars.ContextVar("submitter", default=None)
    seen = {}

    class Watch(distributed.diagnostics.plugin.SchedulerPlugin):
        def update_graph(self, scheduler, *, keys, **kwargs):
            seen.update(dict.fromkeys(keys, submitter.get()))

    s.add_plugin(Watch())
    undo = _dask.hook_update_graph(s, submitter)
    try:
        assert await c.submit(submit_child, key="parent") == 2
    finally:
        undo()
    assert seen["parent"] is None
    assert seen["child"] == "parent"


@gen_cluster(client=True, nthreads=ONE_SLOT)
async def test_scheduler_readers_and_actions(c, s, a):
    base = c.submit(inc, 1, key="base")
    await base
    release, started = Event("release", client=c), Event("started", client=c)
    assert _dask.free_slots(s.workers[a.address]) == 1
    held = c.submit(hold, release.name, started.name, key="held")
    await started.wait(timeout=30)
    await until(lambda: _dask.free_slots(s.workers[a.address]) == 0, what="the slot to count as busy")
    assert isinstance(_dask.worker_memory(s.workers[a.address]), int)

    queued = c.submit(inc, base, key="queued-on-base")
    await until(lambda: "queued-on-base" in s.tasks, what="the task to reach the scheduler")
    args, kwargs = _dask.task_arguments(s.tasks["queued-on-base"])
    assert kwargs == {} and len(args) == 1 and _dask.is_reference(args[0]) and args[0].key == "base"
    literal_args, _ = _dask.task_arguments(s.tasks["held"])
    assert [_dask.literal(x) for x in literal_args] == [release.name, started.name]
    assert not any(_dask.is_reference(x) for x in literal_args)
    assert s.tasks["queued-on-base"].state in _dask.LIVE_STATES

    async with distributed.Client(s.address, asynchronous=True, name="user") as other:
        also_theirs = other.submit(hold, release.name, key="held")  # the same key, wanted by a second client
        await until(lambda: _dask.held_outside(s, "held", c.id, ()), what="the second client to hold 'held'")
        assert not _dask.held_outside(s, "held", c.id, ("user",))  # unless that client is inside the tree
        assert not _dask.held_outside(s, "queued-on-base", c.id, ())
        owners = {"queued-on-base": c.id, "held": c.id}
        _dask.cancel_for_their_clients(s, ["queued-on-base", "held", "no-such-key"], owners, (), reason="test",
                                       msg="cancelled here")
        await until(lambda: queued.status == "cancelled", what="the key only its owner holds to be cancelled")
        assert held.status == "pending" and also_theirs.status == "pending"  # another client holds it too
        await release.set()
        assert await also_theirs == await held


@gen_cluster(client=True, nthreads=ONE_SLOT)
async def test_finished_spans_are_forgotten_oldest_first(c, s, a):
    spans = s.extensions["spans"]
    held = c.submit(inc, 0, key="held-0")
    await held
    for i in range(8):
        await c.submit(inc, i, key=f"gone-{i}")  # a new default span each: the previous one finished
        await until(lambda i=i: f"gone-{i}" not in s.tasks, what="the released task to be forgotten")
    assert len(spans.root_spans) == 9
    assert _dask.forget_finished_spans(s, keep=3, older_than=3600) == 0  # none stopped an hour ago

    await a.heartbeat()  # the worker's metrics name spans; older_than waits for those heartbeats
    assert _dask.forget_finished_spans(s, keep=3, older_than=0) == 5
    # the oldest stays while a client holds a task of its group: a new task of that group would look it up
    assert [tg.name for tg in spans.root_spans[0].groups] == ["held"]
    assert len(spans.root_spans) == 4 == len(spans.spans) == len(spans.spans_search_by_name["default",])
    assert set(spans.spans_search_by_tag["default"]) == set(spans.root_spans)

    assert await c.submit(inc, 41, key="after") == 42  # the scheduler and the workers' metrics carry on
    await a.heartbeat()
    del held
    await until(lambda: "held-0" not in s.tasks, what="the held task to be forgotten")
    await a.heartbeat()
    assert _dask.forget_finished_spans(s, keep=1, older_than=0) == 4
    assert [tg.name for tg in spans.root_spans[0].groups] == ["after"]


@gen_cluster(nthreads=ONE_SLOT)
async def test_task_threads_can_be_read_while_threads_come_and_go(s, a):
    stop = threading.Event()

    def come_and_go():  # as task threads do, entering and leaving active_threads under the GIL
        ident = 10**9
        while not stop.is_set():
            a.active_threads[ident] = f"task-{ident}"
            a.active_threads.pop(ident - 50, None)
            ident += 1

    churn = threading.Thread(target=come_and_go)
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads often, as a busy worker does
    churn.start()
    try:
        for _ in range(20_000):  # raised "dictionary changed size during iteration" tens of times
            _dask.task_threads(a)
            _dask.pool_thread_idents(a)
    finally:
        stop.set()
        churn.join()
        sys.setswitchinterval(interval)
        for ident in [i for i in a.active_threads if i >= 10**9]:
            del a.active_threads[ident]


@gen_cluster(client=True, nthreads=ONE_SLOT)
async def test_desire_keys_makes_a_client_hold_a_key(c, s, a):
    async with distributed.Client(s.address, asynchronous=True) as other:
        future = other.submit(inc, 41, key="theirs")
        assert await future == 42
        _dask.desire_keys(s, ["theirs"], c.id)
        assert c.id in {cs.client_key for cs in s.tasks["theirs"].who_wants}


class Recording(_dask.HookedClient):
    """A client that records its hooks."""

    def __init__(self, *args, **kwargs):
        self.submits = 0
        self.errors = []
        super().__init__(*args, **kwargs)

    def before_submit(self):
        self.submits += 1

    def error_report(self, exception, traceback):
        self.errors.append(exception)
        return super().error_report(exception, traceback)


def fail():
    raise ValueError("reported")


@gen_cluster(nthreads=ONE_SLOT)
async def test_client_hooks_see_every_submission_and_error_report(s, a):
    async with Recording(s.address, asynchronous=True) as rc:
        assert await rc.submit(inc, 1, key="ok") == 2
        assert await rc.gather(rc.map(inc, [1, 2], key=["m1", "m2"])) == [2, 3]
        with pytest.raises(ValueError, match="reported"):
            await rc.submit(fail, key="bad")
        assert rc.submits == 3
        assert len(rc.errors) == 1


@gen_cluster(client=True, nthreads=ONE_SLOT)
async def test_the_waits_of_a_client_name_their_futures(c, s, a):
    # the coroutine and arguments Client.sync receives for result(), gather() and distributed.wait()
    ok = c.submit(inc, 1, key="ok")
    await ok
    assert _dask.awaited_futures(c, ok._result, ()) == [ok]
    assert _dask.awaited_futures(c, c._gather, ([ok],)) == [ok]
    assert _dask.awaited_futures(c, distributed.client._wait, ([ok],)) == [ok]
    assert _dask.awaited_futures(c, c._run_on_scheduler, (inc,)) is None
    assert _dask.unbound_futures([ok]) == []


@gen_cluster(client=True, nthreads=TWO_WORKERS)
async def test_rpc_between_workers_and_to_the_scheduler(c, s, a, b):
    b.handlers["echo_for_test"] = lambda payload: {"from": b.address, "payload": payload}

    def call_b(address):
        return _dask.call_from_task(distributed.get_worker(), address, "echo_for_test", payload=7)

    assert await c.submit(call_b, b.address, workers=[a.address]) == {"from": b.address, "payload": 7}
    assert await _dask.call(a, b.address, "echo_for_test", payload=8) == {"from": b.address, "payload": 8}
    async with _dask.scheduler_rpc(s.address, 10, None) as scheduler:
        assert (await scheduler.identity())["type"] == "Scheduler"
    assert _dask.scheduler_address(c) == s.address


def test_deploy_names_are_dask_classes():
    assert issubclass(_dask.SSHScheduler, _dask.SSHProcess) and issubclass(_dask.SSHWorker, _dask.SSHProcess)
    assert issubclass(_dask.SpecCluster, distributed.deploy.Cluster)
    assert _dask.Status.running.name == "running"
    workers, threads = _dask.nprocesses_nthreads()
    assert workers >= 1 and threads >= 1
    assert _dask.format_dashboard_link("127.0.0.1", 8787).endswith(":8787/status")
    assert _dask.ssh_logger.name == "distributed.deploy.ssh"


def gather_by_key(key):
    """In a task: gather ``key`` through the worker's client, as a task waiting on a child's result does."""
    client = distributed.get_client()
    distributed.secede()  # the worker's one slot, for the result computed again
    return client.gather(distributed.Future(key, client))


# Dask's own connect timeout, which gen_cluster shortens to 5 s.
@gen_cluster(client=True, nthreads=TWO_WORKERS, timeout=90, config={"distributed.comm.timeouts.connect": "30s"})
async def test_a_worker_client_stops_reaching_a_worker_the_scheduler_removed(c, s, a, b):
    # A task on a gathers x from b just as b dies: the connection is refused, and the worker client's pool
    # retries it for Dask's whole connect timeout (30 s; the one-kill-in-a-hundred stall). The scheduler
    # soon tells a that b is gone; Dask's worker then drops its own connects to b, and the hook the
    # client's as well, so the gather falls back to the scheduler and x is computed again.
    _dask.forget_removed_workers_in_client(a)
    x = c.submit(inc, 1, workers=[b.address], allow_other_workers=True, key="x")
    await x
    b.listener.stop()  # refused, while the scheduler still lists b
    started = s.loop.time()
    task = c.submit(gather_by_key, "x", workers=[a.address], pure=False)
    await until(lambda: any(conns for conns in a._client.rpc._connecting.values()) if a._client else False,
                timeout=20)
    await s.remove_worker(b.address, stimulus_id="test-b-died")
    assert await task == 2
    assert s.loop.time() - started < 20, "the gather waited out the connect timeout (30 s)"


def makes_a_worker_client():
    distributed.get_client()


@gen_cluster(client=True, nthreads=TWO_WORKERS, timeout=90, config={"distributed.comm.timeouts.connect": "30s"})
async def test_a_worker_client_gives_up_fast_on_a_worker_the_scheduler_removed_before_it_connects(c, s, a, b):
    # The other order of the same race: the scheduler answers a gather's who_has with b, then removes b, and a
    # hears of it before its client starts to connect to b. No connect was there to cancel, and a new one to
    # the dead address was retried for the whole connect timeout (30 s; 1 get_client kill in 400).
    _dask.forget_removed_workers_in_client(a)
    await c.submit(makes_a_worker_client, workers=[a.address], pure=False)
    b.listener.stop()
    await s.remove_worker(b.address, stimulus_id="test-b-died")
    await until(lambda: any(event.stimulus_id == "test-b-died" for event in a.state.stimulus_log),
                what="a to hear that the scheduler removed b")
    started = s.loop.time()
    with pytest.raises(OSError):
        await a._client.rpc.connect(b.address)
    assert s.loop.time() - started < 10, "the connect to the removed worker waited out the connect timeout"
