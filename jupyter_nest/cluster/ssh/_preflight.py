"""Before an SSH cluster starts: reach every host, log in, check its Python and lay down the cluster's files.

Each failure becomes one :class:`NestError` naming the host and the step
(connect, authenticate, start scheduler, start worker), within the
``jupyter-nest.ssh.timeout`` bound, so a typo in a host name or a missing
Python never surfaces as an asyncssh or Dask traceback, nor as a hang.
"""

from __future__ import annotations

import asyncio
import getpass
import json
import pathlib
import shlex
import socket
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import asyncssh
import distributed

from ...errors import NestError
from .._security import is_loopback
from ._plan import Host

_PREPARE_SCRIPT = (pathlib.Path(__file__).with_name("_remote_prepare.py")).read_text()


def _step_for(host: Host, scheduler_host: Host) -> str:
    """The step a host's Dask processes stand for in messages."""
    return "start scheduler" if host == scheduler_host else "start worker"


def fail(host: Host, step: str, what: str, fix: str) -> NestError:
    """The one error message shape for every SSH step."""
    return NestError(f"SSH cluster: {step} on {host.label} failed: {what}. {fix}")


def host_options(host: Host, connect_options: dict[str, Any], default_user: str | None) -> dict[str, Any]:
    """``asyncssh.connect`` keyword arguments for one host (its ``user@`` wins over --ssh-user)."""
    user = host.user or default_user
    return {**connect_options, "username": user} if user else dict(connect_options)


@dataclass
class Reached:
    """A host logged in to: the connection, and the addresses at both ends of it."""

    host: Host
    connection: asyncssh.SSHClientConnection
    peer_ip: str
    local_ip: str


@dataclass(frozen=True)
class Prepared:
    """What the cluster needs to know about a host to start Dask processes there."""

    listen_ip: str
    python: str
    dir: str
    cpus: int


def _plain_ip(address: str) -> str:
    # IPv4 peers of a dual-stack socket show as ::ffff:a.b.c.d; zones (%eth0) cannot be listened on by name.
    address = address.split("%")[0]
    return address[7:] if address.startswith("::ffff:") and "." in address else address


class _Progress(asyncssh.SSHClient):
    """Remembers whether the TCP connection was made, to tell a dead host from a silent SSH server."""

    tcp_connected = False

    def connection_made(self, conn: asyncssh.SSHClientConnection) -> None:
        self.tcp_connected = True


async def reach(host: Host, connect_options: dict[str, Any], default_user: str | None, timeout: float) -> Reached:
    """Connect and log in to ``host``, or raise the :class:`NestError` that says which of the two failed and why."""
    options = host_options(host, connect_options, default_user)
    port = options.get("port", 22)
    user = options.get("username") or getpass.getuser()
    progress = _Progress()
    try:
        connection = await asyncio.wait_for(
            asyncssh.connect(host.name, client_factory=lambda: progress, **options), timeout + 1
        )
    except socket.gaierror:
        raise fail(host, "connect", f"the host name {host.name!r} does not resolve",
                   "Check the spelling, or give its IP address (or a Host entry in ~/.ssh/config)") from None
    except ConnectionRefusedError:
        raise fail(host, "connect", f"the connection to port {port} was refused, so no SSH server listens there",
                   "Check --ssh-port and that sshd runs on that host") from None
    except (asyncio.TimeoutError, TimeoutError):
        if progress.tcp_connected:
            raise fail(host, "connect", f"port {port} accepted the connection, but no SSH handshake and "
                       f"login finished within {timeout:g} s",
                       "Check that an SSH server listens on that port, or raise jupyter-nest.ssh.timeout") from None
        raise fail(host, "connect", f"no answer on port {port} within {timeout:g} s",
                   "The host may be down or a firewall drops the traffic; check the address, or raise "
                   "jupyter-nest.ssh.timeout") from None
    except asyncssh.HostKeyNotVerifiable as e:
        where = options.get("known_hosts") or "~/.ssh/known_hosts"
        raise fail(host, "connect", f"its host key is not trusted by {where} ({e.reason})",
                   f"Log in once with `ssh -p {port} {host.label}` and accept the key, or give a known_hosts "
                   "file that lists it with --ssh-known-hosts") from None
    except asyncssh.PermissionDenied:
        keys = options.get("client_keys", ["ssh-agent and ~/.ssh/id_* keys"])[0]
        raise fail(host, "authenticate", f"the server accepted none of the keys offered for user {user!r} ({keys})",
                   f"Add the public key to ~{user}/.ssh/authorized_keys on that host, give the right one "
                   "with --ssh-key, or the right user with --ssh-user or user@host") from None
    except asyncssh.DisconnectError as e:
        raise fail(host, "connect", f"the SSH server closed the connection ({e.reason})",
                   "Check the host's sshd log") from None
    except OSError as e:
        raise fail(host, "connect", f"{e.strerror or e} (port {port})", "Check the host name and --ssh-port") from None
    peer = connection.get_extra_info("peername")[0]
    local = connection.get_extra_info("sockname")[0]
    return Reached(host=host, connection=connection, peer_ip=_plain_ip(peer), local_ip=_plain_ip(local))


def listen_ips(reached: Iterable[Reached]) -> dict[Host, str]:
    """The address each host's Dask processes listen on: the one this kernel reached it at.

    A host reached through loopback is this machine; when other hosts are
    remote it listens where they reach it instead (its address on the way to them).
    """
    reached = list(reached)
    remote = [r for r in reached if not is_loopback(r.peer_ip)]
    return {
        r.host: remote[0].local_ip if remote and is_loopback(r.peer_ip) else r.peer_ip
        for r in reached
    }


async def prepare(
    reached: Reached, listen_ip: str, python: str, env: dict[str, str], tls: dict[str, str], step: str,
    timeout: float,
) -> Prepared:
    """Check the host's Python and address, write the launcher and TLS files; a :class:`NestError` naming ``step``.

    ``env`` holds Dask settings for the processes (``DASK_...`` variables) and
    ``tls`` PEM texts by the variable that will name their file.
    """
    host = reached.host
    request = json.dumps({"ip": listen_ip, "python": python, "env": env, "tls": tls})
    try:
        result = await asyncio.wait_for(
            reached.connection.run(f"{python} -c {shlex.quote(_PREPARE_SCRIPT)}", input=request), timeout
        )
    except (asyncio.TimeoutError, TimeoutError):
        raise fail(host, step, f"the remote Python {python!r} did not answer within {timeout:g} s",
                   "Check it starts quickly on that host, or raise jupyter-nest.ssh.timeout") from None
    stderr = str(result.stderr or "").strip().splitlines()
    said = f" ({stderr[-1].strip()})" if stderr else ""
    if result.exit_status in (126, 127):
        raise fail(host, step, f"the remote Python {python!r} is not there{said}",
                   "Give the path of a Python with dask distributed on that host with --remote-python "
                   f"(the default is this kernel's own path, {sys.executable})")
    reply = _last_json_line(str(result.stdout or ""))
    if result.exit_status != 0 or reply is None:
        raise fail(host, step, f"the remote Python {python!r} failed with exit status {result.exit_status}{said}",
                   "Check that it is a working Python 3 on that host, or point --remote-python at one")
    if "import_error" in reply:
        raise fail(host, step, f"the remote Python {python!r} cannot import distributed ({reply['import_error']})",
                   f"Install dask distributed there (this kernel has {distributed.__version__}), or point "
                   "--remote-python at a Python that has it")
    if "bind_error" in reply:
        raise fail(host, step, f"this kernel reaches the host at {listen_ip}, which is not an address of "
                   f"that machine ({reply['bind_error']}), so Dask cannot listen there",
                   "jupyter_nest needs hosts that this kernel and each other reach directly, without NAT or "
                   "forwarded ports (a VPN or the private network between them works)")
    return Prepared(listen_ip=listen_ip, python=f"{reply['dir']}/python", dir=reply["dir"], cpus=int(reply["cpus"]))


def _last_json_line(stdout: str) -> dict[str, Any] | None:
    # Login scripts may print before our line; ours is the last that parses.
    for line in reversed(stdout.strip().splitlines()):
        try:
            value = json.loads(line)
        except ValueError:
            continue
        if isinstance(value, dict):
            return value
    return None


async def prepare_hosts(
    hosts: list[Host],
    connect_options: dict[str, Any],
    default_user: str | None,
    python: str,
    env: dict[str, str],
    tls: dict[str, str],
    timeout: float,
) -> dict[Host, Prepared]:
    """Reach and prepare every distinct host at once; on any failure, undo what was done and raise the first error."""
    distinct = list(dict.fromkeys(hosts))
    reached: list[Reached] = []
    prepared: dict[Host, Prepared] = {}
    try:
        outcomes = await asyncio.gather(
            *(reach(h, connect_options, default_user, timeout) for h in distinct), return_exceptions=True
        )
        reached = [r for r in outcomes if isinstance(r, Reached)]
        _raise_first(outcomes)
        ips = listen_ips(reached)
        prepare_outcomes = await asyncio.gather(
            *(prepare(r, ips[r.host], python, env, tls, _step_for(r.host, hosts[0]), timeout) for r in reached),
            return_exceptions=True,
        )
        prepared = {r.host: p for r, p in zip(reached, prepare_outcomes, strict=True) if isinstance(p, Prepared)}
        _raise_first(prepare_outcomes)
        return prepared
    except BaseException:
        await asyncio.gather(*(_remove(r, prepared[r.host].dir, timeout) for r in reached if r.host in prepared))
        raise
    finally:
        for r in reached:
            r.connection.close()


def _raise_first(outcomes: list[Any]) -> None:
    for outcome in outcomes:
        if isinstance(outcome, BaseException):
            raise outcome


async def _remove(reached: Reached, directory: str, timeout: float) -> None:
    try:
        await asyncio.wait_for(reached.connection.run(f"rm -rf -- {shlex.quote(directory)}"), timeout)
    except (asyncio.TimeoutError, TimeoutError, asyncssh.Error, OSError):
        pass  # the directory only holds this cluster's launcher and certificates; stopping must not fail on it


async def remove_dirs(
    prepared: dict[Host, Prepared], connect_options: dict[str, Any], default_user: str | None, timeout: float
) -> None:
    """Delete the directories written on each host (best effort, bounded by ``timeout``)."""

    async def one(host: Host, directory: str) -> None:
        try:
            reached = await reach(host, connect_options, default_user, timeout)
        except NestError:
            return
        try:
            await _remove(reached, directory, timeout)
        finally:
            reached.connection.close()

    await asyncio.gather(*(one(h, p.dir) for h, p in prepared.items()))
