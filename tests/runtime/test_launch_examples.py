"""Every code example of Dask's "Launch Tasks from Tasks" page, on clusters jupyter_nest starts.

Each runs with our imports (``from jupyter_nest import ...``) and with Dask's own, on
1 x 1, 1 x 2 and 2 x 1 clusters (workers x threads).
"""

from __future__ import annotations

import distributed
import pytest
from support.launch_examples import aggregate, download_and_convert_to_list, examples, process_element

import jupyter_nest

pytestmark = [pytest.mark.timeout(180), pytest.mark.slow]

URI = "https://example.org/data/2026/11/29/records.csv"


@pytest.fixture(scope="module", params=[(1, 1), (1, 2), (2, 1)], ids=lambda s: f"{s[0]}x{s[1]}")
def client(request):
    workers, threads = request.param
    session = jupyter_nest.start(workers=workers, threads=threads, dashboard=False, replace=True)
    yield session.client
    jupyter_nest.stop()


@pytest.mark.parametrize("api", [jupyter_nest, distributed], ids=["jupyter_nest", "distributed"])
def test_fibonacci_three_ways(client, api):
    ex = examples(api)
    assert ex.fib_compute(10).compute() == 55
    assert client.submit(ex.fib_get_client, 10).result() == 55
    assert client.submit(ex.fib_worker_client, 10).result() == 55


@pytest.mark.parametrize("api", [jupyter_nest, distributed], ids=["jupyter_nest", "distributed"])
def test_motivating_example_three_routes(client, api):
    data = download_and_convert_to_list(URI)
    expected = aggregate([process_element(x) for x in data])
    future = client.submit(download_and_convert_to_list, URI)
    for route in examples(api).routes:
        assert route(client, future) == expected, route.__name__
