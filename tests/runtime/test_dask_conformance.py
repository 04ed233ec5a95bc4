"""Inside tasks, our clients behave as Dask's: each body runs four ways, with Dask's names or ours, on a plain
``LocalCluster`` or on a cluster jupyter_nest started, and must give the same answer in all four.

Written from Dask's documentation ("Launch Tasks from Tasks", the worker client API), with Dask's own
``distributed/tests/test_worker_client.py`` as the reference for what to cover.
"""

from __future__ import annotations

import importlib
import threading
import time

import distributed
import pytest
from distributed import Client, LocalCluster

import jupyter_nest

pytestmark = [pytest.mark.timeout(180), pytest.mark.slow]


@pytest.fixture(scope="module", params=["plain", "ours"])
def client(request):
    """2 worker processes x 1 thread: a bare LocalCluster, or one with every jupyter_nest plugin."""
    if request.param == "plain":
        with LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=None) as cluster, \
                Client(cluster) as plain:
            yield plain
    else:
        session = jupyter_nest.start(workers=2, threads=1, dashboard=False, replace=True)
        yield session.client
        jupyter_nest.stop()


@pytest.fixture(scope="module", params=["distributed", "jupyter_nest"])
def api(request, client):
    """Whose get_client/worker_client the task bodies use. Each pair of cluster and names gets fresh worker
    processes: a client one of them made must not serve the other."""
    client.restart()
    return request.param


def inc(x):
    return x + 1


def default_is_the_task_client(api):
    """``distributed.default_client()`` inside a task is the client ``get_client()`` returned."""
    client = importlib.import_module(api).get_client()
    return distributed.default_client() is client


def waits_with_distributed_wait(api):
    client = importlib.import_module(api).get_client()
    futures = client.map(inc, range(5))
    distributed.secede()
    done, not_done = distributed.wait(futures)
    distributed.rejoin()
    return len(done), len(not_done), sorted(f.result() for f in done)


def waits_with_as_completed(api):
    with importlib.import_module(api).worker_client() as client:
        futures = client.map(inc, range(5))
        return sorted(f.result() for f in distributed.as_completed(futures))


def gets_a_client(api):
    importlib.import_module(api).get_client()


def uses_worker_client(api):
    with importlib.import_module(api).worker_client():
        pass


def test_the_task_client_is_the_default_client_inside_the_task(client, api):
    assert client.submit(default_is_the_task_client, api, pure=False).result(timeout=60) is True


def test_distributed_wait_inside_a_task(client, api):
    assert client.submit(waits_with_distributed_wait, api, pure=False).result(timeout=60) == (5, 0, [1, 2, 3, 4, 5])


def test_distributed_as_completed_inside_a_task(client, api):
    assert client.submit(waits_with_as_completed, api, pure=False).result(timeout=60) == [1, 2, 3, 4, 5]


def square(x):
    return x * x


def square_on_a_worker(x):
    distributed.get_worker()  # raises ValueError under Dask's local threaded scheduler
    return x * x


def computes_with_dask_compute(api):
    """``dask.compute`` inside a task runs on the cluster through the task's client (the default)."""
    import dask

    importlib.import_module(api).get_client()
    values = [dask.delayed(square_on_a_worker)(i) for i in range(4)]
    with importlib.import_module(api).worker_client():
        return dask.compute(*values)


def persists_and_scatters(api):
    import dask

    with importlib.import_module(api).worker_client() as client:
        [scattered] = client.scatter([10])
        persisted = client.persist(dask.delayed(square)(3))
        return client.submit(inc, scattered).result() + client.compute(persisted).result()


def coordinates_with_primitives(api):
    """Variable, Queue, Event, Lock and Semaphore, made inside a task without naming a client."""
    importlib.import_module(api).get_client()
    variable, queue = distributed.Variable("conformance-var"), distributed.Queue("conformance-queue")
    variable.set(1)
    queue.put(2)
    event = distributed.Event("conformance-event")
    event.set()
    with distributed.Lock("conformance-lock"), distributed.Semaphore(max_leases=1, name="conformance-sem"):
        return variable.get() + queue.get() + event.is_set()


def fires_and_forgets(api):
    client = importlib.import_module(api).get_client()
    distributed.fire_and_forget(client.submit(distributed.Event("fired").set, pure=False))
    return "fired"


def publishes(api):
    client = importlib.import_module(api).get_client()
    client.publish_dataset(client.submit(square, 7, pure=False), name="conformance-dataset", override=True)


def without_a_separate_thread(api):
    with importlib.import_module(api).worker_client(separate_thread=False) as client:
        return client.submit(inc, 1).result()


async def async_task(api):
    """An ``async def`` task: Dask gives it an asynchronous client, awaited on the worker's loop."""
    client = importlib.import_module(api).get_client()
    return await client.submit(inc, 41)


def gathers_from_both_workers(api, addresses):
    with importlib.import_module(api).worker_client() as client:
        first, second = (client.submit(inc, i, workers=[where], pure=False) for i, where in enumerate(addresses))
        return client.gather([first, second])


def shares_the_workers_loop(api):
    with importlib.import_module(api).worker_client() as client:
        return client.loop is distributed.get_worker().loop


def maps_with_an_executor(api):
    with importlib.import_module(api).worker_client() as client, client.get_executor() as executor:
        return sum(executor.map(square, range(5)))


def back_in_the_pool_after_worker_client(api):
    with importlib.import_module(api).worker_client():
        pass
    return threading.current_thread() in distributed.get_worker().executor._threads


def test_gather_from_tasks_pinned_to_each_worker(client, api):
    addresses = sorted(client.scheduler_info()["workers"])
    assert client.submit(gathers_from_both_workers, api, addresses, pure=False).result(timeout=60) == [1, 2]


def test_the_task_client_runs_on_the_workers_loop(client, api):
    assert client.submit(shares_the_workers_loop, api, pure=False).result(timeout=60) is True


def test_the_task_clients_executor(client, api):
    assert client.submit(maps_with_an_executor, api, pure=False).result(timeout=60) == 30


def test_worker_client_rejoins_the_thread_pool(client, api):
    assert client.submit(back_in_the_pool_after_worker_client, api, pure=False).result(timeout=60) is True


def test_dask_compute_inside_a_task(client, api):
    assert client.submit(computes_with_dask_compute, api, pure=False).result(timeout=60) == (0, 1, 4, 9)


def test_scatter_and_persist_inside_a_task(client, api):
    assert client.submit(persists_and_scatters, api, pure=False).result(timeout=60) == 11 + 9


def test_coordination_primitives_inside_a_task(client, api):
    assert client.submit(coordinates_with_primitives, api, pure=False).result(timeout=60) == 4


def test_fire_and_forget_inside_a_task(client, api):
    fired = distributed.Event("fired", client=client)
    fired.clear()
    assert client.submit(fires_and_forgets, api, pure=False).result(timeout=60) == "fired"
    assert fired.wait(timeout=30)


def test_a_dataset_published_inside_a_task_outlives_it(client, api):
    client.submit(publishes, api, pure=False).result(timeout=60)
    assert client.get_dataset("conformance-dataset").result(timeout=30) == 49
    client.unpublish_dataset("conformance-dataset")


def test_worker_client_without_a_separate_thread(client, api):
    assert client.submit(without_a_separate_thread, api, pure=False).result(timeout=60) == 2


def test_async_tasks_get_an_asynchronous_client(client, api):
    assert client.submit(async_task, api, pure=False).result(timeout=60) == 42


def events_after(client, topic, func, api, timeout=30):
    """The events of ``topic`` logged after ``func(api)`` ran in a task (workers send them in batches)."""
    before = len(client.get_events(topic))
    client.submit(func, api, pure=False).result(timeout=60)
    deadline = time.monotonic() + timeout
    while len(client.get_events(topic)) == before and time.monotonic() < deadline:
        time.sleep(0.05)
    return client.get_events(topic)[before:]


def test_get_client_logs_worker_get_client_events(client, api):
    [(_, event)] = events_after(client, "worker-get-client", gets_a_client, api)
    assert {"client", "timeout"} <= set(event)


def test_worker_client_logs_worker_client_events(client, api):
    events = events_after(client, "worker-client", uses_worker_client, api)
    assert len(events) == 1 and {"client", "timeout"} <= set(events[0][1])


_made_in_tasks: list[Client] = []


def keeps_its_client():
    _made_in_tasks.append(jupyter_nest.get_client())


def test_our_worker_client_closes_with_its_worker_without_our_plugins():
    """A plain in-process cluster: no RuntimePlugin closes our client, so Dask must, as it closes its own."""
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=False, dashboard_address=None) as cluster, \
            Client(cluster) as plain:
        plain.submit(keeps_its_client, pure=False).result(timeout=60)
        [ours] = _made_in_tasks
        assert isinstance(ours, jupyter_nest.NestClient) and ours is not plain
    deadline = time.monotonic() + 20
    while ours.status != "closed" and time.monotonic() < deadline:
        time.sleep(0.05)
    assert ours.status == "closed"
