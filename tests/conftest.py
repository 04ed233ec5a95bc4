"""Shared fixtures: real IPython shells, real kernels and real Dask processes."""

from __future__ import annotations

import os
import time

import psutil
import pytest
from support.kernels import Kernel
from support.lab._browser import chromium_path
from support.processes import DaskProcesses
from support.slurm import available as slurm_available
from support.sshd_server import SSHD

import jupyter_nest


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The notebooks (nbval) run in real kernels with real clusters: the slow tier.

    Kernels started from here on show a wait's progress bar only past 5 s (users get it past 1 s): the
    notebooks' quick cells wait 0.2-1 s on a quiet machine and several times that on a loaded one, and a
    bar in some runs only would change their outputs. The one wait they keep a bar of (notebook 05's
    deadlock, 8 s) is far past 5 s; tests of the bars set their threshold themselves.
    """
    for item in items:
        if item.path.suffix == ".ipynb":
            item.add_marker(pytest.mark.slow)
            item.add_marker(pytest.mark.kernel)
            os.environ["DASK_JUPYTER_NEST__PROGRESS__WAIT_BAR_AFTER"] = "5s"


def _has_chromium() -> bool:
    try:
        chromium_path()
    except RuntimeError:
        return False
    return True


# marker -> the Debian package its tests need, and whether this machine has it
SYSTEM_PACKAGES = {
    "browser": ("chromium", _has_chromium),
    "ssh": ("openssh-server", lambda: os.access(SSHD, os.X_OK)),
    "slurm": ("slurmctld slurmd slurm-client munge", slurm_available),
}


def pytest_collection_finish(session: pytest.Session) -> None:
    """A missing system package is one line naming it, before any test runs, not an error per test."""
    selected = {marker for item in session.items for marker in SYSTEM_PACKAGES if item.get_closest_marker(marker)}
    missing = [SYSTEM_PACKAGES[m][0] for m in sorted(selected) if not SYSTEM_PACKAGES[m][1]()]
    if missing:
        markers = " and ".join(f"not {m}" for m in sorted(selected))
        pytest.exit(f"The selected tests need the Debian package(s) {', '.join(missing)}: run "
                    f"`bash scripts/install-test-deps.sh` (apt-get install {' '.join(missing)}), or "
                    f"leave those tests out with -m \"{markers}\".", returncode=pytest.ExitCode.USAGE_ERROR)


@pytest.fixture
def ipython():
    """An in-process IPython shell with the extension loaded; its cluster is stopped afterwards."""
    from IPython.testing.globalipapp import get_ipython

    shell = get_ipython()
    shell.run_line_magic("load_ext", "jupyter_nest")
    yield shell
    jupyter_nest.stop()


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
