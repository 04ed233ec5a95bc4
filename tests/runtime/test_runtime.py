"""The task-from-task runtime on a real 2 x 1 cluster: no deadlock by omission, lineage, errors,
cancellation, futures that outlive their parent, and clear errors for misuse."""

from __future__ import annotations

import threading
import time

import pytest

import jupyter_nest
from jupyter_nest import NestError, get_client, rejoin, secede, task_tree, worker_client

pytestmark = [pytest.mark.timeout(180), pytest.mark.slow]


@pytest.fixture(scope="module")
def client():
    session = jupyter_nest.start(workers=2, threads=1, dashboard=False, replace=True)
    yield session.client
    jupyter_nest.stop()


def fib_docs_without_secede(n):
    """The docs' get_client example with secede()/rejoin() left out."""
    if n < 2:
        return n
    client = get_client()
    jobs = client.map(fib_docs_without_secede, [n - 1, n - 2])
    return sum(client.gather(jobs))


def fib_tree(n):
    """One task per call (pure=False), waiting with Future.result() and no secede()."""
    if n < 2:
        return n
    client = get_client()
    a = client.submit(fib_tree, n - 1, pure=False)
    b = client.submit(fib_tree, n - 2, pure=False)
    return a.result() + b.result()


def fib(n):
    return n if n < 2 else fib(n - 1) + fib(n - 2)


@pytest.mark.parametrize("n", range(13))
def test_forgetting_secede_does_not_deadlock_with_our_get_client(client, n):
    assert client.submit(fib_docs_without_secede, n).result(timeout=60) == fib(n)


def test_a_full_call_tree_without_secede_completes(client):
    assert client.submit(fib_tree, 10, pure=False).result(timeout=120) == 55


def call_tree_shape(n):
    """The shape of fib's call tree: each node as the sorted tuple of its children's shapes."""
    return () if n < 2 else tuple(sorted((call_tree_shape(n - 1), call_tree_shape(n - 2))))


def tree_shape(node):
    return tuple(sorted(tree_shape(c) for c in node["children"]))


def test_lineage_tree_of_fib6_matches_the_call_tree(client):
    future = client.submit(fib_tree, 6, pure=False)
    assert future.result() == 8
    tree = task_tree(future)
    assert tree.size() == 25 and tree.depth() == 6
    assert tree_shape(tree.root) == call_tree_shape(6)
    assert tree.states() == {"finished": 25}
    assert all(node["name"] == "fib_tree" for node in tree.nodes())
    assert tree.root["key"] == future.key


def test_lineage_of_plain_dask_submissions(client):
    """Lineage comes from the scheduler, so Dask's own get_client is recorded too."""
    import distributed

    def parent():
        c = distributed.get_client()
        futures = c.map(fib, range(5))
        distributed.secede()
        out = c.gather(futures)
        distributed.rejoin()
        return sum(out)

    future = client.submit(parent)
    assert future.result() == 7
    tree = task_tree(future)
    assert [c["name"] for c in tree.root["children"]] == ["fib"] * 5


def test_large_trees_are_summarised(client):
    future = client.submit(fib_tree, 8, pure=False)
    future.result()
    tree = task_tree(future, max_nodes=10)
    assert tree.size() == 67
    assert sum(1 for _ in tree.nodes()) <= 10
    assert any("hidden" in node for node in tree.nodes())
    assert "more (" in "\n".join(tree.lines())


def failing(n):
    if n == 0:
        raise ValueError("the leaf failed")
    return get_client().submit(failing, n - 1).result()


def test_error_n_levels_down_keeps_its_type_and_names_the_chain(client):
    with pytest.raises(ValueError, match="the leaf failed") as info:
        client.submit(failing, 4).result()
    (note,) = [n for n in info.value.__notes__ if n.startswith("jupyter_nest: raised")]
    lines = note.splitlines()
    assert "raised 4 task level(s) below" in lines[0]
    calls = [line.split("  [")[0].strip() for line in lines[1:]]
    assert calls == ["failing(4)", "failing(3)", "failing(2)", "failing(1)", "failing(0)"]
    assert lines[-1].endswith("<- raised here")
    # the traceback reaches the line that raised, in the leaf task
    tb = info.tb
    while tb.tb_next:
        tb = tb.tb_next
    assert tb.tb_frame.f_code.co_name == "failing"


def wide_and_deep(depth, seconds):
    """A recursion that fans out by 2 for ``depth`` levels; leaves keep busy for ``seconds``."""
    if depth == 0:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            time.sleep(0.05)
        return 1
    client = get_client()
    children = [client.submit(wide_and_deep, depth - 1, seconds, pure=False) for _ in range(2)]
    return sum(client.gather(children))


def runaway(depth):
    """Never ends: keeps spawning children, each of which keeps spawning."""
    client = get_client()
    children = []
    while True:
        children.append(client.submit(runaway, depth + 1, pure=False))
        time.sleep(0.05)


def live_tasks(client, prefix):
    def count(dask_scheduler):
        return sum(
            1 for ts in dask_scheduler.tasks.values()
            if str(ts.key).startswith(prefix) and ts.state in ("processing", "queued", "waiting", "no-worker")
        )

    return client.run_on_scheduler(count)


def wait_until(condition, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return condition()


@pytest.mark.parametrize("target, args, prefix", [
    (wide_and_deep, (6, 30), "wide_and_deep"),
    (runaway, (0,), "runaway"),
])
def test_cancelling_the_root_cancels_every_descendant(client, target, args, prefix):
    root = client.submit(target, *args, pure=False)
    assert wait_until(lambda: live_tasks(client, prefix) > 10, 30)
    root.cancel()
    t = time.monotonic()
    assert wait_until(lambda: live_tasks(client, prefix) == 0, 2), live_tasks(client, prefix)
    assert time.monotonic() - t <= 2.5
    # the runaway's threads keep submitting for a while: those are cancelled on arrival
    time.sleep(1)
    assert live_tasks(client, prefix) == 0
    assert client.submit(sum, [1, 2, 3]).result(timeout=30) == 6


def child(x):
    return x + 1


def parent_returning_futures():
    client = get_client()
    return [client.submit(child, i, pure=False) for i in range(3)]


def grandparent_returning_futures():
    client = get_client()
    return client.submit(parent_returning_futures, pure=False).result()


@pytest.mark.parametrize("maker", [parent_returning_futures, grandparent_returning_futures])
def test_futures_made_in_a_task_outlive_it(client, maker):
    for _ in range(5):
        root = client.submit(maker, pure=False)
        futures = root.result()
        del root  # the task that made them is released
        time.sleep(0.2)
        assert client.gather(futures) == [1, 2, 3]
        assert all(f.client is client for f in futures)


def test_misuse_outside_a_task_is_explained(client):
    for call in (secede, rejoin):
        with pytest.raises(NestError, match=rf"{call.__name__}\(\) only works inside a task running on a Dask worker"):
            call()
    with pytest.raises(NestError, match=r"worker_client\(\) only works inside a task"):
        with worker_client():
            pass


def rejoin_without_secede():
    rejoin()


def secede_twice():
    secede()
    secede()


def returns_a_lock():
    return threading.Lock()


def waits_on_a_lock():
    return get_client().submit(returns_a_lock).result()


def too_deep(n=0):
    return too_deep(n + 1)


def waits_on_too_deep():
    return get_client().submit(too_deep).result()


@pytest.mark.parametrize("func, error, message", [
    (rejoin_without_secede, NestError, r"rejoin\(\) without a prior secede\(\): this task still holds its slot"),
    (secede_twice, NestError, r"secede\(\): this task has already seceded"),
    (returns_a_lock, NestError, r"The task returns_a_lock-[\w-]+ returned a lock object, which cannot be pickled"),
    (waits_on_a_lock, NestError, r"The task returns_a_lock-[\w-]+ returned a lock object"),
    (too_deep, RecursionError, r"maximum recursion depth exceeded"),
    (waits_on_too_deep, RecursionError, r"maximum recursion depth exceeded"),
])
def test_misuse_inside_tasks_is_explained_and_the_cluster_stays_healthy(client, func, error, message):
    with pytest.raises(error, match=message) as info:
        client.submit(func, pure=False).result(timeout=60)
    if error is RecursionError:
        assert any("deeper than Python allows" in n for n in info.value.__notes__)
    assert client.submit(fib_tree, 5, pure=False).result(timeout=60) == 5
    assert live_tasks(client, "") == 0
