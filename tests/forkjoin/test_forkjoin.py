"""``@nest`` fork-join on real clusters: results, errors, cancellation, lineage, thread bounds,
and a randomized stress of a few hundred recursive shapes on 1 x 1, 1 x 2 and 2 x 1 clusters."""

from __future__ import annotations

import os
import random
import signal
import threading
import time

import dask
import psutil
import pytest
from support.clusters import wait_whole
from support.recursions import fib

import jupyter_nest
from jupyter_nest import nest, task_tree
from jupyter_nest.forkjoin import ledger_of
from jupyter_nest.monitor import snapshot

pytestmark = [pytest.mark.timeout(300), pytest.mark.slow]


def plain_fib(n):
    return n if n < 2 else plain_fib(n - 1) + plain_fib(n - 2)


def busy(seconds):
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        pass


class LeafFailed(Exception):
    pass


@nest
def walk(node):
    """Sum the ids of a random tree's leaves; a node marked to fail raises instead."""
    ident, work, fails, children = node
    busy(work)
    if fails:
        raise LeafFailed(f"node {ident} failed")
    if not children:
        return ident
    handles = [walk.spawn(child) for child in children]
    return sum(h.result() for h in handles)


def random_tree(rng, depth, budget):
    """A tree of at most ``budget`` nodes, fan-out 1-8, up to ``depth`` levels, skewed sizes."""
    counter = iter(range(1, 10**9))

    def build(level, room):
        ident = next(counter)
        if level == depth or room <= 1 or rng.random() < 0.25:
            return (ident, rng.uniform(0, 2e-4), False, ()), 1
        fanout = rng.randint(1, 8)
        shares = sorted(rng.random() for _ in range(fanout))  # skewed: some subtrees get most room
        children, used = [], 1
        for share in shares:
            child, size = build(level + 1, max(1, int((room - used) * share)))
            children.append(child)
            used += size
        return (ident, 0.0, False, tuple(children)), used

    return build(0, budget)[0]


def expected(node):
    """The result of ``walk(node)``, or the exception it must raise (the first failure in join order)."""
    ident, _, fails, children = node
    if fails:
        return LeafFailed(f"node {ident} failed")
    if not children:
        return ident
    total = 0
    for child in children:
        value = expected(child)
        if isinstance(value, Exception):
            return value
        total += value
    return total


def mark_failure(rng, node):
    """Make one random node fail."""
    ident, work, fails, children = node
    if not children or rng.random() < 0.3:
        return (ident, work, True, children)
    i = rng.randrange(len(children))
    return (ident, work, fails, (*children[:i], mark_failure(rng, children[i]), *children[i + 1:]))


def walk_and_check(tree):
    """Walk ``tree`` on the cluster: it must give the right sum, or raise the right failure."""
    want = expected(tree)
    future = walk.spawn(tree)
    if isinstance(want, Exception):
        with pytest.raises(LeafFailed, match=str(want)):
            future.result(timeout=60)
    else:
        assert future.result(timeout=60) == want


class ThreadSampler:
    """Samples the OS thread count of the worker processes while the ``with`` block runs."""

    def __init__(self, client):
        self.pids = list(client.run(os.getpid).values())
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self._stop.wait(0.005):
            for pid in self.pids:
                self.peak = max(self.peak, psutil.Process(pid).num_threads())

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()


@pytest.fixture(scope="module", params=[(1, 1), (1, 2), (2, 1)], ids=lambda s: f"{s[0]}x{s[1]}")
def module_cluster(request):
    workers, threads = request.param
    session = jupyter_nest.start(workers=workers, threads=threads, dashboard=False, replace=True)
    yield session.client, workers, threads
    jupyter_nest.stop()


def unseceding(workers, threads):
    """No thread may secede: every task blocked on a stolen child must borrow from the thief."""
    # workers get the kernel's config when they start, and again when a nanny restarts one
    with dask.config.set({"jupyter-nest.forkjoin.max-seceded": 0}):
        return jupyter_nest.start(workers=workers, threads=threads, dashboard=False, replace=True)


@pytest.fixture(scope="module", params=[(2, 1), (1, 2)], ids=lambda s: f"{s[0]}x{s[1]}")
def module_unseceding_cluster(request):
    workers, threads = request.param
    yield unseceding(workers, threads).client, workers, threads
    jupyter_nest.stop()


# A shared cluster is handed to each test whole (every worker there, nothing left running by the test
# before), or the test fails naming what was left; a test that kills workers gets a cluster of its own.
@pytest.fixture
def cluster(module_cluster):
    client, workers, threads = module_cluster
    wait_whole(client, workers)
    return client, threads


@pytest.fixture
def unseceding_cluster(module_unseceding_cluster):
    client, workers, threads = module_unseceding_cluster
    wait_whole(client, workers)
    return client, threads


def test_plain_call_needs_no_cluster():
    assert jupyter_nest.current() is None
    assert fib(15) == 610
    with pytest.raises(jupyter_nest.NoClusterError, match=r"fib\.spawn\(\.\.\.\) outside a task needs a cluster"):
        fib.spawn(15)


def test_spawn_from_the_notebook_runs_on_the_cluster(cluster):
    future = fib.spawn(18)
    assert future.result() == plain_fib(18)
    assert future.key.startswith("fib-")
    assert nest.gather(fib.map(range(10))) == [plain_fib(i) for i in range(10)]


def test_fan_out_over_a_list_of_unknown_length(cluster):
    @nest
    def split_and_process(text):
        words = text.split()  # the length is only known here
        return sum(h.result() for h in nest.map(len, words))

    text = " ".join("x" * (i % 7 + 1) for i in range(500))
    assert split_and_process.spawn(text).result() == sum(len(w) for w in text.split())


def test_randomized_shapes_finish_right_within_the_thread_bound(cluster):
    client, threads = cluster
    rng = random.Random(1234 + threads)
    with ThreadSampler(client) as sampler:
        for _ in range(100):
            tree = random_tree(rng, depth=rng.randint(1, 14), budget=rng.randint(1, 400))
            walk_and_check(mark_failure(rng, tree) if rng.random() < 0.15 else tree)
    assert sampler.peak <= threads + 4, sampler.peak


def permits_outlive_os_threads(dask_worker, tries=300):
    """Seceding permits granted while the OS still listed the thread that held the last one."""
    ledger = ledger_of(dask_worker)
    saved, ledger.seceded = ledger.seceded, []
    early = 0
    try:
        for _ in range(tries):
            holder = threading.Thread(target=ledger.try_secede)
            holder.start()
            while holder.is_alive():
                pass
            if ledger.try_secede():
                # TIDs are not reused this soon: listed now means listed at the grant
                early += os.path.exists(f"/proc/self/task/{holder.native_id}")
            ledger.seceded = []
    finally:
        ledger.seceded = saved
    return early


def test_a_seceding_permit_comes_free_only_when_its_os_thread_is_gone(cluster):
    # is_alive() turns False while CPython still tears the thread down: a permit freed then let
    # a second thread secede while the first was still an OS thread, one thread over the bound.
    client, _ = cluster
    assert set(client.run(permits_outlive_os_threads).values()) == {0}


def lent_so_far(client):
    return sum(client.run(lambda dask_worker: ledger_of(dask_worker).lent).values())


def test_tasks_that_cannot_secede_borrow_the_thiefs_children(unseceding_cluster):
    client, threads = unseceding_cluster
    rng = random.Random(99 + threads)
    with ThreadSampler(client) as sampler:
        for i in range(60):
            tree = random_tree(rng, depth=rng.randint(4, 14), budget=rng.randint(100, 400))
            walk_and_check(mark_failure(rng, tree) if i % 4 == 3 else tree)
        before = lent_so_far(client)
        assert lopsided.spawn(binary, 9).result(timeout=60) == 512
        assert lent_so_far(client) > before
    # Dask's own three threads and the slots: nobody seceded
    assert sampler.peak <= threads + 3, sampler.peak


def wait_for_lending(client, before):
    deadline = time.monotonic() + 20
    while lent_so_far(client) == before and time.monotonic() < deadline:
        time.sleep(0.02)
    assert lent_so_far(client) > before


@pytest.fixture
def own_unseceding_cluster():
    yield unseceding(2, 1).client
    jupyter_nest.stop()


@pytest.mark.parametrize("victim", ["thief", "borrower"])
def test_a_worker_dying_mid_borrow_loses_no_result(own_unseceding_cluster, victim):
    client = own_unseceding_cluster
    root = lopsided.spawn(binary, 13)
    wait_for_lending(client, lent_so_far(client))
    where = client.run_on_scheduler(lambda dask_scheduler: {
        str(key): ts.processing_on.address for key, ts in dask_scheduler.tasks.items() if ts.processing_on})
    borrower = where[root.key]
    thief = next((a for k, a in where.items() if k.startswith("binary-") and a != borrower), borrower)
    address = thief if victim == "thief" else borrower
    os.kill(client.run(os.getpid, workers=[address])[address], signal.SIGKILL)
    assert root.result(timeout=60) == 8192


def test_a_join_waiting_in_its_slot_is_not_reported_as_blocked(unseceding_cluster):
    client, _ = unseceding_cluster
    root = lopsided.spawn(nest(busy), 4.0)  # the thief runs one long leaf: nothing to borrow
    time.sleep(2.5)  # the root has waited in its slot for a few of the monitor's stack scans
    workers = snapshot(client)["workers"]
    assert any(s and s["key"] == root.key for w in workers for s in w["slots"])
    assert not any(w["blocked"] for w in workers), workers
    root.result(timeout=30)


@nest
def fail_at_end(depth):
    """A binary tree of 1 ms leaves whose last leaf, joined last, raises."""
    if depth == 0:
        raise LeafFailed("the last leaf")
    first, last = binary.spawn(depth - 1), fail_at_end.spawn(depth - 1)
    return first.result() + last.result()


def test_errors_of_borrowed_children_keep_their_type_and_chain(unseceding_cluster):
    client, _ = unseceding_cluster
    before = lent_so_far(client)
    with pytest.raises(LeafFailed, match="the last leaf") as info:
        lopsided.spawn(fail_at_end, 9).result(timeout=60)
    assert lent_so_far(client) > before
    (note,) = [n for n in info.value.__notes__ if "spawn level(s) down" in n]
    assert "lopsided(<nest fail_at_end>, 9) -> fail_at_end(9) -> fail_at_end(8) -> " in note
    assert note.endswith("fail_at_end(1) -> fail_at_end(0)")


def test_cancelling_stops_tasks_that_run_borrowed_children(unseceding_cluster):
    client, _ = unseceding_cluster
    root = lopsided.spawn(forever, 1)
    wait_for_lending(client, lent_so_far(client))
    root.cancel()
    assert_recursion_stopped(client, "forever")


@nest
def binary(depth):
    """A balanced binary tree of 2**depth leaves of 1 ms."""
    if depth == 0:
        busy(0.001)
        return 1
    return sum(h.result() for h in [binary.spawn(depth - 1) for _ in range(2)])


@nest
def lopsided(fn, arg):
    """Have the other slot steal ``fn(arg)``, then wait for it: all the work is in the stolen child."""
    big = fn.spawn(arg)
    busy(0.3)  # the idle slot asks for work meanwhile
    nest(busy).spawn(0.3).result()  # this spawn offers ``big``, the oldest pending child; the thief claims it
    return big.result()


@nest
def deep_failure(n):
    if n == 0:
        raise KeyError("no record at the bottom")
    return deep_failure.spawn(n - 1).result()


def test_errors_keep_their_type_and_name_the_spawn_chain(cluster):
    with pytest.raises(KeyError, match="no record at the bottom") as info:
        deep_failure.spawn(5).result()
    (note,) = [n for n in info.value.__notes__ if "spawn level(s) down" in n]
    assert "deep_failure(5) -> deep_failure(4) -> deep_failure(3) -> deep_failure(2) -> deep_failure(1) -> deep_failure(0)" in note
    assert fib.spawn(10).result() == 55


@nest
def forever(depth):
    """A recursion that would run for minutes: 4,096 leaves of 50 ms."""
    if depth == 12:
        busy(0.05)
        return 1
    children = [forever.spawn(depth + 1) for _ in range(2)]
    return sum(c.result() for c in children)


def running_tasks(client, prefix):
    return client.run_on_scheduler(lambda dask_scheduler: sum(
        1 for ts in dask_scheduler.tasks.values()
        if str(ts.key).startswith(prefix) and ts.state in ("processing", "queued", "waiting", "no-worker")))


def assert_recursion_stopped(client, prefix):
    """Within 2 s the scheduler holds no live ``prefix`` task; within 5 s more no slot runs anything.

    The threads stop at their next spawn, so the slots free up shortly after the tasks are gone.
    """
    deadline = time.monotonic() + 2
    while running_tasks(client, prefix) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert running_tasks(client, prefix) == 0
    deadline = time.monotonic() + 5
    while snapshot(client)["totals"]["running"] and time.monotonic() < deadline:
        time.sleep(0.05)
    snap = snapshot(client)
    assert snap["totals"]["running"] == 0, snap["workers"]


def test_cancelling_a_root_stops_the_whole_recursion(cluster):
    client, _ = cluster
    root = forever.spawn(0)
    time.sleep(1.5)
    root.cancel()
    assert_recursion_stopped(client, "forever")
    assert client.submit(sum, [1, 2], pure=False).result(timeout=10) == 3


def test_offered_children_show_in_the_lineage_and_inline_work_is_counted(cluster):
    client, threads = cluster

    @nest
    def tree(depth):
        if depth == 0:
            busy(0.02)
            return 1
        return sum(h.result() for h in [tree.spawn(depth - 1) for _ in range(2)])

    future = tree.spawn(7)
    inline = 0
    while not future.done():
        for w in snapshot(client)["workers"]:
            inline = max([inline] + [s.get("inline", 0) for s in w["slots"] if s])
        time.sleep(0.05)
    assert future.result() == 128
    assert inline > 0
    lineage = task_tree(future)
    if len(client.scheduler_info()["workers"]) * threads > 1:
        # another slot was idle, so children were offered to it as Dask tasks
        assert lineage.size() > 1
        assert lineage.states()["finished"] >= 2
