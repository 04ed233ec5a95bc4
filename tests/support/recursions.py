"""Recursions run on clusters the tests do not start themselves (their workers import this module)."""

from __future__ import annotations

from jupyter_nest import nest


@nest
def fib(n):
    if n < 2:
        return n
    a, b = fib.spawn(n - 1), fib.spawn(n - 2)
    return a.result() + b.result()


def recurse_with_secede(n):
    """Dask's own recursion pattern: submit, secede, gather, rejoin."""
    from distributed import get_client, rejoin, secede

    if n < 2:
        return n
    client = get_client()
    futures = [client.submit(recurse_with_secede, n - 1, pure=False),
               client.submit(recurse_with_secede, n - 2, pure=False)]
    secede()
    total = sum(client.gather(futures))
    rejoin()
    return total
