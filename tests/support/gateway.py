"""A real ``dask-gateway-server`` on 127.0.0.1 with its local backend, started and stopped by a test."""

from __future__ import annotations

import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import psutil

from .kernels import TESTS
from .processes import wait_gone
from .sshd_server import free_port

PASSWORD = "nest-test-password"


class GatewayServer:
    """``dask-gateway-server`` with ``UnsafeLocalBackend`` (clusters are processes of this user) and
    ``SimpleAuthenticator`` (any user name, one password). Workers can import the test modules."""

    def __init__(self, tmp_path: Path) -> None:
        self.address = f"http://127.0.0.1:{free_port()}"
        python = sys.executable
        config = tmp_path / "dask_gateway_config.py"
        config.write_text(
            f'c.Gateway.address = "127.0.0.1:{free_port()}"\n'
            f'c.Proxy.address = "{self.address.removeprefix("http://")}"\n'
            'c.Gateway.backend_class = "dask_gateway_server.backends.local.UnsafeLocalBackend"\n'
            'c.Gateway.authenticator_class = "dask_gateway_server.auth.SimpleAuthenticator"\n'
            f'c.SimpleAuthenticator.password = "{PASSWORD}"\n'
            f'c.LocalBackend.clusters_directory = "{tmp_path / "clusters"}"\n'
            'c.LocalClusterConfig.worker_cores = 1\n'
            'c.LocalClusterConfig.worker_memory = "1 G"\n'
            f'c.LocalClusterConfig.scheduler_cmd = ["{python}", "-m", "distributed.cli.dask_scheduler"]\n'
            f'c.LocalClusterConfig.worker_cmd = ["{python}", "-m", "distributed.cli.dask_worker"]\n'
            f'c.LocalClusterConfig.environment = {{"PYTHONPATH": "{TESTS}", '
            '"DASK_DISTRIBUTED__WORKER__PROFILE__ENABLED": "False"}\n'
        )
        self.log = tmp_path / "gateway.log"
        with open(self.log, "wb") as log:
            self.process = subprocess.Popen(
                [str(Path(python).parent / "dask-gateway-server"), "-f", str(config)],
                stdout=log, stderr=subprocess.STDOUT, cwd=tmp_path,
            )
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{self.address}/api/health", timeout=2) as reply:
                    if reply.status == 200:
                        break
            except OSError:
                pass
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.close()
                raise RuntimeError(f"dask-gateway-server did not start:\n{self.log.read_text()}")
            time.sleep(0.2)

    def processes(self) -> list[int]:
        """The server and every process it runs (proxy, schedulers, workers)."""
        try:
            return [self.process.pid, *(p.pid for p in psutil.Process(self.process.pid).children(recursive=True))]
        except psutil.NoSuchProcess:
            return []

    def close(self) -> list[int]:
        """Stop the server; return the pids of its processes still alive after that (none, we hope)."""
        pids = self.processes()
        self.process.terminate()
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            self.process.kill()
        return wait_gone(pids, timeout=20)
