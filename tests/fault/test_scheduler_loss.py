"""The scheduler lost under a running recursion, in a real kernel: one clear message, a usable kernel, a
replacement cluster, and nothing of the old one left running."""

from __future__ import annotations

import pytest
from support.processes import wait_gone

pytestmark = [pytest.mark.timeout(240), pytest.mark.slow, pytest.mark.kernel]


def test_a_local_cluster_whose_scheduler_stops_says_so_and_start_replace_recovers(kernel):
    kernel.run("%load_ext jupyter_nest\nclient = %nest_cluster start --workers 2 --threads 1 --no-dashboard",
               timeout=120).check()
    pids = kernel.run("sorted(client.run(__import__('os').getpid).values())").result["text/plain"]
    kernel.run("""
from jupyter_nest import nest

@nest
def fib(n):
    import time
    if n < 2:
        time.sleep(0.001)
        return n
    a, b = fib.spawn(n - 1), fib.spawn(n - 2)
    return a.result() + b.result()

running = fib.spawn(22)
client.cluster.sync(client.cluster.scheduler.close)  # the scheduler stops under the recursion
""", timeout=60).check()

    reply = kernel.run("running.result()", timeout=60)
    assert reply.error["ename"] == "FutureCancelledError"
    shown = "\n".join(reply.error["traceback"])
    assert "the scheduler is gone" in shown and "%nest_cluster start --replace" in shown

    # Dask's own client tries a lost scheduler for its connect timeout (30 s) twice before it answers:
    # status took a minute to say so, and start --replace another 30 s to stop the old cluster.
    reply = kernel.run("%nest_cluster status", timeout=20)
    assert reply.error["ename"] == "NestConnectionError"
    assert "does not answer" in reply.error["evalue"] and "--replace" in reply.error["evalue"]
    assert len(reply.error["traceback"]) < 12, "a short error, not a traceback from deep inside Dask"

    kernel.run("%nest_cluster start --replace --workers 1 --threads 1 --no-dashboard", timeout=120).check()
    assert kernel.run("fib.spawn(15).result()", timeout=60).check().result["text/plain"] == "610"
    assert not wait_gone([int(p) for p in pids.strip("[]").split(",")], timeout=30), "the old workers live on"
    kernel.run("%nest_cluster stop", timeout=60).check()
