"""``start --ssh``: the user's hosts and SSH options as an SSH cluster plan, checked as far as can be done here."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, fields
from typing import Any

from distributed import Security

from ... import config
from ...errors import NestError


@dataclass(frozen=True)
class SSHOptions:
    """How to reach the hosts of ``start(ssh=...)``; ``None`` means the ``jupyter-nest.ssh.*`` default.

    Examples
    --------
    >>> SSHOptions(port=2222, key="~/.ssh/id_ed25519").port
    2222
    """

    port: int | None = None
    user: str | None = None
    key: str | None = None
    known_hosts: str | None = None
    remote_python: str | None = None
    workers_per_host: int | None = None


@dataclass(frozen=True)
class Host:
    """One host as the user named it: ``name`` or ``user@name``."""

    name: str
    user: str | None = None

    @property
    def label(self) -> str:
        return f"{self.user}@{self.name}" if self.user else self.name


def parse_hosts(ssh: str | Sequence[str]) -> list[Host]:
    """``"a,b"`` or ``["a", "user@b"]`` as hosts, the scheduler's first.

    Examples
    --------
    >>> [h.label for h in parse_hosts("node1, alice@node2")]
    ['node1', 'alice@node2']
    """
    items = ssh.split(",") if isinstance(ssh, str) else list(ssh)
    hosts = []
    for item in items:
        user, _, name = str(item).strip().rpartition("@")
        if not name or any(c.isspace() for c in name) or name.startswith("-"):
            raise NestError(
                f"--ssh {ssh if isinstance(ssh, str) else ','.join(map(str, ssh))!r}: {str(item).strip()!r} "
                "is not a host. Give host names or addresses separated by commas, e.g. "
                "--ssh node1,node2 (the first runs the scheduler) or --ssh alice@node1."
            )
        hosts.append(Host(name=name, user=user or None))
    return hosts


def _options(ssh_options: SSHOptions | dict[str, Any] | None) -> SSHOptions:
    if ssh_options is None:
        return SSHOptions()
    if isinstance(ssh_options, SSHOptions):
        return ssh_options
    known = [f.name for f in fields(SSHOptions)]
    unknown = sorted(set(ssh_options) - set(known))
    if unknown:
        raise NestError(
            f"ssh_options has unknown keys {unknown}; the keys are {', '.join(known)}."
        )
    return SSHOptions(**ssh_options)


def _setting(name: str, value: Any) -> Any:
    return config.get(f"ssh.{name}", value)


def _check_key(path: str) -> str:
    import asyncssh  # see plan()

    path = os.path.expanduser(path)
    if not os.path.isfile(path):
        raise NestError(f"--ssh-key {path!r}: no such file. Give the path to a private key, e.g. ~/.ssh/id_ed25519.")
    try:
        # an empty passphrase makes an encrypted key fail as encrypted, not as unreadable
        asyncssh.read_private_key(path, passphrase="")
    except asyncssh.KeyEncryptionError:
        raise NestError(
            f"--ssh-key {path!r} is protected by a passphrase, which a notebook cannot ask for. "
            f"Load it into ssh-agent (`ssh-add {path}`) and leave out --ssh-key."
        ) from None
    except (asyncssh.KeyImportError, ValueError, OSError) as e:
        raise NestError(
            f"--ssh-key {path!r} is not a private key ({e}). Give the private half of the key "
            "pair (e.g. ~/.ssh/id_ed25519, not the .pub file)."
        ) from None
    return path


def _whole(flag: str, value: Any, low: int = 1, high: int | None = None) -> int | None:
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or value < low or (high and value > high):
        limit = f"from {low} to {high}" if high else f"of {low} or more"
        raise NestError(f"{flag} must be a whole number {limit}, got {value!r}.")
    return value


def connect_options(options: SSHOptions, timeout: float) -> dict[str, Any]:
    """``asyncssh.connect`` keyword arguments for every host: only what is set, so ~/.ssh/config fills the rest."""
    out: dict[str, Any] = {"connect_timeout": timeout}
    if options.port is not None:
        out["port"] = options.port
    if options.key is not None:
        out["client_keys"] = [options.key]
    if options.known_hosts is not None:
        out["known_hosts"] = options.known_hosts
    return out


def plan(
    ssh: str | Sequence[str],
    ssh_options: SSHOptions | dict[str, Any] | None,
    *,
    workers: int | None,
    threads: int | None,
    memory_limit: str | int,
    processes: bool | None,
    dashboard: bool | None,
    cluster: str | None,
    security: Security | None,
    insecure: bool,
) -> tuple[type, dict[str, Any], str]:
    """The cluster class, its keyword arguments and the summary's name for ``start(ssh=...)``.

    Everything checked here is local (option values, the key file, the
    known-hosts file); the hosts themselves are checked when the cluster starts.

    Examples
    --------
    >>> cls, kwargs, kind = plan("node1,node2", {"port": 2222}, workers=None, threads=1,
    ...                          memory_limit="auto", processes=None, dashboard=None,
    ...                          cluster=None, security=None, insecure=False)  # doctest: +SKIP
    >>> kind  # doctest: +SKIP
    'SSH cluster, scheduler on node1, workers on node2'
    """
    # asyncssh takes ~0.2 s to import, and only SSH clusters need it
    from ._cluster import NestSSHCluster

    if cluster is not None:
        raise NestError("--ssh starts Dask's SSH cluster; leave out --cluster (or --ssh).")
    if processes is False:
        raise NestError("--no-processes runs workers inside this kernel; it cannot go with --ssh.")
    if workers is not None:
        raise NestError(
            "--workers does not go with --ssh: each host after the first runs --workers-per-host "
            "workers (default 1), so list the hosts, e.g. --ssh node1,node2,node3. "
            "`%nest_cluster scale N` resizes the cluster afterwards."
        )
    hosts = parse_hosts(ssh)
    given = _options(ssh_options)
    known_hosts = _setting("known-hosts", given.known_hosts)
    if known_hosts is not None:
        known_hosts = os.path.expanduser(known_hosts)
        if not os.path.isfile(known_hosts):
            raise NestError(
                f"--ssh-known-hosts {known_hosts!r}: no such file. Give a known_hosts file "
                "(the format of ~/.ssh/known_hosts)."
            )
    key = _setting("key", given.key)
    options = SSHOptions(
        port=_whole("--ssh-port", _setting("port", given.port), 1, 65535),
        user=_setting("user", given.user),
        key=_check_key(key) if key is not None else None,
        known_hosts=known_hosts,
        remote_python=_setting("remote-python", given.remote_python),
        workers_per_host=_whole("--workers-per-host", _setting("workers-per-host", given.workers_per_host)),
    )
    kwargs = dict(
        hosts=hosts,
        connect_options=connect_options(options, config.seconds("ssh.timeout")),
        default_user=options.user,
        remote_python=options.remote_python,
        workers_per_host=options.workers_per_host or 1,
        threads=_whole("--threads", config.get("threads", threads)),
        memory_limit=memory_limit,
        scheduler_kwargs={"dashboard": bool(config.get("dashboard", dashboard))},
        security=security or (None if insecure else Security.temporary()),
    )
    workers_on = hosts[1:] or hosts[:1]
    kind = (
        f"SSH cluster, scheduler on {hosts[0].label}, workers on "
        + ", ".join(dict.fromkeys(h.label for h in workers_on))
    )
    return NestSSHCluster, kwargs, kind
