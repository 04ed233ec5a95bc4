"""The test suite's own process helpers hold when processes end while they look."""

from __future__ import annotations

import subprocess
import sys

import psutil
import pytest
from support.processes import running, wait_gone


def test_a_process_that_ends_while_it_is_looked_at_counts_as_gone(monkeypatch: pytest.MonkeyPatch) -> None:
    # The race (the process exits between "does it exist" and "what state is it in") cannot be timed for
    # real, so the state query fails as it did in a CI run.
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        def ended(self: psutil.Process) -> str:
            raise psutil.NoSuchProcess(self.pid)

        monkeypatch.setattr(psutil.Process, "status", ended)
        assert wait_gone([proc.pid], timeout=5) == []
    finally:
        proc.kill()
        proc.wait()


def test_live_zombie_and_reaped_processes() -> None:
    proc = subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.read()"], stdin=subprocess.PIPE)
    assert running(proc.pid)
    proc.stdin.close()
    assert wait_gone([proc.pid], timeout=10) == []  # a zombie until reaped
    proc.wait()
    assert not running(proc.pid)
