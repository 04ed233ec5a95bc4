"""``nest.map`` over lists of any length: a million elements from the notebook and inside a task finish, with a
handful of pending children at any time (not one per element), each element keeping its own value or error."""

from __future__ import annotations

import pytest

import jupyter_nest
from jupyter_nest import nest
from jupyter_nest.forkjoin._spawn import local

pytestmark = [pytest.mark.timeout(300), pytest.mark.slow]

MILLION = 10**6


@pytest.fixture(scope="module")
def client():
    session = jupyter_nest.start(workers=2, threads=1, dashboard=False, replace=True)
    yield session.client
    jupyter_nest.stop()


def square(x):
    return x * x


def pending_and_square(x):
    """x squared, and how many children the running thread holds pending (an element per handle would be ~10**6)."""
    ctx = local.ctx
    return x * x, len(ctx.items) if ctx is not None else 0


def fails_on_sevens(x):
    if x % 7 == 0:
        raise ValueError(f"no sevens: {x}")
    return x


@nest
def sum_of_squares(n):
    return sum(nest.gather(nest.map(square, range(n))))


@nest
def most_pending(n):
    return max(pending for _, pending in nest.gather(nest.map(pending_and_square, list(range(n)))))


def test_a_million_elements_from_the_notebook(client):
    handles = nest.map(square, range(MILLION))
    assert len(handles) == MILLION
    values = nest.gather(handles)
    assert len(values) == MILLION and values[999_999] == 999_999**2
    assert handles[3].result() == 9 and handles[-1].result() == 999_999**2
    # one Dask task for the map, split further only as idle slots ask for work
    assert len(client.run_on_scheduler(lambda dask_scheduler: list(dask_scheduler.tasks))) < 5_000


def test_a_million_elements_inside_a_task_hold_few_pending_children(client):
    assert sum_of_squares.spawn(MILLION).result(timeout=240) == sum(x * x for x in range(MILLION))
    assert most_pending.spawn(MILLION).result(timeout=240) < 100


def test_a_big_list_from_the_notebook_travels_outside_the_task_graph(client):
    data = list(range(MILLION))
    assert sum(nest.gather(nest.map(square, data))) == sum(x * x for x in data)


def test_each_element_keeps_its_own_error(client):
    handles = nest.map(fails_on_sevens, range(1, 30))
    assert handles[0].result() == 1
    with pytest.raises(ValueError, match="no sevens: 7"):
        handles[6].result()
    assert handles[7].result() == 8
    with pytest.raises(ValueError, match="no sevens: 7"):  # the first error in order
        nest.gather(handles)
    assert nest.gather(nest.map(fails_on_sevens, [])) == []
