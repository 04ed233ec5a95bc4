"""Real Dask processes started as a remote cluster would be, and waiting for processes to end."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
import time
from pathlib import Path

import psutil


def wait_gone(pids: list[int], timeout: float = 20) -> list[int]:
    """Wait for processes to exit; return those still alive after ``timeout``."""
    deadline = time.monotonic() + timeout
    alive = list(pids)
    while alive and time.monotonic() < deadline:
        alive = [p for p in alive if running(p)]
        time.sleep(0.1)
    return alive


def running(pid: int) -> bool:
    """Whether ``pid`` is a live process (not a zombie); one that ends while we look is not."""
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


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
        for p in reversed(self.procs):  # the workers before their scheduler
            stop(p)


def stop(proc: subprocess.Popen[bytes], timeout: float = 10) -> None:
    """End ``proc``: SIGTERM, then SIGKILL if it has not exited within ``timeout``.

    How long a ``dask worker`` takes to exit on SIGTERM is Dask's business, not the tests': a
    ``--no-nanny`` worker, whose loop the CLI just stops, once took over 20 s on a loaded CI machine.
    """
    proc.terminate()
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(10)


def packages_without_jupyter_nest(where: Path) -> Path:
    """A copy (of links) of this environment's site-packages, without jupyter_nest in any form."""
    where.mkdir()
    for entry in Path(sysconfig.get_paths()["purelib"]).iterdir():
        if not entry.name.lower().startswith(("jupyter_nest", "_editable_impl_jupyter_nest")):
            (where / entry.name).symlink_to(entry)
    return where


def worker_without_jupyter_nest(address: str, tmp_path: Path, name: str) -> subprocess.Popen[bytes]:
    """A ``dask worker`` process of one thread for ``address`` that cannot import jupyter_nest."""
    packages = packages_without_jupyter_nest(tmp_path / "site-packages")
    bare = (f"import sys; sys.path.insert(0, {str(packages)!r}); "
            f"sys.argv = ['dask-worker', {address!r}, '--no-nanny', '--nthreads', '1', "
            f"'--host', '127.0.0.1', '--no-dashboard', '--name', {name!r}]; "
            "from distributed.cli.dask_worker import main; main()")
    return subprocess.Popen(
        # -S: no site-packages (and no .pth files) but the copy above
        # (and a directory without a jupyter_nest checkout in it to run in).
        [sys.executable, "-S", "-c", bare], cwd=tmp_path,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        env={**os.environ, "DASK_DISTRIBUTED__WORKER__PROFILE__ENABLED": "False"},
    )
