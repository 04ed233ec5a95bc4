"""Time to a ready SSH cluster on 127.0.0.1: ``start(ssh=...)`` against Dask's own ``SSHCluster``.

Starts a throwaway sshd (generated keys, a free port; needs openssh-server), then
alternates: Dask's ``SSHCluster(["127.0.0.1", "127.0.0.1"])`` + ``Client`` (plain
TCP, no checks), ``jupyter_nest.start(ssh="127.0.0.1,127.0.0.1")`` (host checks,
launcher, TLS, dashboard tunnel) and the same with ``insecure=True`` (no TLS).
Each starts 1 worker x 1 thread and runs one task. Prints medians and ratios,
then what listens where for the last jupyter_nest cluster.

    python benchmarks/bench_ssh_start.py [--repeat 3]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import psutil
from distributed import SSHCluster

import jupyter_nest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from bench_start import time_to_ready
from sshd_server import Keys, Sshd


def dask_ssh(sshd: Sshd, keys: Keys, known_hosts: Path) -> float:
    return time_to_ready(lambda: SSHCluster(
        ["127.0.0.1", "127.0.0.1"],
        connect_options={"port": sshd.port, "client_keys": [str(keys.user)], "known_hosts": str(known_hosts)},
        worker_options={"nthreads": 1},
        scheduler_options={"port": 0, "dashboard_address": "127.0.0.1:0"},
        remote_python=sys.executable,
    ))


def nest(sshd: Sshd, keys: Keys, known_hosts: Path, insecure: bool) -> float:
    t = time.perf_counter()
    session = jupyter_nest.start(
        ssh="127.0.0.1,127.0.0.1", threads=1, insecure=insecure,
        ssh_options={"port": sshd.port, "key": str(keys.user), "known_hosts": str(known_hosts),
                     "remote_python": sys.executable},
    )
    session.client.submit(sum, [1, 2]).result()
    elapsed = time.perf_counter() - t
    jupyter_nest.stop()
    return elapsed


def listening(sshd: Sshd) -> list[str]:
    out = []
    for p in sshd.descendants():
        try:
            what = " ".join(p.cmdline())
            for c in p.net_connections(kind="inet"):
                if c.status == psutil.CONN_LISTEN:
                    role = ("scheduler" if "Scheduler" in what else "nanny/worker" if "dask_spec" in what
                            else "worker process")
                    out.append(f"{c.laddr.ip}:{c.laddr.port}  {role} (pid {p.pid})")
        except psutil.NoSuchProcess:
            pass
    return sorted(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    keys = Keys(Path(tempfile.mkdtemp(prefix="bench-ssh-")))
    sshd = Sshd(keys)
    known_hosts = keys.known_hosts(["127.0.0.1"], sshd.port)
    names = ["SSHCluster()+Client() (tcp)", "start(ssh=...) (tls)", "start(ssh=..., insecure)"]
    times: dict[str, list[float]] = {n: [] for n in names}
    try:
        for _ in range(args.repeat):
            times[names[0]].append(dask_ssh(sshd, keys, known_hosts))
            times[names[1]].append(nest(sshd, keys, known_hosts, insecure=False))
            times[names[2]].append(nest(sshd, keys, known_hosts, insecure=True))
        base = statistics.median(times[names[0]])
        print(f"{'':30s} {'median s':>9s} {'min s':>7s} {'ratio':>6s}")
        for name, ts in times.items():
            print(f"{name:30s} {statistics.median(ts):9.3f} {min(ts):7.3f} {statistics.median(ts) / base:6.2f}")
        session = jupyter_nest.start(
            ssh="127.0.0.1,127.0.0.1", threads=1,
            ssh_options={"port": sshd.port, "key": str(keys.user), "known_hosts": str(known_hosts),
                         "remote_python": sys.executable},
        )
        print(f"\nlistening, scheduler {session.address}, dashboard {session.summary().dashboard} (tunnel):")
        for line in listening(sshd):
            print("  " + line)
        jupyter_nest.stop()
    finally:
        sshd.close()


if __name__ == "__main__":
    main()
