"""Which clusters the kernels on this machine run: one small JSON file per kernel.

A kernel that opens a session writes ``<runtime dir>/jupyter-nest/<kernel id>.json``
(scheduler address, dashboard, kind, kernel id, pid); the Jupyter server
extension reads these files to show the clusters in the Nest panel. The runtime
dir is the folder of the kernel's connection file, so the kernel and the server
that started it agree on it whatever their environments say. Stopping the
session marks the file stopped (the panel says so); the kernel's exit removes it.
Outside a kernel (no connection file) every call here does nothing.
"""

from __future__ import annotations

import atexit
import json
import logging
import os
import tempfile
import time
from pathlib import Path
from typing import Any

import psutil

from .._wire import REGISTRY_SUBDIR, REGISTRY_VERSION, RegistryEntry, TLSFiles

logger = logging.getLogger(__name__)


def connection_file() -> Path | None:
    """The connection file of the kernel this code runs in, or ``None`` outside a kernel.

    Examples
    --------
    >>> connection_file() is None  # in a plain Python process
    True
    """
    try:
        from ipykernel.connect import get_connection_file
        from ipykernel.kernelapp import IPKernelApp
    except ImportError:
        return None
    # `initialized()` is also true in any other traitlets application (a Jupyter server),
    # whose instance it then is: only an IPKernelApp has a connection file.
    app = IPKernelApp._instance if IPKernelApp.initialized() else None
    if not isinstance(app, IPKernelApp):
        return None
    try:
        return Path(get_connection_file(app)).resolve()
    except (OSError, RuntimeError):
        return None


def kernel_id(connection: Path) -> str:
    """The kernel id Jupyter servers give a kernel: its connection file is ``kernel-<id>.json``."""
    return connection.stem.removeprefix("kernel-")


def directory(runtime_dir: str | os.PathLike[str]) -> Path:
    """Where the entries of kernels started with ``runtime_dir`` as their connection folder live."""
    return Path(runtime_dir) / REGISTRY_SUBDIR


def _entry_path_of(connection: Path) -> Path:
    return directory(connection.parent) / f"{kernel_id(connection)}.json"


def _entry_path() -> Path | None:
    connection = connection_file()
    return None if connection is None else _entry_path_of(connection)


def _write(path: Path, entry: RegistryEntry) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    # Write then rename, so a reader never sees half a file.
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".", suffix=".tmp")
    with os.fdopen(fd, "w") as f:
        json.dump(entry, f)
    os.replace(tmp, path)


def _tls_files(security: Any, entry_path: Path) -> TLSFiles | None:
    """The certificate files a ``tls://`` session uses, so the server can reach the scheduler too.

    Certificates that exist only in memory (``Security.temporary()``, SSH clusters) are
    written beside the entry, readable by this user only, and removed with it.
    """
    if security is None:
        return None
    files: dict[str, str] = {}
    for name, attr in (("ca", "tls_ca_file"), ("cert", "tls_client_cert"), ("key", "tls_client_key")):
        value = getattr(security, attr, None)
        if isinstance(value, str) and os.path.isfile(value):
            files[name] = os.path.abspath(value)
        elif isinstance(value, str) and value.lstrip().startswith("-----BEGIN"):
            pem = entry_path.with_suffix(f".{name}.pem")
            pem.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(pem, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as f:
                f.write(value)
            files[name] = str(pem)
        else:
            return None
    return TLSFiles(ca=files["ca"], cert=files["cert"], key=files["key"])


def register(session: Any) -> Path | None:
    """Record that this kernel opened ``session``; return the file written, or ``None`` outside a kernel.

    Registration never fails a start: a file that cannot be written is logged.

    Examples
    --------
    >>> import jupyter_nest
    >>> register(jupyter_nest.start(workers=1))  # in a kernel  # doctest: +SKIP
    PosixPath('/home/me/.local/share/jupyter/runtime/jupyter-nest/4f1c....json')
    """
    connection = connection_file()
    if connection is None:
        return None
    path = _entry_path_of(connection)
    try:
        dashboard = session.summary().dashboard
    except Exception:  # a scheduler gone already: the panel will say so
        dashboard = None
    me = psutil.Process()
    entry: RegistryEntry = {
        "version": REGISTRY_VERSION,
        "kernel_id": kernel_id(connection),
        "connection_file": str(connection),
        "pid": me.pid,
        "pid_started": me.create_time(),
        "scheduler": session.address,
        "dashboard": dashboard,
        "kind": session.kind,
        "remote": session.cluster is None or session.adopted,  # stop only detaches from it
        "tls": None,
        "state": "running",
        "started": time.time(),
        "stopped": None,
    }
    try:
        entry["tls"] = _tls_files(getattr(session.client, "security", None), path)
        _write(path, entry)
    except OSError as e:
        logger.warning("jupyter_nest: could not register the cluster for the Nest panel: %s", e)
        return None
    return path


def unregister() -> None:
    """Mark this kernel's entry stopped, so the panel shows the cluster as stopped, not gone.

    Called before the cluster closes, so the panel never mistakes a cluster that is
    being stopped for one that crashed.
    """
    path = _entry_path()
    if path is None:
        return
    try:
        entry = json.loads(path.read_text())
        entry.update(state="stopped", stopped=time.time())
        _write(path, entry)
    except (OSError, ValueError):
        pass


@atexit.register
def _remove_at_exit() -> None:
    path = _entry_path()
    if path is not None:
        for file in [path, *path.parent.glob(f"{path.stem}.*.pem")]:
            file.unlink(missing_ok=True)
