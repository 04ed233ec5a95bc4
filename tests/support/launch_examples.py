"""The code examples of Dask's "Launch Tasks from Tasks" page, written once for either import source.

``examples(api)`` defines them against ``api``, which is ``jupyter_nest`` (our
imports) or ``distributed`` (Dask's own), so one body serves both.
"""

from __future__ import annotations

import types
from operator import getitem

import dask


def download_and_convert_to_list(uri: str) -> list[int]:
    """Stands in for the page's download: a list whose length is only known at run time."""
    return [len(part) for part in uri.split("/")] * 3


def process_element(x: int) -> int:
    return x * x


def aggregate(results: list[int]) -> int:
    return sum(results)


def examples(api: types.ModuleType) -> types.SimpleNamespace:
    """Fibonacci three ways and the motivating example three ways, using ``api``'s functions."""

    @dask.delayed
    def fib_compute(n):
        if n < 2:
            return n
        a, b = dask.compute(fib_compute(n - 1), fib_compute(n - 2))
        return a + b

    def fib_get_client(n):
        if n < 2:
            return n
        client = api.get_client()
        jobs = client.map(fib_get_client, [n - 1, n - 2])
        api.secede()
        out = client.gather(jobs)
        api.rejoin()
        return sum(out)

    def fib_worker_client(n):
        if n < 2:
            return n
        with api.worker_client() as client:
            a, b = client.submit(fib_worker_client, n - 1), client.submit(fib_worker_client, n - 2)
            return a.result() + b.result()

    def process_all(data):
        with api.worker_client() as client:
            elements = client.scatter(data)
            futures = client.map(process_element, elements)
            analysis = client.submit(aggregate, futures)
            result = analysis.result()
        return result

    def gather_locally(client, future):
        data = future.result()
        futures = client.map(process_element, data)
        return client.submit(aggregate, futures).result()

    def submit_from_client(client, future):
        n = client.submit(len, future).result()
        elements = [client.submit(getitem, future, i) for i in range(n)]
        futures = client.map(process_element, elements)
        return client.submit(aggregate, futures).result()

    def submit_from_worker(client, future):
        return client.submit(process_all, future).result()

    return types.SimpleNamespace(
        fib_compute=fib_compute,
        fib_get_client=fib_get_client,
        fib_worker_client=fib_worker_client,
        routes=[gather_locally, submit_from_client, submit_from_worker],
    )
