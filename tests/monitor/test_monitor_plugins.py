"""SlotsPlugin (worker) and MonitorPlugin (scheduler) on an in-process cluster: what the
``nest_snapshot`` handler reports for running, seceded, blocked and queued tasks.

Fast tier: ``gen_cluster`` runs the scheduler and workers in this process; tasks hold on
``distributed.Event``s, and the tests poll the snapshot with a deadline instead of sleeping.
"""

from __future__ import annotations

import subprocess
import sys
import time

# jupyter_nest.config before distributed.utils_test: gen_cluster resets dask.config to what it was when
# utils_test was imported, and that must include jupyter_nest's settings (importing jupyter_nest alone
# imports no Dask and registers none).
import jupyter_nest.config

# isort: split
import distributed
import pytest
from distributed import Event
from distributed.utils_test import gen_cluster
from support.polling import until
from support.wire import plain

from jupyter_nest import _wire
from jupyter_nest.monitor import MonitorPlugin, SlotsPlugin
from jupyter_nest.runtime import LineagePlugin, RuntimePlugin

pytestmark = pytest.mark.timeout(60)

ONE_SLOT = [("127.0.0.1", 1)]
TWO_SLOTS = [("127.0.0.1", 2)]


async def install(c, inline_counts=None):
    await c.register_plugin(LineagePlugin())
    await c.register_plugin(RuntimePlugin())
    await c.register_plugin(MonitorPlugin())
    kwargs = {} if inline_counts is None else {"inline_counts": inline_counts}
    await c.register_plugin(SlotsPlugin(interval=0.05, blocked_scan=0.05, **kwargs))


async def snapshot(c):
    return plain(await getattr(c.scheduler, _wire.SNAPSHOT_HANDLER)())


async def snapshot_where(c, check, what):
    """The first snapshot for which ``check(snapshot)`` holds."""
    found = []

    async def probe():
        snap = await snapshot(c)
        found[:] = [snap]
        return check(snap)

    try:
        await until(probe, what=what)
    except AssertionError:
        raise AssertionError(f"timed out waiting for {what}; last snapshot: {found[-1] if found else None}") from None
    return found[-1]


def slot_keys(worker):
    return [None if s is None else s["key"] for s in worker["slots"]]


def check_totals(snap):
    workers, totals = snap["workers"], snap["totals"]
    assert totals["workers"] == len(workers)
    assert totals["threads"] == sum(w["nthreads"] for w in workers)
    assert totals["running"] == sum(1 for w in workers for slot in w["slots"] if slot is not None)
    assert totals["seceded"] == sum(len(w["seceded"]) + w["seceded_more"] for w in workers)
    assert totals["queued"] >= sum(w["queued"] for w in workers)


# --- task functions (run on the in-process workers) ------------------------------------


def hold(release, started=None):
    if started is not None:
        Event(started).set()
    Event(release).wait()
    return 1


def secedes_and_waits(release, n):
    client = jupyter_nest.get_client()
    children = [client.submit(hold, release, key=f"seceded-child-{i}") for i in range(n)]
    distributed.secede()
    return sum(client.gather(children))


def secedes_and_holds(release):
    distributed.secede()
    Event(release).wait()
    return 1


def waits_without_seceding(release):
    """Plain Dask's worker client: ``result()`` keeps the slot while it waits (what 'blocked' means)."""
    child = distributed.get_client().submit(hold, release, key="blocking-child")
    return child.result()


def inline_stub(worker):
    return {"inline-held": 7}


# --- tests ------------------------------------------------------------------------------


@gen_cluster(client=True, nthreads=TWO_SLOTS)
async def test_snapshot_shape_matches_wire_types(c, s, a):
    await install(c)
    snap = await snapshot_where(c, lambda snap: snap["workers"][0]["reported"] is not None, "the worker's first report")
    assert set(snap) == set(_wire.Snapshot.__annotations__)
    assert snap["version"] == _wire.SNAPSHOT_VERSION
    assert snap["scheduler"] == s.address
    [worker] = snap["workers"]
    assert set(worker) == set(_wire.WorkerSlots.__annotations__)
    assert set(snap["totals"]) == set(_wire.Totals.__annotations__)
    assert worker["address"] == a.address
    assert worker["nthreads"] == 2
    assert worker["slots"] == [None, None]
    assert worker["status"] == "running"
    check_totals(snap)


@gen_cluster(client=True, nthreads=TWO_SLOTS)
async def test_held_task_shows_in_a_slot_with_key_name_and_inline_count(c, s, a):
    await install(c, inline_counts=inline_stub)
    release = Event("release", client=c)
    held = c.submit(hold, release.name, key="inline-held")
    other = c.submit(hold, release.name, key="other-held")

    snap = await snapshot_where(
        c,
        lambda snap: sorted(k for k in slot_keys(snap["workers"][0]) if k) == ["inline-held", "other-held"],
        "both held tasks in the worker's slots",
    )
    slots = {slot["key"]: slot for slot in snap["workers"][0]["slots"]}
    assert slots["inline-held"]["name"] == "inline-held"
    assert slots["inline-held"]["inline"] == 7  # the stub passed to SlotsPlugin is what is reported
    assert slots["other-held"]["inline"] == 0
    assert set(slots["inline-held"]) <= set(_wire.SlotTask.__annotations__)
    assert slots["inline-held"]["since"] <= time.time()
    assert slots["other-held"]["call"] == "other-held('release')"  # what the slot view labels it with
    assert snap["totals"]["running"] == 2
    assert snap["totals"]["queued"] == 0
    check_totals(snap)

    await release.set()
    assert await c.gather([held, other]) == [1, 1]
    snap = await snapshot_where(
        c, lambda snap: slot_keys(snap["workers"][0]) == [None, None], "the slots to empty once the tasks finished"
    )
    assert snap["totals"]["done"] >= 2
    assert snap["totals"]["running"] == 0


@gen_cluster(client=True, nthreads=TWO_SLOTS)
async def test_the_monitor_forgets_the_calls_of_tasks_the_scheduler_forgot(c, s, a):
    """A kernel that runs recursions for hours must not keep a label for every task it ever showed."""
    await install(c)
    release = Event("release", client=c)
    held = c.map(hold, [release.name] * 2, key=["held-a", "held-b"])
    await snapshot_where(c, lambda snap: snap["totals"]["running"] == 2, "both tasks in the slots")
    assert set(s.plugins[_wire.MONITOR_PLUGIN].calls) == {"held-a", "held-b"}
    await release.set()
    assert await c.gather(held) == [1, 1]
    del held
    await until(lambda: not s.tasks, what="the scheduler to forget the tasks")
    await snapshot(c)
    assert s.plugins[_wire.MONITOR_PLUGIN].calls == {}


@gen_cluster(client=True, nthreads=ONE_SLOT)
async def test_task_waiting_for_the_only_slot_is_queued(c, s, a):
    await install(c)
    release, started = Event("release", client=c), Event("started", client=c)
    first = c.submit(hold, release.name, started.name, key="first-held")
    await started.wait(timeout=10)
    second = c.submit(hold, release.name, key="second-waits")

    snap = await snapshot_where(
        c,
        lambda snap: slot_keys(snap["workers"][0]) == ["first-held"] and snap["totals"]["queued"] == 1,
        "one running task and one queued",
    )
    assert snap["totals"]["running"] == 1
    assert snap["workers"][0]["seceded"] == []
    check_totals(snap)

    await release.set()
    assert await c.gather([first, second]) == [1, 1]


@gen_cluster(client=True, nthreads=ONE_SLOT)
async def test_seceded_task_shows_under_seceded_with_its_live_children(c, s, a):
    await install(c)
    release = Event("release", client=c)
    parent = c.submit(secedes_and_waits, release.name, 2, key="seceding-parent")

    def settled(snap):
        worker = snap["workers"][0]
        return (
            [t["key"] for t in worker["seceded"]] == ["seceding-parent"]
            and worker["seceded"][0]["waiting_on"] == 2
            and slot_keys(worker) in (["seceded-child-0"], ["seceded-child-1"])
            and snap["totals"]["queued"] == 1  # the other child waits for the slot the first holds
        )

    snap = await snapshot_where(c, settled, "the parent seceded, one child in the slot, one queued")
    worker = snap["workers"][0]
    seceded = worker["seceded"][0]
    assert seceded["name"] == "seceding-parent"
    assert "seceding-parent" not in slot_keys(worker)
    assert worker["seceded_more"] == 0
    assert worker["blocked"] == []  # seceded, so not blocking its slot
    assert snap["totals"]["seceded"] == 1
    assert snap["totals"]["running"] == 1
    check_totals(snap)

    await release.set()
    assert await parent == 2
    snap = await snapshot_where(
        c, lambda snap: snap["workers"][0]["seceded"] == [], "the seceded parent to leave the snapshot"
    )
    assert snap["totals"]["seceded"] == 0


@gen_cluster(client=True, nthreads=ONE_SLOT)
async def test_a_worker_reports_its_oldest_seceded_tasks_and_counts_the_rest(c, s, a):
    # a recursion holds hundreds of seceded tasks, and every report is decoded on the scheduler's loop
    await install(c)
    release = Event("release", client=c)
    many = _wire.SECEDED_REPORTED + 10
    futures = []
    for i in range(many):  # one at a time, so the order of seceding is the order of submission
        futures.append(c.submit(secedes_and_holds, release.name, key=f"seceded-{i:03d}"))
        await snapshot_where(c, lambda snap, i=i: snap["totals"]["seceded"] == i + 1, f"{i + 1} seceded")
    snap = await snapshot(c)
    [worker] = snap["workers"]
    assert [t["key"] for t in worker["seceded"]] == [f"seceded-{i:03d}" for i in range(_wire.SECEDED_REPORTED)]
    assert worker["seceded_more"] == 10
    assert snap["totals"]["seceded"] == many
    check_totals(snap)
    reports = [msg for _, msg in s.get_events(_wire.SLOTS_TOPIC)]
    assert len(reports[-1]["seceded"]) == _wire.SECEDED_REPORTED
    assert reports[-1]["seceded_total"] == many
    assert max(len(r["seceded"]) for r in reports) == _wire.SECEDED_REPORTED

    await release.set()
    assert await c.gather(futures) == [1] * many


@gen_cluster(client=True, nthreads=TWO_SLOTS)
async def test_task_waiting_without_seceding_is_blocked(c, s, a):
    await install(c)
    release = Event("release", client=c)
    parent = c.submit(waits_without_seceding, release.name, key="blocking-parent")

    snap = await snapshot_where(
        c,
        lambda snap: [t["key"] for t in snap["workers"][0]["blocked"]] == ["blocking-parent"],
        "the parent reported as blocked",
    )
    worker = snap["workers"][0]
    assert sorted(slot_keys(worker)) == ["blocking-child", "blocking-parent"]
    assert worker["blocked"][0]["name"] == "blocking-parent"
    assert worker["seceded"] == []
    check_totals(snap)

    await release.set()
    assert await parent == 1
    await snapshot_where(c, lambda snap: snap["workers"][0]["blocked"] == [], "the blocked list to empty")


FROZEN_SCAN = """
import gc, sys, threading, time
import distributed
from jupyter_nest._wire import SLOTS_PLUGIN
from jupyter_nest.monitor import SlotsPlugin

running = True

def spin():  # calls make frames that have no frame object yet: sys._current_frames() must create them
    def depth(n):
        return depth(n - 1) if n else 0
    while running:
        depth(20)

def churn():  # a thread starting or ending takes the interpreter's thread list with the GIL held
    while running:
        thread = threading.Thread(target=int)
        thread.start()
        thread.join()

if __name__ == "__main__":
    with distributed.LocalCluster(processes=False, n_workers=1, threads_per_worker=1, dashboard_address=None) as cluster, \\
            distributed.Client(cluster) as client:
        client.register_plugin(SlotsPlugin(blocked_scan=3600))
        (worker,) = cluster.workers.values()
        plugin = worker.plugins[SLOTS_PLUGIN]
        # a collection at every allocation, whose callback lets another thread take the GIL
        gc.callbacks.append(lambda phase, info: time.sleep(0))
        gc.set_threshold(1, 10**6, 10**6)
        threads = [threading.Thread(target=target) for target in (spin, spin, churn, churn)]
        for thread in threads:
            thread.start()
        end = time.monotonic() + 5
        while time.monotonic() < end:
            plugin._scan()
        running = False
        for thread in threads:
            thread.join()
        gc.set_threshold(700, 10, 10)
        print("scanned", flush=True)
"""


def test_the_stack_scan_cannot_freeze_a_worker_whose_threads_come_and_go(tmp_path):
    # CPython 3.11's sys._current_frames() can start a garbage collection while it holds the list of threads;
    # with a thread starting or ending at that moment, the worker froze for good (a chaos run: 7 min, until
    # the scheduler gave it up). The scan runs here every millisecond beside threads that come and go.
    script = tmp_path / "scan.py"
    script.write_text(FROZEN_SCAN)
    try:
        done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=60)
    except subprocess.TimeoutExpired:
        raise AssertionError("the process froze while the slot monitor scanned its threads' stacks") from None
    assert "scanned" in done.stdout, done.stderr[-2000:]
