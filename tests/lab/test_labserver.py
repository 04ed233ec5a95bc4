"""The server extension behind the Nest panel, on a real ``jupyter server`` with real notebook kernels."""

from __future__ import annotations

import json
import os
import re
import signal
import time
from collections.abc import Callable
from typing import Any

import pytest
from jupyter_client import BlockingKernelClient
from support.kernels import Kernel
from support.lab import JupyterServer

from jupyter_nest.cluster import _registry as registry

pytestmark = [pytest.mark.timeout(240), pytest.mark.slow, pytest.mark.kernel]


@pytest.fixture(scope="module")
def server():
    with JupyterServer(app="server") as s:
        yield s


class NotebookKernel(Kernel):
    """The kernel of a notebook session the server started, driven through its connection file."""

    def __init__(self, server: JupyterServer, notebook: str) -> None:
        self.server = server
        model = server.api("POST", "api/sessions", {"path": notebook, "type": "notebook",
                                                    "name": notebook, "kernel": {"name": "python3"}})
        self.session_id = model["id"]
        self.id = model["kernel"]["id"]
        self.client = BlockingKernelClient(connection_file=str(server.connection_file(self.id)))
        self.client.load_connection_file()
        self.client.start_channels()
        self.client.wait_for_ready(timeout=60)
        self.run("%load_ext jupyter_nest").check()

    @property
    def pid(self) -> int:
        return self.value("__import__('os').getpid()")

    def shutdown(self) -> None:
        self.client.stop_channels()
        self.server.api("DELETE", f"api/sessions/{self.session_id}")


def wait_until(check: Callable[[], Any], timeout: float = 30, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not reached within {timeout} s; last: {value!r}")
        time.sleep(0.25)


def clusters(server: JupyterServer) -> list[dict[str, Any]]:
    return server.api("GET", "jupyter-nest/clusters")["clusters"]


def test_every_route_needs_the_token(server):
    for path in ["jupyter-nest/clusters", "jupyter-nest/clusters/0123/view", "jupyter-nest/clusters/0123/columns"]:
        for token in (None, "not-the-token"):
            status, body = server.request("GET", path, token=token)
            assert status == 403, (path, token, status)
            assert b"clusters" not in body
    # BokehJS is a page resource: without the token the server sends the browser to log in.
    status, body = server.request("GET", "jupyter-nest/static/js/bokeh.min.js", token=None)
    assert status in (302, 403) and b"Bokeh" not in body
    status, body = server.request("GET", "jupyter-nest/static/js/bokeh.min.js")
    assert status == 200 and b"Bokeh" in body


# Allows everything but the Nest panel's resource, as a deployment's permissions might.
DENY_NEST = """
from jupyter_server.auth import Authorizer

class DenyNest(Authorizer):
    def is_authorized(self, handler, user, action, resource):
        return resource != "nest"

c.ServerApp.authorizer_class = DenyNest
"""


def test_the_servers_authorizer_decides_not_only_the_token():
    with JupyterServer(app="server", config=DENY_NEST) as denying:
        for path in ["jupyter-nest/clusters", "jupyter-nest/clusters/0123/view",
                     "jupyter-nest/clusters/0123/columns", "jupyter-nest/static/js/bokeh.min.js"]:
            status, body = denying.request("GET", path)
            assert status == 403, (path, status, body[:200])
            assert b"clusters" not in body and b"Bokeh" not in body
        # the token is good, and the resources the Authorizer allows still answer
        assert denying.api("GET", "api/kernels") == []
        assert "started" in denying.api("GET", "api/status")
        # refused by the Authorizer's answer, not for want of a token
        assert "not authorized to read on resource: nest" in denying.log()


def test_no_cluster_lists_empty_and_unknown_kernels_are_404(server):
    assert clusters(server) == []
    status, body = server.request("GET", "jupyter-nest/clusters/0123-abc/view")
    assert status == 404 and "No cluster is registered by kernel 0123-abc" in json.loads(body)["message"]


def test_a_notebook_cluster_is_listed_with_its_view_then_shown_stopped(server):
    k = NotebookKernel(server, "work/nest.ipynb")
    try:
        k.run("%nest_cluster start --workers 1 --threads 1").check()
        address = k.value("__import__('jupyter_nest').current().address")
        [c] = wait_until(lambda: clusters(server), what="the cluster listed")
        assert c["kernel_id"] == k.id and c["notebook"] == "work/nest.ipynb"
        assert c["scheduler"] == address and c["state"] == "running" and c["remote"] is False
        assert c["totals"]["workers"] == 1 and c["totals"]["threads"] == 1
        # through jupyter-server-proxy when the server has it (the test extra installs it), else direct
        assert re.fullmatch(r"/proxy/\d+/status|http://127\.0\.0\.1:\d+/status", c["dashboard"]), c["dashboard"]

        base = f"jupyter-nest/clusters/{k.id}"
        # A view the server never opened (or dropped) tells the browser to embed a new one.
        assert server.api("GET", f"{base}/columns?view=v1")["reload"] is True
        view = server.api("GET", f"{base}/view?view=v1")
        assert view["cluster"]["state"] == "running"
        assert {"doc", "root_id"} <= set(view["item"])
        assert view["scripts"] and all("/jupyter-nest/static/js/bokeh" in s for s in view["scripts"])
        for script in view["scripts"]:
            status, body = server.request("GET", script.lstrip("/"))
            assert status == 200 and view["bokeh_version"].encode() in body
        update = server.api("GET", f"{base}/columns?view=v1")
        assert update["columns"] and "reload" not in update
        embedded = json.dumps(view["item"]["doc"])
        assert all(f'"name": "{name}"' in embedded for name in update["columns"])
        assert all(f'"id": "{model_id}"' in embedded for model_id in update["ranges"])

        k.run("%nest_cluster stop").check()
        [c] = clusters(server)
        assert c["state"] == "stopped" and c["totals"] is None
        stopped = server.api("GET", f"{base}/columns?view=v1")
        assert stopped["cluster"]["state"] == "stopped" and "columns" not in stopped
    finally:
        k.shutdown()
    wait_until(lambda: clusters(server) == [], what="the entry gone with its kernel")


def test_a_scheduler_that_dies_shows_as_not_answering(server, dask_processes):
    k = NotebookKernel(server, "remote.ipynb")
    try:
        k.run(f"%nest_cluster connect {dask_processes.address}").check()
        [c] = wait_until(lambda: clusters(server), what="the cluster listed")
        assert c["remote"] is True and c["state"] == "running" and c["totals"]["workers"] == 1
        dask_processes.close()
        [c] = wait_until(lambda: [c for c in clusters(server) if c["state"] == "unreachable"],
                         what="the dead scheduler noticed")
        assert dask_processes.address in c["reason"] and "%nest_cluster stop" in c["reason"]
        assert c["totals"] is None
    finally:
        k.shutdown()


def test_a_killed_kernel_leaves_no_ghost(server):
    k = NotebookKernel(server, "ghost.ipynb")
    try:
        k.run("%nest_cluster start --no-processes --workers 1 --threads 1").check()
        wait_until(lambda: clusters(server), what="the cluster listed")
        folder = registry.directory(server.runtime_dir)
        assert (folder / f"{k.id}.json").exists()
        os.kill(k.pid, signal.SIGKILL)
        # The server restarts the kernel under the same id; its old cluster must not linger.
        wait_until(lambda: clusters(server) == [], timeout=10, what="the ghost dropped")
        assert not (folder / f"{k.id}.json").exists()
    finally:
        k.shutdown()
