"""``%nest_cluster start --cluster dask_jobqueue.SLURMCluster`` against a real SLURM the tests start on this
machine (one controller, one node): jobs really queued by sbatch, summary, status, scale, slot view, stop,
and a job that never starts."""

from __future__ import annotations

import os
import sys
import time

import dask
import pytest
from support.kernels import TESTS
from support.recursions import fib
from support.slurm import Slurm

import jupyter_nest
from jupyter_nest.errors import NestTimeoutError
from jupyter_nest.monitor import snapshot

pytestmark = [pytest.mark.timeout(240), pytest.mark.slow, pytest.mark.slurm]


@pytest.fixture(scope="module")
def slurm(tmp_path_factory):
    server = Slurm(tmp_path_factory.mktemp("slurm"))
    yield server
    left = server.jobs()
    alive = server.close()
    assert not left, f"jobs left in the queue: {left}"
    assert not alive, f"SLURM daemons left running: {alive}"


@pytest.fixture
def slurm_env(slurm, monkeypatch):
    """sbatch and squeue find the test's SLURM; the jobs' workers find the test modules."""
    monkeypatch.setenv("SLURM_CONF", str(slurm.conf))
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(TESTS), os.environ.get("PYTHONPATH", "")]))
    return slurm


def options(slurm: Slurm, queue: str) -> str:
    return " ".join(f"--option {o}" for o in [
        "cores=1", "memory=1GB", "processes=1", f"queue={queue}", "walltime=00:10:00",
        f"log_directory={slurm.folder / 'logs'}", f"python={sys.executable}",
        "scheduler_options={'host':'127.0.0.1','dashboard_address':':0'}",
    ])


def wait_for(condition, what: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(0.2)


def test_start_scale_status_view_and_stop_on_slurm(ipython, slurm_env):
    client = ipython.run_line_magic(
        "nest_cluster", f"start --cluster dask_jobqueue.SLURMCluster {options(slurm_env, 'debug')} --workers 2")
    jobs = slurm_env.jobs()
    assert len(jobs) == 2 and all(job.endswith(" debug RUNNING") for job in jobs), jobs
    summary = client.summary()
    assert (summary.kind, summary.workers, summary.threads) == ("SLURMCluster", 2, 2)
    assert fib.spawn(12).result() == 144
    status = ipython.run_line_magic("nest_cluster", "status")
    assert len(status.rows) == 2 and "2 workers x 1 thread" in status.text()
    assert snapshot(client)["totals"]["workers"] == 2

    assert ipython.run_line_magic("nest_cluster", "scale 1").workers == 1
    wait_for(lambda: len(slurm_env.jobs()) == 1, f"scale 1 left the jobs {slurm_env.jobs()}")
    assert snapshot(client)["totals"]["workers"] == 1
    assert fib.spawn(10).result() == 55

    ipython.run_line_magic("nest_cluster", "stop")
    wait_for(lambda: slurm_env.jobs() == [], f"stop left the jobs {slurm_env.jobs()}")


def test_a_job_that_never_starts_names_the_queue_and_the_job(ipython, slurm_env):
    started = time.monotonic()
    with dask.config.set({"jupyter-nest.start-timeout": 8}), pytest.raises(NestTimeoutError) as raised:
        ipython.run_line_magic(
            "nest_cluster", f"start --cluster dask_jobqueue.SLURMCluster {options(slurm_env, 'closed')} --workers 1")
    assert time.monotonic() - started < 30
    message = str(raised.value)
    assert "Asked for 1 workers, 0 arrived within 8 s. Its jobs: job " in message
    assert "in queue 'closed', PENDING (reason: PartitionDown)" in message
    assert "jupyter_nest stopped the cluster (and cancelled its jobs)" in message
    assert jupyter_nest.current() is None
    wait_for(lambda: slurm_env.jobs() == [], f"the failed start left the jobs {slurm_env.jobs()}")
