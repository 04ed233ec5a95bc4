"""A real IPython kernel in its own process, driven as a notebook drives it."""

from __future__ import annotations

import json
import queue
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jupyter_client import KernelManager

# Kernels start in tests/, so relative paths in cells mean the same in every test.
TESTS = Path(__file__).resolve().parent.parent


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
        self.manager.start_kernel(cwd=str(TESTS))
        self.client = self.manager.client()
        self.client.start_channels()
        self.client.wait_for_ready(timeout=60)

    @property
    def pid(self) -> int:
        return self.manager.provisioner.pid

    def run(self, code: str, timeout: float = 60) -> Reply:
        """Execute ``code`` as a cell and collect every iopub message until the kernel is idle."""
        return self.collect(self.client.execute(code), timeout, code)

    def collect(self, msg_id: str, timeout: float = 60, code: str = "") -> Reply:
        """Every iopub message of the execute request ``msg_id`` until the kernel is idle, and its reply."""
        reply = Reply(status="?")
        deadline = time.monotonic() + timeout
        while True:
            try:
                msg = self.client.get_iopub_msg(timeout=max(0.1, deadline - time.monotonic()))
            except queue.Empty:
                raise TimeoutError(f"cell did not finish within {timeout} s: {code or msg_id!r}") from None
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

    def published(self, until: Callable[[dict[str, Any]], bool], timeout: float) -> list[dict[str, Any]]:
        """The iopub messages of any cell, as they come, up to the first that satisfies ``until`` (or ``timeout``).

        Output a background thread sends while no cell runs (a progress bar's last update, say)
        carries the header of the cell that ran last, whose messages ``run`` no longer collects.
        """
        messages: list[dict[str, Any]] = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                msg = self.client.get_iopub_msg(timeout=max(0.1, deadline - time.monotonic()))
            except queue.Empty:
                break
            messages.append(msg)
            if until(msg):
                break
        return messages

    def value(self, expr: str, timeout: float = 60) -> Any:
        """Evaluate ``expr`` in the kernel and return it, JSON-decoded."""
        reply = self.run(f"import json as _j; print(_j.dumps({expr}))", timeout).check()
        return json.loads(reply.stdout.strip().splitlines()[-1])

    def shutdown(self) -> None:
        self.client.stop_channels()
        if self.manager.is_alive():
            self.manager.shutdown_kernel(now=False)
