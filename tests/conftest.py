"""Shared fixtures: real IPython shells, real kernels and real Dask processes."""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil
import pytest
from jupyter_client import KernelManager

import jupyter_nest


@pytest.fixture
def ipython():
    """An in-process IPython shell with the extension loaded; its cluster is stopped afterwards."""
    from IPython.testing.globalipapp import get_ipython

    shell = get_ipython()
    shell.run_line_magic("load_ext", "jupyter_nest")
    yield shell
    jupyter_nest.stop()


@dataclass
class Reply:
    """What one execute request produced on the kernel's iopub channel."""

    status: str
    stdout: str = ""
    stderr: str = ""
    data: list[dict[str, Any]] = field(default_factory=list)
    error: dict[str, Any] | None = None
    messages: list[dict[str, Any]] = field(default_factory=list)

    @property
    def result(self) -> dict[str, Any]:
        """The mime bundle of the cell's value (``execute_result``)."""
        for msg in self.messages:
            if msg["msg_type"] == "execute_result":
                return msg["content"]["data"]
        return {}

    def check(self) -> Reply:
        if self.status != "ok":
            error = self.error or {}
            raise AssertionError(f"cell failed: {error.get('ename')}: {error.get('evalue')}\nstderr: {self.stderr}")
        return self


class Kernel:
    """A real IPython kernel in its own process, driven like a notebook would drive it."""

    def __init__(self) -> None:
        self.manager = KernelManager(kernel_name="python3")
        self.manager.start_kernel(cwd=str(Path(__file__).parent))
        self.client = self.manager.client()
        self.client.start_channels()
        self.client.wait_for_ready(timeout=60)

    @property
    def pid(self) -> int:
        return self.manager.provisioner.pid

    def run(self, code: str, timeout: float = 60) -> Reply:
        """Execute ``code`` as a cell and collect every iopub message until the kernel is idle."""
        msg_id = self.client.execute(code)
        reply = Reply(status="?")
        deadline = time.monotonic() + timeout
        while True:
            try:
                msg = self.client.get_iopub_msg(timeout=max(0.1, deadline - time.monotonic()))
            except queue.Empty:
                raise TimeoutError(f"cell did not finish within {timeout} s: {code!r}") from None
            if msg["parent_header"].get("msg_id") != msg_id:
                continue
            msg = {**msg, "received": time.monotonic()}
            reply.messages.append(msg)
            kind, content = msg["msg_type"], msg["content"]
            if kind == "stream":
                if content["name"] == "stdout":
                    reply.stdout += content["text"]
                else:
                    reply.stderr += content["text"]
            elif kind in ("display_data", "execute_result", "update_display_data"):
                reply.data.append(content["data"])
            elif kind == "error":
                reply.error = content
            elif kind == "status" and content["execution_state"] == "idle":
                break
        while True:  # skip replies to earlier requests (wait_for_ready's kernel_info, say)
            shell = self.client.get_shell_msg(timeout=10)
            if shell["parent_header"].get("msg_id") == msg_id:
                break
        reply.status = shell["content"]["status"]
        return reply

    def value(self, expr: str, timeout: float = 60) -> Any:
        """Evaluate ``expr`` in the kernel and return it, JSON-decoded."""
        reply = self.run(f"import json as _j; print(_j.dumps({expr}))", timeout).check()
        return json.loads(reply.stdout.strip().splitlines()[-1])

    def shutdown(self) -> None:
        self.client.stop_channels()
        if self.manager.is_alive():
            self.manager.shutdown_kernel(now=False)


@pytest.fixture
def kernel():
    k = Kernel()
    yield k
    k.shutdown()


@pytest.fixture(scope="module")
def module_kernel():
    """One kernel for a module's tests, with ``%load_ext jupyter_nest`` done."""
    k = Kernel()
    k.run("%load_ext jupyter_nest").check()
    yield k
    k.shutdown()


def wait_gone(pids: list[int], timeout: float = 20) -> list[int]:
    """Wait for processes to exit; return those still alive after ``timeout``."""
    deadline = time.monotonic() + timeout
    alive = list(pids)
    while alive and time.monotonic() < deadline:
        alive = [p for p in alive if psutil.pid_exists(p) and psutil.Process(p).status() != psutil.STATUS_ZOMBIE]
        time.sleep(0.1)
    return alive


class DaskProcesses:
    """A ``dask scheduler`` and ``dask worker`` started as separate processes, like a remote cluster."""

    def __init__(self, tmp_path: Path, workers: int = 1, threads: int = 1, extra: list[str] = ()) -> None:
        scheduler_file = tmp_path / "scheduler.json"
        bindir = Path(sys.executable).parent
        env = {**os.environ, "DASK_DISTRIBUTED__WORKER__PROFILE__ENABLED": "False"}
        self.procs = [
            subprocess.Popen(
                [str(bindir / "dask"), "scheduler", "--host", "127.0.0.1", "--port", "0",
                 "--no-dashboard", "--scheduler-file", str(scheduler_file), *extra],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env,
            )
        ]
        deadline = time.monotonic() + 60
        while not scheduler_file.exists() or not scheduler_file.read_text().strip():
            if time.monotonic() > deadline:
                self.close()
                raise TimeoutError("dask scheduler did not write its scheduler file")
            time.sleep(0.1)
        time.sleep(0.2)
        self.address = json.loads(scheduler_file.read_text())["address"]
        self.procs.append(
            subprocess.Popen(
                [str(bindir / "dask"), "worker", self.address, "--nworkers", str(workers),
                 "--nthreads", str(threads), "--host", "127.0.0.1", "--no-dashboard", *extra],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env,
            )
        )

    def wait_for_workers(self, n: int, timeout: float = 60) -> None:
        from distributed import Client

        with Client(self.address, timeout=timeout) as c:
            c.wait_for_workers(n, timeout=timeout)

    def pids(self) -> list[int]:
        out = []
        for p in self.procs:
            try:
                out += [p.pid] + [c.pid for c in psutil.Process(p.pid).children(recursive=True)]
            except psutil.NoSuchProcess:
                pass
        return out

    def close(self) -> None:
        for p in reversed(self.procs):
            p.terminate()
        for p in self.procs:
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()


@pytest.fixture
def dask_processes(tmp_path):
    procs = DaskProcesses(tmp_path)
    procs.wait_for_workers(1)
    yield procs
    procs.close()


@pytest.fixture(autouse=True, scope="session")
def no_leftover_processes():
    """Fail loudly if the suite leaves Dask processes behind, then clean them up."""
    before = {p.pid for p in psutil.Process().children(recursive=True)}
    yield
    time.sleep(0.5)
    leftovers = []
    for p in psutil.Process().children(recursive=True):
        try:
            cmdline = " ".join(p.cmdline())
            # multiprocessing's resource tracker lives as long as pytest, by design
            if p.pid not in before and "resource_tracker" not in cmdline:
                leftovers.append(cmdline)
                p.kill()
        except psutil.NoSuchProcess:
            pass
    assert not leftovers, f"processes left behind: {leftovers}"
