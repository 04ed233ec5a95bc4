"""Bringing your own Dask: the default client, ``attach(client)``, ``attach(cluster)``, workers without
jupyter_nest, and an adaptive cluster, each on a ``LocalCluster`` the test made the ordinary Dask way."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from distributed import Client, LocalCluster, default_client
from support.processes import stop, worker_without_jupyter_nest
from support.recursions import fib, recurse_with_secede

import jupyter_nest
from jupyter_nest import NestError, nest, task_tree
from jupyter_nest._wire import RUNTIME_PLUGIN
from jupyter_nest.cluster import _registry as registry
from jupyter_nest.monitor import snapshot

pytestmark = [pytest.mark.timeout(120), pytest.mark.slow]


@nest
def slow_sum(depth):
    """A tree of 2**depth leaves of 50 ms each: long enough for an adaptive cluster to grow."""
    if depth == 0:
        time.sleep(0.05)
        return 1
    a, b = slow_sum.spawn(depth - 1), slow_sum.spawn(depth - 1)
    return a.result() + b.result()


def wait_for(condition, what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(0.1)


def entry_file(kernel) -> Path:
    connection = Path(kernel.manager.connection_file)
    return registry.directory(connection.parent) / f"{registry.kernel_id(connection)}.json"


def nest_error(reply) -> str:
    assert reply.status == "error" and reply.error["ename"] == "NestError", reply.error
    return reply.error["evalue"]


def worker_plugins(dask_worker):
    return sorted(dask_worker.plugins)


@pytest.fixture(autouse=True)
def detach_after():
    yield
    jupyter_nest.stop()


@pytest.fixture
def user_cluster():
    """What a user makes the ordinary Dask way; the test checks it still runs after jupyter_nest lets go."""
    with LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=":0") as cluster, Client(cluster) as client:
        yield cluster, client
        jupyter_nest.stop()


def assert_still_running(cluster, client):
    assert cluster.status.name == "running" and client.status == "running"
    assert client.submit(sum, [1, 2, 3]).result() == 6


def test_the_default_client_is_adopted_on_first_use(user_cluster):
    cluster, client = user_cluster
    assert jupyter_nest.current() is None
    future = fib.spawn(12)
    assert future.result() == 144
    session = jupyter_nest.current()
    assert session is not None and session.adopted and session.address == cluster.scheduler_address
    assert default_client() is client, "the user's client stays the default"
    assert task_tree(future).root["state"] == "finished"
    assert snapshot(session.client)["totals"]["workers"] == 2
    assert "your LocalCluster (attached), 2 workers x 1 thread" in session.summary().text()
    with pytest.raises(NestError, match=r"yours \(attached\).*never restarts"):
        session.restart()

    message = jupyter_nest.stop()
    assert message.startswith(f"Detached from your LocalCluster at {cluster.scheduler_address}; it and your client "
                               "keep running")
    assert_still_running(cluster, client)
    # Detached means detached: the next spawn does not take the same client back behind the user's back.
    with pytest.raises(NestError, match="needs a cluster"):
        fib.spawn(3)


def test_the_slot_view_adopts_the_default_client(user_cluster):
    view = jupyter_nest.widget(interval=0.1)
    try:
        assert jupyter_nest.current().adopted
        assert fib.spawn(8).result() == 21
        wait_for(lambda: view.updates >= 2, "the view never updated")
        assert view.refresh() and view.running
    finally:
        view.close()


def test_attach_a_client(user_cluster):
    cluster, client = user_cluster
    session = jupyter_nest.attach(client)
    assert session.adopted and session.client is not client
    assert session.client.submit(recurse_with_secede, 8, pure=False).result() == 21
    assert fib.spawn(10).result() == 55
    assert jupyter_nest.attach(client) is session, "attaching the same cluster again keeps the session"
    assert RUNTIME_PLUGIN in client.run(worker_plugins)[next(iter(client.scheduler_info()["workers"]))]
    jupyter_nest.stop()
    assert_still_running(cluster, client)


def test_attach_a_cluster_scales_it_and_start_replaces_the_attachment(user_cluster):
    cluster, client = user_cluster
    session = jupyter_nest.attach(cluster)
    assert session.cluster is cluster
    assert session.scale(1).workers == 1
    assert fib.spawn(8).result() == 21
    assert session.scale(2).workers == 2
    # Starting a cluster of ours detaches from the user's, which loses nothing, instead of refusing.
    ours = jupyter_nest.start(workers=1, threads=1, processes=False, dashboard=False)
    assert not ours.adopted
    jupyter_nest.stop()
    assert_still_running(cluster, client)


def test_attach_refuses_what_is_not_a_client_or_cluster():
    with pytest.raises(NestError, match=r"attach takes a distributed\.Client or a Dask cluster object.*got str"):
        jupyter_nest.attach("tcp://127.0.0.1:8786")
    with pytest.raises(NestError, match="needs a default Dask client"):
        jupyter_nest.attach()


def test_workers_without_jupyter_nest_run_plain_dask_and_the_message_names_them(tmp_path):
    with LocalCluster(n_workers=0, dashboard_address=":0") as cluster, Client(cluster) as client:
        bare = worker_without_jupyter_nest(cluster.scheduler_address, tmp_path, name="bare")
        try:
            client.wait_for_workers(1, timeout=60)
            worker = next(iter(client.scheduler_info()["workers"]))
            with pytest.warns(UserWarning) as warned:
                session = jupyter_nest.attach(client)
            message = str(warned[0].message)
            assert f"is not installed on {worker} of {cluster.scheduler_address}" in message
            assert "@nest are off for this cluster (plain Dask tasks still run)" in message
            assert session.hang_watcher is None
            assert session.client.submit(pow, 2, 10).result() == 1024
            assert client.submit(sum, [1, 2]).result() == 3
            jupyter_nest.stop()
        finally:
            stop(bare)


def test_adaptive_cluster_gets_the_plugins_on_new_workers_and_the_snapshot_follows():
    with LocalCluster(n_workers=0, threads_per_worker=1, dashboard_address=":0") as cluster, \
            Client(cluster) as client:
        cluster.adapt(minimum=1, maximum=2, interval="200ms", wait_count=2, target_duration="100ms")
        client.wait_for_workers(1, timeout=60)
        session = jupyter_nest.attach(cluster)
        future = slow_sum.spawn(6)
        # Plain Dask work makes the adaptive cluster grow (an @nest tree is one task until a slot is free).
        load = client.map(time.sleep, [0.5] * 16, pure=False)
        wait_for(lambda: snapshot(session.client)["totals"]["workers"] == 2, "the snapshot never showed a 2nd worker")
        plugins = client.run(worker_plugins)
        assert len(plugins) == 2 and all(RUNTIME_PLUGIN in names for names in plugins.values()), plugins
        assert future.result() == 64
        client.gather(load)
        wait_for(lambda: snapshot(session.client)["totals"]["workers"] == 1,
                 "the snapshot never saw the cluster shrink back to 1 worker")
        assert fib.spawn(10).result() == 55, "@nest still works after the cluster shrank"
        jupyter_nest.stop()
        assert cluster.status.name == "running"


@pytest.mark.kernel
@pytest.mark.timeout(180)
def test_the_magic_attaches_a_variable_or_the_default_client_and_the_panel_sees_it(kernel):
    kernel.run("%load_ext jupyter_nest").check()
    kernel.run("from distributed import Client, LocalCluster\n"
               "cluster = LocalCluster(n_workers=1, threads_per_worker=1, dashboard_address=':0')").check()
    assert "this notebook has no variable 'clustr'" in nest_error(kernel.run("%nest_cluster attach clustr"))
    reply = kernel.run("%nest_cluster attach cluster").check()
    assert "your LocalCluster (attached), 1 worker x 1 thread" in reply.result["text/plain"]
    assert kernel.run("%%nest_submit --wait\n6 * 7").check().result["text/plain"] == "42"
    assert "keep running" in kernel.run("%nest_cluster stop").check().stdout

    # A client made the ordinary way is adopted after its cell, so the Nest panel lists it.
    kernel.run("client = Client(cluster)").check()
    entry = json.loads(entry_file(kernel).read_text())
    assert entry["state"] == "running" and entry["remote"] is True
    assert entry["scheduler"] == kernel.value("cluster.scheduler_address")
    assert "Detached from your LocalCluster" in kernel.run("%nest_cluster stop").check().stdout
    assert json.loads(entry_file(kernel).read_text())["state"] == "stopped"
    # ... and not again behind the user's back; `attach` with no name takes the default client on purpose.
    kernel.run("client.submit(sum, [1, 2]).result()").check()
    assert kernel.value("__import__('jupyter_nest').current() is None") is True
    reply = kernel.run("%nest_cluster attach").check()
    assert "your LocalCluster (attached)" in reply.result["text/plain"]
    kernel.run("%nest_cluster stop\nclient.close()\ncluster.close()").check()
