"""What the batch jobs of a dask-jobqueue cluster (SLURM, PBS, ...) are doing when their workers do not come.

A job that never starts (a partition that is down, resources the queue cannot give) leaves
Dask waiting for a worker that never registers; the queue itself knows why. This asks it.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from typing import Any

_QUEUE_DIRECTIVE = re.compile(r"^#\w+\s+(?:-p|-q|--partition=?|--qos=?)\s*(\S+)", re.MULTILINE)


def _squeue(job_ids: list[str]) -> dict[str, str]:
    """``job id -> "in queue 'P', STATE (reason: R)"`` from SLURM's ``squeue``; empty elsewhere."""
    if not job_ids or shutil.which("squeue") is None:
        return {}
    try:
        out = subprocess.run(["squeue", "-h", "-j", ",".join(job_ids), "-o", "%i|%P|%T|%r"],
                             capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.TimeoutExpired):
        return {}
    states = {}
    for line in out.splitlines():
        job_id, partition, state, reason = [*line.split("|"), "", "", ""][:4]
        states[job_id.strip()] = f"in queue {partition!r}, {state} (reason: {reason})"
    return states


def pending_jobs(cluster: Any, joined: set[str]) -> str:
    """One sentence per job of ``cluster`` whose worker has not joined; ``""`` for other clusters.

    Examples
    --------
    >>> pending_jobs(object(), set())
    ''
    """
    jobs = getattr(cluster, "workers", None)
    if not isinstance(jobs, dict) or not hasattr(cluster, "job_script"):
        return ""
    waiting = {name: job for name, job in jobs.items()
               if not any(worker == name or worker.startswith(f"{name}-") for worker in joined)}
    if not waiting:
        return ""
    ids = [str(job.job_id) for job in waiting.values() if getattr(job, "job_id", None)]
    states = _squeue(ids)
    lines = []
    for job in waiting.values():
        job_id = getattr(job, "job_id", None)
        if job_id is None:
            queue = _QUEUE_DIRECTIVE.search(getattr(job, "job_header", "") or "")
            where = f" to queue {queue.group(1)!r}" if queue else ""
            lines.append(f"a job{where} was never submitted: the submit command refused it (check the "
                         "queue name; `cluster.job_script()` shows the script to submit by hand)")
        else:
            lines.append(f"job {job_id} {states.get(str(job_id), 'is not running')}")
    return " Its jobs: " + "; ".join(lines) + "."
