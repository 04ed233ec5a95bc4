"""The runtime as a notebook meets it, in a real kernel: the hang warning, interrupts, error display."""

from __future__ import annotations

import queue
import re
import time

import pytest

pytestmark = [pytest.mark.timeout(180), pytest.mark.slow, pytest.mark.kernel]

SETUP = """
%load_ext jupyter_nest
import dask, distributed, time, jupyter_nest
dask.config.set({"jupyter-nest.hang-warning": "2s"})
client = %nest_cluster start --workers 2 --threads 1 --no-dashboard

def fib_plain_dask(n):
    # the docs' get_client example without secede(): deadlocks in plain Dask
    if n < 2:
        return n
    c = distributed.get_client()
    a, b = c.submit(fib_plain_dask, n - 1), c.submit(fib_plain_dask, n - 2)
    return a.result() + b.result()

def spread(depth):
    if depth == 0:
        # long enough that the tree (16 leaves on 2 slots) is still running at the interrupt, short enough that
        # the cancelled leaves, which sleep on in their threads, free the slots soon for the next test
        time.sleep(10)
        return 1
    c = jupyter_nest.get_client()
    return sum(c.gather([c.submit(spread, depth - 1, pure=False) for _ in range(2)]))

def live(prefix):
    return client.run_on_scheduler(lambda dask_scheduler: sum(
        1 for ts in dask_scheduler.tasks.values()
        if str(ts.key).startswith(prefix) and ts.state in ("processing", "queued", "waiting", "no-worker")))
"""


@pytest.fixture(scope="module")
def k(module_kernel):
    module_kernel.run(SETUP).check()
    return module_kernel


def run_and_interrupt(kernel, code, wait_for, timeout=60):
    """Run a cell that blocks, interrupt the kernel once ``wait_for(messages)`` holds; return the messages."""
    msg_id = kernel.client.execute(code)
    messages = []
    interrupted = False
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            msg = kernel.client.get_iopub_msg(timeout=0.5)
        except queue.Empty:
            msg = None
        if msg is not None and msg["parent_header"].get("msg_id") == msg_id:
            messages.append(msg)
            if msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
                break
        if not interrupted and wait_for(messages):
            kernel.manager.interrupt_kernel()
            interrupted = True
    kernel.client.get_shell_msg(timeout=10)
    return messages


def stderr_of(messages):
    return "".join(m["content"]["text"] for m in messages
                   if m["msg_type"] == "stream" and m["content"]["name"] == "stderr")


def test_plain_dask_deadlock_gets_one_warning_naming_blocked_tasks(k):
    messages = run_and_interrupt(
        k, "f = client.submit(fib_plain_dask, 4)\nf.result()",
        wait_for=lambda ms: "looks deadlocked" in stderr_of(ms),
    )
    text = stderr_of(messages)
    assert text.count("the cluster looks deadlocked") == 1
    assert "HangWarning: " in text
    assert "All 2 task slots have been blocked" in text
    blocked = re.findall(r"(fib_plain_dask-[0-9a-f]+) on tcp://127\.0\.0\.1:\d+", text)
    assert len(blocked) == 2, text
    assert "jupyter_nest.get_client()" in text and "secede()" in text
    assert any(m["msg_type"] == "error" and m["content"]["ename"] == "KeyboardInterrupt" for m in messages)
    # the interrupt cancelled the root and, through the lineage, everything it spawned
    assert k.value("f.status") == "cancelled"
    k.run("import time\nfor _ in range(40):\n    if live('fib_plain_dask') == 0: break\n    time.sleep(0.05)").check()
    assert k.value("live('fib_plain_dask')") == 0
    assert k.value("client.submit(sum, [1, 2]).result(timeout=30)") == 3


def test_the_hang_warning_is_a_category_users_can_filter(k):
    k.run("import warnings\nfrom jupyter_nest.errors import HangWarning\nsaved_filters = warnings.filters[:]\n"
          "warnings.filterwarnings('ignore', category=HangWarning)").check()
    started = time.monotonic()
    try:
        messages = run_and_interrupt(k, "f2 = client.submit(fib_plain_dask, 5, pure=False)\nf2.result()",
                                     wait_for=lambda ms: time.monotonic() - started > 8)
    finally:
        k.run("warnings.filters[:] = saved_filters").check()
    assert any(m["msg_type"] == "error" for m in messages)
    assert "deadlocked" not in stderr_of(messages)
    k.run("for _ in range(40):\n    if live('fib_plain_dask') == 0: break\n    time.sleep(0.05)").check()


def test_interrupting_a_wait_cancels_the_whole_tree(k):
    run_and_interrupt(
        k, "g = client.submit(spread, 4, pure=False)\ng.result()",
        wait_for=lambda ms: k.manager.is_alive() and time.sleep(3) is None,
    )
    assert k.value("g.status") == "cancelled"
    k.run("for _ in range(40):\n    if live('spread') == 0: break\n    time.sleep(0.05)").check()
    assert k.value("live('spread')") == 0


def test_nested_error_shows_original_type_line_and_chain(k):
    k.run(
        "def failing(n):\n"
        "    if n == 0:\n"
        "        raise KeyError('missing record 42')\n"
        "    return jupyter_nest.get_client().submit(failing, n - 1).result()\n"
    ).check()
    reply = k.run("client.submit(failing, 3).result()")
    assert reply.status == "error"
    assert reply.error["ename"] == "KeyError"
    text = re.sub(r"\x1b\[[0-9;]*m", "", "\n".join(reply.error["traceback"]))
    assert "in notebook code, innermost last" in text
    assert re.search(r"line 3, in failing\n +raise KeyError\('missing record 42'\)", text)
    assert "raised 3 task level(s) below the one awaited, root first" in text
    assert re.search(r"failing\(3\).*\n.*failing\(2\).*\n.*failing\(1\).*\n.*failing\(0\).*<- raised here", text)
