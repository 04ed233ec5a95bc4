"""LineagePlugin (scheduler) and RuntimePlugin (worker) on an in-process cluster: trees, error chains,
cancellation of orphans, and which keys count as children.

Fast tier: ``gen_cluster`` runs the scheduler and workers in this process; tasks hold on
``distributed.Event``s instead of sleeping.
"""

from __future__ import annotations

# jupyter_nest.config before distributed.utils_test: gen_cluster resets dask.config to what it was when
# utils_test was imported, and that must include jupyter_nest's settings (importing jupyter_nest alone
# imports no Dask and registers none).
import jupyter_nest.config

# isort: split
import asyncio

import dask
import distributed
import pytest
from distributed import Event, Queue, Variable
from distributed.utils_test import gen_cluster
from support.polling import until
from support.wire import plain

from jupyter_nest import _wire
from jupyter_nest.runtime import LineagePlugin, NestClient, RuntimePlugin, _api

pytestmark = pytest.mark.timeout(60)

TWO_WORKERS = [("127.0.0.1", 1), ("127.0.0.1", 1)]


async def handler(c, name, **kwargs):
    return plain(await getattr(c.scheduler, name)(**kwargs))


async def install(c):
    await c.register_plugin(LineagePlugin())
    await c.register_plugin(RuntimePlugin())


async def tree(c, key):
    return await handler(c, _wire.TREE_HANDLER, key=key)


def child_keys(node):
    return [n["key"] for n in node["children"]]


async def no_task_runs(*workers):
    """Wait until no worker runs a task (cancelled tasks keep their threads until they return)."""
    await until(
        lambda: all(not w.state.executing and not w.state.long_running for w in workers),
        what="the workers' task threads to finish",
    )


# --- task functions (run on the in-process workers) ------------------------------------


def inc(x):
    return x + 1


def middle(base):
    """Two grandchildren, through jupyter_nest's worker client."""
    client = jupyter_nest.get_client()
    futures = [client.submit(inc, base + i, key=f"grandchild-{base}-{i}") for i in range(2)]
    return sum(client.gather(futures))


def root_with_children():
    client = jupyter_nest.get_client()
    leaves = [client.submit(inc, i, key=f"leaf-{i}") for i in range(3)]
    mid = client.submit(middle, 10, key="middle-10")
    return sum(client.gather(leaves)) + mid.result()


def fan(tag):
    client = jupyter_nest.get_client()
    return sum(client.gather([client.submit(inc, i, key=f"{tag}-leaf-{i}") for i in range(3)]))


def descend(level):
    """Each level submits the next; the bottom one raises."""
    if level == 0:
        raise ValueError("bottom of the recursion")
    return jupyter_nest.get_client().submit(descend, level - 1, key=f"descend-{level - 1}").result()


def held(started, release):
    Event(started).set()
    Event(release).wait()
    return "released"


def waits_on_held(started, release):
    child = jupyter_nest.get_client().submit(held, started, release, key="held-grandchild")
    return child.result()


# Futures kept alive after their task ended, so only the lineage plugin's cancel can end their tasks
# (the workers run in this process, so the test sees this list too).
KEPT = []


def fails_after_spawning(started, release, fail):
    KEPT.append(jupyter_nest.get_client().submit(waits_on_held, started, release, key="waiting-child"))
    Event(fail).wait()
    raise RuntimeError("the parent fails while its descendants still run")


# --- tests ------------------------------------------------------------------------------


@gen_cluster(client=True, nthreads=TWO_WORKERS)
async def test_tree_lists_exact_children_and_grandchildren(c, s, a, b):
    await install(c)
    root = c.submit(root_with_children, key="root-with-children")
    assert await root == (1 + 2 + 3) + (11 + 12)

    node = await tree(c, root.key)
    assert node["key"] == "root-with-children"
    assert node["state"] == "finished"
    assert sorted(child_keys(node)) == ["leaf-0", "leaf-1", "leaf-2", "middle-10"]
    by_key = {n["key"]: n for n in node["children"]}
    assert [by_key[f"leaf-{i}"]["children"] for i in range(3)] == [[], [], []]
    assert {n["name"] for n in node["children"]} == {"leaf", "middle"}
    assert sorted(child_keys(by_key["middle-10"])) == ["grandchild-10-0", "grandchild-10-1"]
    assert "hidden" not in node

    # The root submitted from the notebook is the latest tree root.
    latest = await handler(c, _wire.LATEST_TREE_HANDLER)
    assert latest["key"] == "root-with-children"

    # A task nobody spawned from has no children.
    assert (await tree(c, "leaf-0"))["children"] == []


@gen_cluster(client=True, nthreads=TWO_WORKERS)
async def test_error_chain_names_the_failing_recursion_root_first(c, s, a, b):
    await install(c)
    root = c.submit(descend, 2, key="descend-2")
    with pytest.raises(ValueError, match="bottom of the recursion"):
        await root

    chain = await handler(c, _wire.ERROR_CHAIN_HANDLER, key="descend-2")
    assert [link["key"] for link in chain] == ["descend-2", "descend-1", "descend-0"]
    assert [link["call"] for link in chain] == ["descend(2)", "descend(1)", "descend(0)"]
    assert set(chain[0]) == set(_wire.ErrorLink.__annotations__)

    # From the middle, the chain starts there.
    middle_chain = await handler(c, _wire.ERROR_CHAIN_HANDLER, key="descend-1")
    assert [link["key"] for link in middle_chain] == ["descend-1", "descend-0"]


@gen_cluster(client=True, nthreads=TWO_WORKERS)
async def test_parent_that_errs_gets_its_running_descendants_cancelled(c, s, a, b):
    await install(c)
    started, release, fail = (Event(name, client=c) for name in ("gc-started", "gc-release", "parent-fail"))
    root = c.submit(fails_after_spawning, started.name, release.name, fail.name, key="failing-parent")
    assert await started.wait(timeout=10)

    # The worker's client still holds the child (KEPT) and the grandchild (the child waits on it):
    # Dask alone would let them run; only the lineage plugin's cancel ends them.
    child = KEPT.pop()
    assert s.tasks["held-grandchild"].state == "processing"
    assert child.status == "pending"

    await fail.set()
    with pytest.raises(RuntimeError, match="parent fails"):
        await root
    await until(
        lambda: child.status == "cancelled" and "held-grandchild" not in s.tasks,
        what="the child and grandchild of the failed parent to be cancelled",
    )
    node = await tree(c, "failing-parent")
    assert node["state"] == "erred"
    assert child_keys(node) == ["waiting-child"]
    assert child_keys(node["children"][0]) == ["held-grandchild"]

    await release.set()
    await no_task_runs(a, b)


@gen_cluster(client=True, nthreads=TWO_WORKERS)
async def test_runtime_plugin_makes_the_worker_client_forget_workers_the_scheduler_removed(c, s, a, b):
    # What that does: tests/_dask/test_dask_internals.py::test_a_worker_client_stops_reaching_a_worker...
    await install(c)
    assert all(getattr(w.stream_handlers["remove-worker"], "forgets_in_client", False) for w in (a, b))


@gen_cluster(client=True, nthreads=TWO_WORKERS)
async def test_runtime_plugin_closes_the_worker_client_with_the_worker(c, s, a, b):
    await install(c)

    assert await c.submit(root_with_children, key="uses-worker-clients") == 29
    clients = [cl for w, cl in list(_api._worker_clients.items()) if w in (a, b)]
    assert clients, "tasks that called jupyter_nest.get_client() made no worker client"
    assert all(cl.status == "running" for cl in clients)

    await a.close()
    await b.close()
    assert all(cl.status == "closed" for cl in clients)
    assert not any(w in _api._worker_clients for w in (a, b))
    assert all(isinstance(cl, NestClient) for cl in clients)


def resubmits_then_fails(release):
    client = jupyter_nest.get_client()
    again = client.submit(held, "resubmitter-started", release, key="notebook-held")
    client.submit(inc, 0, pure=False).result()  # the same stream: the resubmission has arrived by now
    del again
    raise RuntimeError("the resubmitting task fails")


def uses_and_resubmits(shared_key):
    client = jupyter_nest.get_client()
    own = client.submit(inc, 100, key="own-child")
    shared = client.submit(inc, 1, key=shared_key)  # a key the notebook holds already
    return own.result() + shared.result()


def passes_on(value):
    return jupyter_nest.get_client().submit(inc, value, key="uses-notebook-value").result()


@gen_cluster(client=True, nthreads=TWO_WORKERS)
async def test_keys_another_client_holds_are_not_the_tasks_children(c, s, a, b):
    await install(c)
    shared = c.submit(inc, 1, key="shared-inc")
    assert await shared == 2
    root = c.submit(uses_and_resubmits, "shared-inc", key="resubmitter")
    assert await root == 101 + 2
    assert child_keys(await tree(c, root.key)) == ["own-child"]

    # a notebook future passed to a task: the task's submission depends on it, but does not own it
    root = c.submit(passes_on, shared, key="passes-on")
    assert await root == 3
    assert child_keys(await tree(c, root.key)) == ["uses-notebook-value"]


@gen_cluster(client=True, nthreads=[("127.0.0.1", 3)])
async def test_a_failing_task_never_cancels_a_future_the_notebook_holds(c, s, a):
    await install(c)
    started, release = Event("started", client=c), Event("release", client=c)
    mine = c.submit(held, started.name, release.name, key="notebook-held")
    assert await started.wait(timeout=30)
    with pytest.raises(RuntimeError, match="resubmitting task fails"):
        await c.submit(resubmits_then_fails, release.name, key="bad")
    assert mine.status == "pending"  # before: cancelled, "its parent task 'bad' ended without a result"
    await release.set()
    assert await mine == "released"


HANDED_OFF = ("published", "variable", "queue", "forgotten")


def held_then_says_so(started, release):
    held(started, release)
    Event(f"{started}-finished").set()
    return "released"


def hands_off_then_fails(release):
    """Children handed to others (Dask's pseudo-clients hold them) and one only this task holds; then it fails."""
    client = jupyter_nest.get_client()
    handed = {how: client.submit(held_then_says_so, how, release, key=f"handed-{how}") for how in HANDED_OFF}
    client.submit(held, "own", release, key="own-child")
    client.publish_dataset(handed["published"], name="kept-dataset")
    Variable("kept-variable", client=client).set(handed["variable"])
    Queue("kept-queue", client=client).put(handed["queue"])
    distributed.fire_and_forget(handed["forgotten"])
    for name in (*HANDED_OFF, "own"):
        assert Event(name).wait(timeout=30)
    raise RuntimeError("the parent fails after handing its children off")


@gen_cluster(client=True, nthreads=[("127.0.0.1", 6)])
async def test_a_failing_task_never_cancels_what_it_published_stored_or_fired_and_forgot(c, s, a):
    await install(c)
    release = Event("handoff-release", client=c)
    with pytest.raises(RuntimeError, match="handing its children off"):
        await c.submit(hands_off_then_fails, release.name, key="hands-off")
    await until(lambda: "own-child" not in s.tasks or s.tasks["own-child"].state != "processing",
                what="the child only the failed task held to be cancelled")
    assert all(s.tasks[f"handed-{how}"].state == "processing" for how in HANDED_OFF)

    await release.set()
    assert await (await c.get_dataset("kept-dataset")) == "released"
    assert await (await Variable("kept-variable", client=c).get()) == "released"
    assert await (await Queue("kept-queue", client=c).get()) == "released"
    assert await Event("forgotten-finished", client=c).wait(timeout=30)
    await no_task_runs(a)


def shares_a_child(started, release, fail):
    """Submit the child ``shared-child`` (a pure key two tasks compute alike); fail first if ``fail`` is set."""
    child = jupyter_nest.get_client().submit(held, started, release, key="shared-child")
    if fail is not None:
        Event(fail).wait()
        raise RuntimeError("one of the two parents fails")
    return child.result()


@gen_cluster(client=True, nthreads=[("127.0.0.1", 4)])
async def test_a_child_two_tasks_share_lives_while_either_needs_it(c, s, a):
    await install(c)
    started, release, fail = (Event(name, client=c) for name in ("shared-started", "shared-release", "sharer-fail"))
    failing = c.submit(shares_a_child, started.name, release.name, fail.name, key="failing-sharer")
    assert await started.wait(timeout=30)
    waiting = c.submit(shares_a_child, started.name, release.name, None, key="waiting-sharer")
    # Both tasks run on the one worker, so both submit through its one client: who holds the key cannot tell
    # the trees apart; only the lineage can.
    await until(lambda: _children_of(c, "waiting-sharer"), timeout=10,
                what="the shared child listed under its second parent")

    await fail.set()
    with pytest.raises(RuntimeError, match="one of the two parents fails"):
        await failing
    assert s.tasks["shared-child"].state == "processing"  # before: cancelled with the failed parent
    await release.set()
    assert await waiting == "released"


async def _children_of(c, key):
    return child_keys(await tree(c, key)) == ["shared-child"]



WAIT_ENDED = []


def waits_on_a_held_child(started, release, key):
    child = jupyter_nest.get_client().submit(held, started, release, key=key)
    try:
        child.result()
    except BaseException as error:
        WAIT_ENDED.append(error)
        raise


@gen_cluster(client=True, nthreads=[("127.0.0.1", 2)])
async def test_a_wait_whose_coroutine_is_cancelled_ends_with_a_cancellation(c, s, a):
    """Dask's ``sync`` catches ``Exception`` only: when something cancels the coroutine a wait runs on (its
    event loop shutting down, its client closing), the waiting thread gets ``UnboundLocalError: cannot access
    local variable 'result'`` (seen on a loaded CI). Which of Dask's paths does it cannot be timed for real in
    a test, so the test cancels the coroutine itself."""
    await install(c)
    started, release = Event("cut-started", client=c), Event("cut-release", client=c)
    waiter = c.submit(waits_on_a_held_child, started.name, release.name, "cut-child", key="cut-waiter")
    assert await started.wait(timeout=10)
    waits = await until(lambda: [t for t in asyncio.all_tasks() if "_result" in repr(t.get_coro())], timeout=10,
                        what="the task's wait on the event loop")
    waits[0].cancel()
    await until(lambda: WAIT_ENDED, timeout=10, what="the task's wait to end")
    # before: UnboundLocalError "cannot access local variable 'result' where it is not associated with a value"
    assert isinstance(WAIT_ENDED[0], distributed.client.FutureCancelledError), repr(WAIT_ENDED[0])
    assert "cut-child" in str(WAIT_ENDED[0]) and "wait was cancelled" in str(WAIT_ENDED[0])
    await release.set()
    with pytest.raises(distributed.client.FutureCancelledError):
        await waiter


@gen_cluster(client=True, nthreads=TWO_WORKERS)
async def test_a_key_the_scheduler_has_not_seen_yet_is_pending_not_forgotten(c, s, a, b):
    # The widget asks for the tree of a future the moment it is submitted, before it arrives.
    await install(c)
    assert (await tree(c, "not-arrived-yet"))["state"] == "pending"
    forgotten = c.submit(abs, -1, key="gone")
    assert await forgotten == 1
    del forgotten
    await until(lambda: "gone" not in s.tasks, what="the released task to be forgotten")
    assert (await tree(c, "gone"))["state"] == "finished"  # forgotten by Dask: how it ended


NEVER = {"no-such-resource": 1}  # tasks that wait and never run, taking no slot


def drops_a_child():
    client = distributed.get_client()
    child = client.submit(abs, 1, key="dropped-child", resources=NEVER)
    del child  # released before it could run: the parent no longer wants it
    return "done"


@gen_cluster(client=True, nthreads=[("127.0.0.1", 1)])
async def test_only_a_cancel_shows_as_cancelled(c, s, a):
    # Before, every task forgotten unfinished was [cancelled]: the children @nest offered and then
    # ran in their parent's thread filled the tree of a run that succeeded with [cancelled].
    await install(c)
    with dask.annotate(**{_wire.PARENT_ANNOTATION: "nest-root"}):
        offered = c.submit(abs, 1, key="taken-back", resources=NEVER)  # as @nest offers a child
        cancelled = c.submit(abs, 1, key="cancelled-child", resources=NEVER)
    del offered  # @nest took it back: its parent runs it
    await c.cancel(cancelled)
    parent = c.submit(drops_a_child, key="drops-a-child")
    assert await parent == "done"
    lineage = s.plugins[_wire.LINEAGE_PLUGIN]
    await until(lambda: {"taken-back", "cancelled-child", "dropped-child"} <= set(lineage.final),
                what="the three unfinished tasks to be forgotten")
    states = {n["key"]: n["state"] for n in (await tree(c, "nest-root"))["children"]}
    assert states == {"taken-back": "inline", "cancelled-child": "cancelled"}
    assert [(n["key"], n["state"]) for n in (await tree(c, "drops-a-child"))["children"]] == [
        ("dropped-child", "released")]


@gen_cluster(client=True, nthreads=TWO_WORKERS)
async def test_only_the_newest_finished_trees_are_remembered(c, s, a, b):
    await c.register_plugin(LineagePlugin(max_trees=2))
    await c.register_plugin(RuntimePlugin())
    plugin = s.plugins[_wire.LINEAGE_PLUGIN]
    for tag in ("t0", "t1", "t2", "t3"):
        assert await c.submit(fan, tag, key=f"fan-{tag}") == 6
        await until(lambda tag=tag: f"fan-{tag}" not in s.tasks, what="the finished root to be forgotten")

    remembered = set(plugin.final) | set(plugin.parent) | set(plugin.children)
    assert not {k for k in remembered if k.startswith(("fan-t0", "fan-t1", "t0-", "t1-"))}
    for tag in ("t2", "t3"):
        node = await tree(c, f"fan-{tag}")
        assert node["state"] == "finished"
        assert sorted(child_keys(node)) == [f"{tag}-leaf-{i}" for i in range(3)]
    assert list(plugin.roots) == ["fan-t2", "fan-t3"]


def fan_keeping_one(tag):
    """Three children; the first stays held (by this worker's client) after the parent returns."""
    client = jupyter_nest.get_client()
    futures = [client.submit(inc, i, key=f"{tag}-leaf-{i}") for i in range(3)]
    KEPT.append(futures[0])
    return sum(client.gather(futures))


@gen_cluster(client=True, nthreads=TWO_WORKERS)
async def test_a_task_that_outlives_its_forgotten_tree_takes_its_lineage_with_it(c, s, a, b):
    # Before, its lineage stayed until max_tasks (200,000) others had ended: a soak's kernel grew for hours.
    await c.register_plugin(LineagePlugin(max_trees=1))
    await c.register_plugin(RuntimePlugin())
    plugin = s.plugins[_wire.LINEAGE_PLUGIN]
    for tag in ("k0", "k1"):
        assert await c.submit(fan_keeping_one, tag, key=f"fan-{tag}") == 6
        await until(lambda tag=tag: f"fan-{tag}" not in s.tasks, what="the finished root to be forgotten")
    assert "k0-leaf-0" in s.tasks and "k0-leaf-0" in plugin.parent  # its tree is gone, it lives on
    KEPT.clear()
    await until(lambda: "k0-leaf-0" not in s.tasks and "k1-leaf-0" not in s.tasks,
                what="the kept children to be forgotten")
    remembered = set(plugin.final) | set(plugin.parent) | set(plugin.children)
    assert not {k for k in remembered if str(k).startswith(("fan-k0", "k0-"))}
    node = await tree(c, "fan-k1")  # the newest tree keeps every child, the late one included
    assert sorted(child_keys(node)) == [f"k1-leaf-{i}" for i in range(3)]
    assert {n["state"] for n in node["children"]} == {"finished"}


def asks_for_the_shared_child():
    return jupyter_nest.get_client().submit(middle, 0, key="shared-child").result()


@gen_cluster(client=True, nthreads=TWO_WORKERS)
async def test_a_child_every_tree_asks_for_is_forgotten_with_the_trees(c, s, a, b):
    # A pure key (Dask's default: fib(8) in every run of fib(10)) is asked for by the root of every tree.
    # Before, it kept the root of every tree that ever asked for it, and its own descendants, for 200,000
    # tasks: a kernel running recursions grew by a few hundred bytes a run, without end.
    await c.register_plugin(LineagePlugin(max_trees=2))
    await c.register_plugin(RuntimePlugin())
    plugin = s.plugins[_wire.LINEAGE_PLUGIN]
    for i in range(6):
        assert await c.submit(asks_for_the_shared_child, key=f"asks-{i}") == 3
        await until(lambda i=i: f"asks-{i}" not in s.tasks and "shared-child" not in s.tasks,
                    what="the finished tree to be forgotten")
    remembered = (set(plugin.final) | set(plugin.parent) | set(plugin.children) | set(plugin.parent.values())
                  | {p for parents in plugin.more_parents.values() for p in parents})
    assert {k for k in remembered if k.startswith("asks-")} == {"asks-4", "asks-5"}
    for root in ("asks-4", "asks-5"):  # the newest trees still show it, and what it asked for
        [child] = (await tree(c, root))["children"]
        assert child["key"] == "shared-child"
        assert sorted(child_keys(child)) == ["grandchild-0-0", "grandchild-0-1"]
    assert len(plugin.final) <= 2 * 4


@gen_cluster(client=True, nthreads=[("127.0.0.1", 1)])
async def test_tasks_with_no_lineage_are_remembered_as_trees_of_one(c, s, a):
    # Before, every forgotten task was kept until max_tasks others had ended, though no tree names it.
    await c.register_plugin(LineagePlugin(max_trees=2))
    plugin = s.plugins[_wire.LINEAGE_PLUGIN]
    for i in range(5):
        assert await c.submit(inc, i, key=f"alone-{i}") == i + 1
        await until(lambda i=i: f"alone-{i}" not in s.tasks, what="the released task to be forgotten")
    assert [(await tree(c, f"alone-{i}"))["state"] for i in range(5)] == ["pending"] * 3 + ["finished"] * 2
    assert not plugin.final and not plugin.parent and not plugin.children
