"""A real SLURM on this machine: munged, slurmctld and one slurmd (node 127.0.0.1), run as root from a tmp folder.

Debian's ``slurmctld``, ``slurmd``, ``slurm-client`` and ``munge``; every file (munge key and
socket, slurm.conf, state, spool, logs) lives in the folder, nothing of the system's is used.
Commands find it through ``SLURM_CONF``.
"""

from __future__ import annotations

import os
import socket
import subprocess
import time
from pathlib import Path

from .processes import wait_gone
from .sshd_server import free_port

DAEMONS = ("/usr/sbin/munged", "/usr/sbin/slurmctld", "/usr/sbin/slurmd", "/usr/bin/sbatch")
NODE = "nestnode"


def available() -> bool:
    return all(os.access(path, os.X_OK) for path in DAEMONS)


class Slurm:
    """One controller and one node of 2 CPUs; partition ``debug`` (default) is up, ``closed`` is down."""

    def __init__(self, folder: Path) -> None:
        if os.geteuid() != 0:
            raise RuntimeError("The SLURM tests run slurmctld and slurmd as root (SlurmUser=root): run them as "
                               "root, as CI does, or leave them out with -m 'not slurm'.")
        self.folder = folder
        for sub in ("state", "spool", "logs"):
            (folder / sub).mkdir()
        key = folder / "munge.key"
        key.write_bytes(os.urandom(1024))
        key.chmod(0o600)
        munge_socket = folder / "munge.socket"
        self.conf = folder / "slurm.conf"
        self.conf.write_text("\n".join([
            "ClusterName=nest",
            f"SlurmctldHost={socket.gethostname()}(127.0.0.1)",
            f"SlurmctldPort={free_port()}",
            f"SlurmdPort={free_port()}",
            "SlurmUser=root",
            "SlurmdUser=root",
            "AuthType=auth/munge",
            f"AuthInfo=socket={munge_socket}",
            "CredType=cred/munge",
            f"StateSaveLocation={folder / 'state'}",
            f"SlurmdSpoolDir={folder / 'spool'}",
            f"SlurmctldPidFile={folder / 'slurmctld.pid'}",
            f"SlurmdPidFile={folder / 'slurmd.pid'}",
            f"SlurmctldLogFile={folder / 'logs' / 'slurmctld.log'}",
            f"SlurmdLogFile={folder / 'logs' / 'slurmd.log'}",
            "ProctrackType=proctrack/linuxproc",
            "TaskPlugin=task/none",
            "SelectType=select/cons_tres",
            "SelectTypeParameters=CR_Core",
            "ReturnToService=2",
            "MpiDefault=none",
            "JobAcctGatherType=jobacct_gather/none",
            "AccountingStorageType=accounting_storage/none",
            f"NodeName={NODE} NodeHostname={socket.gethostname()} NodeAddr=127.0.0.1 CPUs=2 RealMemory=2000 State=UNKNOWN",
            f"PartitionName=debug Nodes={NODE} Default=YES MaxTime=INFINITE State=UP",
            f"PartitionName=closed Nodes={NODE} MaxTime=INFINITE State=DOWN",
            "",
        ]))
        self.env = {**os.environ, "SLURM_CONF": str(self.conf)}
        self.daemons: list[subprocess.Popen[bytes]] = []
        with open(folder / "logs" / "daemons.out", "wb") as out:
            self.daemons.append(subprocess.Popen(
                ["/usr/sbin/munged", "-F", "-f", "-S", str(munge_socket), "--key-file", str(key),
                 "--log-file", str(folder / "logs" / "munged.log"), "--pid-file", str(folder / "munged.pid"),
                 "--seed-file", str(folder / "munged.seed")], stdout=out, stderr=out))
            self._wait(lambda: munge_socket.exists(), "munged did not create its socket")
            for daemon in (["/usr/sbin/slurmctld", "-D", "-i"], ["/usr/sbin/slurmd", "-D", "-N", NODE]):
                self.daemons.append(subprocess.Popen(daemon, env=self.env, stdout=out, stderr=out))
        self._wait(lambda: self.run("sinfo", "-h", "-p", "debug", "-o", "%t").strip() == "idle",
                   "the node did not become idle")

    def _wait(self, ready, what: str, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while not ready():
            if time.monotonic() > deadline or any(p.poll() is not None for p in self.daemons):
                logs = "\n".join(f.read_text()[-2000:] for f in (self.folder / "logs").glob("*"))
                self.close()
                raise RuntimeError(f"SLURM did not start: {what}\n{logs}")
            time.sleep(0.2)

    def run(self, *command: str) -> str:
        return subprocess.run(command, env=self.env, capture_output=True, text=True, timeout=30).stdout

    def jobs(self) -> list[str]:
        """``JOBID PARTITION STATE`` of every job in the queue."""
        return self.run("squeue", "-h", "-o", "%i %P %T").split("\n")[:-1]

    def close(self) -> list[int]:
        """Cancel every job and stop the daemons; return the pids still alive after that."""
        if self.daemons and self.daemons[-1].poll() is None:
            self.run("scancel", "--user", "root")
        pids = [p.pid for p in self.daemons]
        for p in reversed(self.daemons):
            p.terminate()
        return wait_gone(pids, timeout=30)
