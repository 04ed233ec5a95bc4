"""A real Jupyter server (``jupyter lab``, ``jupyter notebook`` or ``jupyter server``) in a subprocess, isolated
from the user's.

It listens on 127.0.0.1 with a random token; its root, runtime, config, data
and settings folders are temporary, so tests see only their own kernels and
clusters, and no setting of the user's changes what they see.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import psutil


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """Report a redirect (e.g. to the login page) as it is, instead of following it."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


_opener = urllib.request.build_opener(_NoRedirect)


# The module each app runs as, and the flag that puts the app in the page as ``window.jupyterapp``
# (the browser helpers drive notebooks through it).
_APPS = {
    "lab": ("jupyterlab", "--LabApp.expose_app_in_browser=True"),
    "notebook": ("notebook", "--JupyterNotebookApp.expose_app_in_browser=True"),
    "server": ("jupyter_server", None),
}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class JupyterServer:
    """``jupyter lab``, ``jupyter notebook`` (Notebook 7) or ``jupyter server`` for one test or script.

    Parameters
    ----------
    app : {"lab", "notebook", "server"}
    start_timeout : float
        Seconds to wait for the server to answer.
    env : dict, optional
        Extra environment variables for the server and its kernels.
    config : str, optional
        Python for the server's ``jupyter_server_config.py`` (e.g. an ``Authorizer`` class and
        ``c.ServerApp.authorizer_class = ...``), in its private config folder.

    Examples
    --------
    >>> with JupyterServer(app="server") as server:  # doctest: +SKIP
    ...     server.api("GET", "api/status")["started"]
    '2026-...'
    """

    def __init__(self, app: str = "server", start_timeout: float = 90, env: dict[str, str] | None = None,
                 config: str | None = None) -> None:
        if app not in _APPS:
            raise ValueError(f"app must be one of {sorted(_APPS)}, not {app!r}")
        self.app = app
        self.start_timeout = start_timeout
        self.token = secrets.token_hex(16)
        self.tmp = Path(tempfile.mkdtemp(prefix="jupyter-nest-lab-"))
        self.root_dir = self.tmp / "root"
        self.runtime_dir = self.tmp / "runtime"
        self.settings_dir = self.tmp / "settings"
        for d in (self.root_dir, self.runtime_dir, self.settings_dir, self.tmp / "config", self.tmp / "data"):
            d.mkdir()
        # No news or update checks: they pop a toast over what the screenshots should show.
        # (Notebook 7 reads the same JupyterLab settings folder.)
        notification = self.settings_dir / "@jupyterlab" / "apputils-extension" / "notification.jupyterlab-settings"
        notification.parent.mkdir(parents=True)
        notification.write_text(json.dumps({"fetchNews": "false", "checkForUpdates": False}))
        if config is not None:
            (self.tmp / "config" / "jupyter_server_config.py").write_text(config)
        self.env = {
            **os.environ,
            "JUPYTER_RUNTIME_DIR": str(self.runtime_dir),
            "JUPYTER_CONFIG_DIR": str(self.tmp / "config"),
            "JUPYTER_DATA_DIR": str(self.tmp / "data"),
            "JUPYTERLAB_SETTINGS_DIR": str(self.settings_dir),
            "JUPYTERLAB_WORKSPACES_DIR": str(self.tmp / "workspaces"),
            **(env or {}),
        }
        self.process: subprocess.Popen[bytes] | None = None
        self.url = ""
        self.log_path = self.tmp / "server.log"

    # -- lifecycle ---------------------------------------------------------

    def start(self) -> JupyterServer:
        module, expose_app = _APPS[self.app]
        command = [
            sys.executable, "-m", module,
            "--ServerApp.ip=127.0.0.1",
            f"--ServerApp.port={_free_port()}",
            "--ServerApp.port_retries=50",
            "--ServerApp.open_browser=False",
            "--ServerApp.allow_root=True",  # CI runs as root
            f"--ServerApp.root_dir={self.root_dir}",
            f"--IdentityProvider.token={self.token}",
        ]
        if expose_app:
            command.append(expose_app)
        self._log = self.log_path.open("wb")
        self.process = subprocess.Popen(command, stdout=self._log, stderr=subprocess.STDOUT, env=self.env,
                                        cwd=self.root_dir, start_new_session=True)
        try:
            self._wait_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + self.start_timeout
        assert self.process is not None, "start() first"
        info = self.runtime_dir / f"jpserver-{self.process.pid}.json"
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"jupyter {self.app} exited at start:\n{self.log()}")
            if info.exists():
                try:
                    self.url = json.loads(info.read_text())["url"]
                    self.api("GET", "api/status")
                    return
                except (ValueError, KeyError, OSError):
                    pass
            time.sleep(0.2)
        raise TimeoutError(f"jupyter {self.app} did not answer within {self.start_timeout} s:\n{self.log()}")

    def stop(self) -> None:
        """Shut the kernels down (so they stop their clusters), then the server; kill what remains."""
        if self.process is None:
            return
        family = self._family()
        if self.process.poll() is None:
            try:
                for kernel in self.api("GET", "api/kernels"):
                    self.api("DELETE", f"api/kernels/{kernel['id']}", timeout=30)
            except OSError:
                pass
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        _, alive = psutil.wait_procs(family, timeout=20)
        for p in alive:
            try:
                p.kill()
            except psutil.NoSuchProcess:
                pass
        self._log.close()
        self.process = None
        shutil.rmtree(self.tmp, ignore_errors=True)

    def _family(self) -> list[psutil.Process]:
        if self.process is None:
            return []
        try:
            return psutil.Process(self.process.pid).children(recursive=True)
        except psutil.NoSuchProcess:
            return []

    def __enter__(self) -> JupyterServer:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    # -- use ---------------------------------------------------------------

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def request(self, method: str, path: str, body: Any = None, token: str | None = "",
                timeout: float = 30) -> tuple[int, bytes]:
        """An HTTP request to the server; ``token=None`` sends none, ``""`` sends the server's.

        Redirects are returned, not followed.
        """
        headers = {"Content-Type": "application/json"}
        token = self.token if token == "" else token
        if token is not None:
            headers["Authorization"] = f"token {token}"
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.url.rstrip("/") + "/" + path, data=data, method=method,
                                     headers=headers)
        try:
            with _opener.open(req, timeout=timeout) as r:
                return r.status, r.read()
        except urllib.error.HTTPError as e:
            return e.code, e.read()

    def api(self, method: str, path: str, body: Any = None, timeout: float = 30) -> Any:
        """A JSON request with the token; raises ``OSError`` on a status of 400 or more."""
        status, content = self.request(method, path, body, timeout=timeout)
        if status >= 400:
            raise OSError(f"{method} {path}: HTTP {status}: {content[:500]!r}")
        return json.loads(content) if content else None

    def write_notebook(self, path: str, cells: list[str]) -> Path:
        """Write a notebook of code cells under the server's root."""
        import nbformat

        nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
        nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
        target = self.root_dir / path
        target.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, target)
        return target

    def connection_file(self, kernel_id: str) -> Path:
        return self.runtime_dir / f"kernel-{kernel_id}.json"
