"""The notebook the browser checks run: a cluster, the live slot view, and a seceding recursion."""

from __future__ import annotations


def seceding_recursion(n: int, leaf_seconds: float = 0.0) -> list[str]:
    """Cells that start 2 workers x 1 thread, show the widget, and run the Dask docs' fib(n).

    Each call of fib submits two more and secedes while it waits, so the cluster
    fills with seceded tasks: what the slot view and the Nest panel are there to show.

    Examples
    --------
    >>> cells = seceding_recursion(16)
    >>> cells[0].startswith("%load_ext jupyter_nest")
    True
    """
    return [
        "%load_ext jupyter_nest\nclient = %nest_cluster start --workers 2 --threads 1",
        "import jupyter_nest\njupyter_nest.widget()",
        f"""import time
from distributed import get_client, rejoin, secede

def fib(n):
    if n < 2:
        time.sleep({leaf_seconds!r})
        return n
    c = get_client()
    a, b = c.submit(fib, n - 1, pure=False), c.submit(fib, n - 2, pure=False)
    secede()
    x, y = c.gather([a, b])
    rejoin()
    return x + y

result = client.submit(fib, {n}, pure=False).result()
print("fib({n}) =", result)""",
    ]
