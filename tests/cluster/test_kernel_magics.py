"""%nest_cluster in a real kernel, as a notebook drives it: outputs, errors, and process cleanup."""

from __future__ import annotations

import psutil
import pytest
from support.kernels import Kernel
from support.processes import wait_gone

pytestmark = [pytest.mark.timeout(180), pytest.mark.slow, pytest.mark.kernel]


def worker_pids(kernel: Kernel) -> list[int]:
    return [p.pid for p in psutil.Process(kernel.pid).children(recursive=True)
            if "resource_tracker" not in " ".join(p.cmdline())]


def test_magic_returns_the_client_and_renders_html(module_kernel):
    k = module_kernel
    reply = k.run("client = %nest_cluster start --workers 2 --threads 1").check()
    assert reply.data == [], "an assignment shows nothing"
    html = k.run("client").check().result["text/html"]
    assert "tcp://127.0.0.1:" in html and "http://127.0.0.1:" in html
    assert "2 workers x 1 thread" in html
    assert k.value("client.submit(lambda: 6 * 7).result()") == 42
    assert k.value("__import__('dask').compute(__import__('dask').delayed(sum)([1, 2]))[0]") == 3
    status = k.run("%nest_cluster status").check().result
    assert "text/html" in status and "Seceded" in status["text/html"]
    assert "2 workers x 1 thread" in status["text/plain"]
    k.run("%nest_cluster stop").check()


def test_errors_are_one_paragraph_and_the_kernel_stays_usable(module_kernel):
    k = module_kernel
    k.run("client = %nest_cluster start --workers 1 --threads 1").check()
    for line, text, kind in [
        ("%nest_cluster start --workers 0", "--workers must be a whole number of 1 or more, got 0", "NestError"),
        ("%nest_cluster start", "already running in this kernel", "NestError"),
        ("%nest_cluster bogus", "unknown subcommand 'bogus'", "NestError"),
        ("%nest_cluster connect tcp://127.0.0.1:1 --timeout 3", "connection was refused", "NestConnectionError"),
    ]:
        reply = k.run(line)
        assert reply.status == "error"
        assert reply.error["ename"] == kind
        assert len(reply.error["traceback"]) == 1, reply.error["traceback"]
        assert text in reply.error["traceback"][0]
    assert k.value("client.submit(sum, [1, 2, 3]).result()") == 6
    assert k.value("client is __import__('jupyter_nest').current().client") is True
    k.run("%nest_cluster stop").check()


def test_help_reads_as_documentation(module_kernel):
    reply = module_kernel.run("print(get_ipython().find_line_magic('nest_cluster').__doc__)").check()
    doc = reply.stdout
    for text in ["start --cluster M.C", "connect ADDRESS", "scale N", "--workers N", "--no-processes",
                 "--no-dashboard", "--option KEY=VALUE", "--timeout SECONDS", "--tls-ca FILE",
                 "start: the local cluster", "%nest_cluster start --workers 2 --threads 1"]:
        assert text in doc, text


def test_kernel_shutdown_leaves_no_worker_behind():
    k = Kernel()
    try:
        k.run("%load_ext jupyter_nest\n%nest_cluster start --workers 2 --threads 1").check()
        pids = worker_pids(k)
        assert len(pids) >= 2
    finally:
        k.shutdown()
    assert wait_gone(pids) == []


def test_kernel_restart_leaves_no_worker_behind():
    k = Kernel()
    try:
        k.run("%load_ext jupyter_nest\n%nest_cluster start --workers 2 --threads 1").check()
        pids = worker_pids(k)
        k.manager.restart_kernel(now=False)
        k.client.wait_for_ready(timeout=60)
        assert wait_gone(pids) == []
        assert k.value("1 + 1") == 2
    finally:
        k.shutdown()


def test_kernel_killed_leaves_no_worker_behind():
    k = Kernel()
    try:
        k.run("%load_ext jupyter_nest\n%nest_cluster start --workers 2 --threads 1").check()
        pids = worker_pids(k)
        psutil.Process(k.pid).kill()
    finally:
        k.shutdown()
    assert wait_gone(pids) == []


def test_unload_ext_stops_the_cluster(kernel):
    kernel.run("%load_ext jupyter_nest\n%nest_cluster start --workers 2 --threads 1").check()
    pids = worker_pids(kernel)
    kernel.run("%unload_ext jupyter_nest").check()
    assert wait_gone(pids) == []
    assert kernel.value("__import__('jupyter_nest').current() is None") is True


def test_kernel_cluster_listens_on_loopback_only(kernel):
    kernel.run("%load_ext jupyter_nest\n%nest_cluster start --workers 2 --threads 1").check()
    listening = []
    for pid in [kernel.pid, *worker_pids(kernel)]:
        listening += [c.laddr.ip for c in psutil.Process(pid).net_connections(kind="inet")
                      if c.status == psutil.CONN_LISTEN]
    assert len(listening) >= 6
    assert set(listening) == {"127.0.0.1"}, listening
