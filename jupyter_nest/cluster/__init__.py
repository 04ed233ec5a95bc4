"""Cluster lifecycle: start, connect to, describe and stop the one cluster a kernel works with.

- ``_session``: :class:`Session`, ``current``, ``require``, ``stop``;
- ``_start``: ``start`` (local, any Dask cluster class, or SSH); ``_connect``: ``connect``;
- ``_attach``: ``attach`` a client or cluster the user made, and adopt the default client on first use;
- ``_install``: the composition root, which installs every feature's plugins;
- ``_client``: the session's client and its summary display; ``_summary``, ``_dashboard``;
- ``_security``, ``_exposure``: TLS, and who may reach a cluster;
- ``_registry``: the file each kernel writes for the Nest panel; ``_preload``: worker process set-up;
- ``_malloc``: the kernel that hosts a scheduler pins glibc's mmap threshold (its memory would grow in steps);
- ``ssh``: clusters started over SSH.
"""

from ..errors import InsecureClusterWarning
from ._attach import adopt_default, attach
from ._client import SessionClient
from ._connect import connect
from ._security import is_loopback, security_from_files
from ._session import Session, current, require, stop
from ._start import start
from ._summary import ClusterSummary, WorkerRow
from .ssh import SSHOptions

__all__ = [
    "ClusterSummary",
    "InsecureClusterWarning",
    "SSHOptions",
    "Session",
    "SessionClient",
    "WorkerRow",
    "adopt_default",
    "attach",
    "connect",
    "current",
    "is_loopback",
    "require",
    "security_from_files",
    "start",
    "stop",
]
