"""The oldest Dask that pyproject.toml allows really works: the conformance suite passes at the floor.

CI installs the newest dask/distributed, so nothing else here ever runs at the floor; this builds a venv
with exactly the floor release and jupyter_nest's other dependencies, and runs
``tests/runtime/test_dask_conformance.py`` in it. When a change needs a newer Dask, this fails until the
floor (and its comment in pyproject.toml) is raised.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
from packaging.requirements import Requirement

tomllib = pytest.importorskip("tomllib")  # Python 3.11+; the suite's CI runs 3.11

REPO = Path(__file__).resolve().parents[2]
PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())
DEPENDENCIES = [Requirement(r) for r in PYPROJECT["project"]["dependencies"]]
DASK = ("dask", "distributed")


def floor(name: str, requirements: list[Requirement]) -> str:
    """The version in ``name>=X``: the oldest release allowed."""
    [req] = [r for r in requirements if r.name == name]
    [spec] = [s for s in req.specifier if s.operator == ">="]
    return spec.version


FLOOR = floor("dask", DEPENDENCIES)


def test_dask_and_distributed_share_one_floor_and_binder_uses_it():
    """They are released together with one version number; a mixed pair is not a combination Dask tests."""
    assert floor("distributed", DEPENDENCIES) == FLOOR
    lines = (REPO / "binder" / "requirements.txt").read_text().splitlines()
    binder = [Requirement(line) for line in lines if line.strip() and not line.startswith("#")]
    assert [floor(name, binder) for name in DASK] == [FLOOR, FLOOR]


def run(cmd: list[str], timeout: float, **kwargs) -> subprocess.CompletedProcess[str]:
    """Run ``cmd`` in its own session; on a timeout, kill the whole session (Dask's worker processes too)."""
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True, **kwargs)
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, _ = proc.communicate()
        pytest.fail(f"{cmd} took over {timeout} s:\n{out[-5000:]}")
    return subprocess.CompletedProcess(cmd, proc.returncode, out)


def check(cmd: list[str], timeout: float, **kwargs) -> str:
    result = run(cmd, timeout, **kwargs)
    assert result.returncode == 0, f"{cmd} failed:\n{result.stdout[-5000:]}"
    return result.stdout


def processes_of(venv: Path) -> list[psutil.Process]:
    """Live processes started with the venv's python (Dask's workers and nannies are spawned with it)."""
    found = []
    for p in psutil.process_iter(["cmdline", "status"]):
        cmdline = p.info["cmdline"] or []
        if cmdline and cmdline[0].startswith(str(venv)) and p.info["status"] != psutil.STATUS_ZOMBIE:
            found.append(p)
    return found


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_the_conformance_suite_passes_at_the_oldest_dask_allowed(tmp_path):
    venv = tmp_path / "venv"
    python = str(venv / "bin" / "python")
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME")}
    # Dask's scratch space and pip's build folders go under tmp_path; SKIP_JUPYTER_BUILDER: no npm build
    # (the lab extension plays no part in these tests).
    (tmp_path / "tmp").mkdir()
    env.update(TMPDIR=str(tmp_path / "tmp"), PYTHONNOUSERSITE="1", SKIP_JUPYTER_BUILDER="1")
    started = time.monotonic()
    check([sys.executable, "-m", "venv", str(venv)], 120, env=env)
    # jupyter_nest's own dependencies with Dask pinned at the floor, and the test runner (this run's pytest).
    pinned = [f"{name}=={FLOOR}" for name in DASK]
    others = [str(r) for r in DEPENDENCIES if r.name not in DASK]
    check([python, "-m", "pip", "install", "-q", *pinned, *others, f"pytest=={pytest.__version__}",
           "pytest-timeout"], 600, env=env)
    check([python, "-m", "pip", "install", "-q", "--no-deps", "-e", str(REPO)], 300, env=env)
    installed = time.monotonic()

    versions = check([python, "-c", "import dask, distributed, jupyter_nest; "
                      "print(dask.__version__, distributed.__version__, jupyter_nest.__file__)"], 120, env=env)
    dask_version, distributed_version, where = versions.split()
    assert (dask_version, distributed_version) == (FLOOR, FLOOR)
    assert Path(where).is_relative_to(REPO), where

    # Run from tmp_path: what Dask writes to the working folder (cluster dumps of failed tests) stays there.
    result = run([python, "-m", "pytest", "--rootdir", str(REPO), "-c", str(REPO / "pyproject.toml"),
                  "-o", "addopts=", "-p", "no:cacheprovider", "-q",
                  str(REPO / "tests" / "runtime" / "test_dask_conformance.py")], 600, cwd=tmp_path, env=env)
    summary = result.stdout.strip().splitlines()[-1]
    print(f"at Dask {FLOOR}: installing took {installed - started:.0f} s, "
          f"the conformance suite {time.monotonic() - installed:.0f} s: {summary}")
    assert result.returncode == 0 and re.search(r"\d+ passed", summary) and "failed" not in summary, \
        f"at Dask {FLOOR}:\n{result.stdout[-8000:]}"

    # The suite closes its clusters: nothing of the venv's may outlive it (the resource tracker gets a moment).
    deadline = time.monotonic() + 20
    while (left := processes_of(venv)) and time.monotonic() < deadline:
        time.sleep(0.2)
    for p in left:
        p.kill()
    assert not left, f"processes left running: {[p.info['cmdline'] for p in left]}"
