"""The SSH cluster itself: Dask's SSH scheduler and worker processes, made safe to start from a notebook.

Built from ``distributed.deploy.ssh`` (what ``distributed.SSHCluster`` uses),
with what a notebook needs on top:

- every host is checked first (``_preflight``), and each process start is
  bounded and names its host and step when it fails;
- each host gets a private directory with a launcher (``_remote_prepare``)
  that starts the remote Python with the cluster's Dask settings, and for TLS the
  certificates they point at, so no key ever appears on a command line; it ends
  the process when its SSH session ends, so a killed kernel or an interrupted
  start leaves nothing running on the hosts;
- the processes' output is drained for their whole life, so they never block on it;
- one worker per spec entry, so ``scale(n)`` counts workers, and new workers go
  to the worker hosts in turn;
- the scheduler's dashboard listens on its host's loopback and reaches this
  kernel's loopback through the scheduler's SSH connection.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import sys
import warnings
from typing import Any

import asyncssh

from ... import _dask, config
from ...errors import NestError
from .._security import pem_bundle
from ._plan import Host
from ._preflight import Prepared, fail, host_options, prepare_hosts, remove_dirs

logger = logging.getLogger(__name__)

# OpenSSH's default MaxStartups drops unauthenticated connections beyond 10 at once.
_PARALLEL_STARTS = 8


def _current_task() -> asyncio.Task:
    task = asyncio.current_task()
    assert task is not None, "called from a coroutine"
    return task


class _Tail(logging.Handler):
    """The last lines the remote processes wrote while starting (Dask logs them as it reads them)."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.lines: collections.deque[str] = collections.deque(maxlen=6)

    def emit(self, record: logging.LogRecord) -> None:
        line = record.getMessage().strip()
        if line:
            self.lines.append(line)


async def _drain(proc: Any, host: Host) -> None:
    """Read a remote process's output for its whole life: unread, it fills the SSH window and the process blocks."""

    async def one(stream: Any) -> None:
        while line := await stream.readline():
            logger.debug("%s: %s", host.label, line.rstrip())

    await asyncio.gather(one(proc.stdout), one(proc.stderr), return_exceptions=True)


class _Bounded:
    """Start within ``timeout``, turn failures into a :class:`NestError` naming host and step, then drain."""

    # set by the Dask process class this is mixed into
    status: Any
    connection: Any
    proc: Any

    def _setup(self, host: Host, step: str, timeout: float, slots: asyncio.Semaphore, tail: _Tail) -> None:
        self.host, self.step, self.timeout, self.slots, self.tail = host, step, timeout, slots, tail
        self._drainer: asyncio.Future | None = None

    async def start(self) -> None:
        async with self.slots:
            self.tail.lines.clear()
            try:
                await asyncio.wait_for(super().start(), self.timeout)  # type: ignore[misc]
            except (asyncio.TimeoutError, TimeoutError):
                raise fail(self.host, self.step, f"the process was not ready within {self.timeout:g} s",
                           "Check the host's load, or raise jupyter-nest.start-timeout") from None
            except Exception as e:
                said = " | ".join(self.tail.lines) or f"{type(e).__name__}: {e}"
                raise fail(self.host, self.step, f"the process exited before it was ready; it said: {said}",
                           "Check that the remote Python runs dask distributed") from None
        self._drainer = asyncio.ensure_future(_drain(self.proc, self.host))

    async def close(self) -> None:
        # Called again when an abandoned start is cleaned up; the session may be gone by then.
        if self.status == _dask.Status.closed:
            return
        if self._drainer is not None:
            self._drainer.cancel()
        try:
            await super().close()  # type: ignore[misc]
        except (OSError, asyncssh.Error):
            if self.connection is not None:
                self.connection.close()
            self.status = _dask.Status.closed


class SchedulerProcess(_Bounded, _dask.SSHScheduler):
    """Dask's SSH scheduler process, bounded and named."""

    def __init__(self, *, host: Host, step: str, timeout: float, slots: asyncio.Semaphore, tail: _Tail,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._setup(host, step, timeout, slots, tail)


class WorkerProcess(_Bounded, _dask.SSHWorker):
    """Dask's SSH worker process (one nanny and its worker), bounded and named."""

    def __init__(self, scheduler: str, *, host: Host, step: str, timeout: float, slots: asyncio.Semaphore,
                 tail: _Tail, name: Any = None, **kwargs: Any) -> None:
        super().__init__(scheduler, name=name, **kwargs)
        # The remote worker carries the spec's name, so scale-down retires the one it removes.
        self.kwargs["name"] = name
        self._setup(host, step, timeout, slots, tail)


class NestSSHCluster(_dask.SpecCluster):
    """A Dask cluster started over SSH: the first host runs the scheduler, the others the workers.

    Parameters
    ----------
    hosts : list of Host
        The first runs the scheduler; the rest (or, when there is only one, that
        one) run ``workers_per_host`` workers each.
    connect_options : dict
        ``asyncssh.connect`` keyword arguments for every host.
    default_user : str, optional
        The login user for hosts given without ``user@``.
    remote_python : str, optional
        The Python to run on the hosts; default: this kernel's path.
    workers_per_host, threads : int
        Workers per host and threads per worker (default: the host's cores
        divided among its workers).
    memory_limit : str or int
        Per worker, as Dask's ``Nanny`` takes it.
    scheduler_kwargs : dict
        ``{"dashboard": bool}``.
    security : distributed.Security, optional
        TLS for every process; ``None`` for plain TCP.

    Examples
    --------
    >>> from jupyter_nest.cluster.ssh import Host
    >>> cluster = NestSSHCluster([Host("node1"), Host("node2")], {"port": 22}, None, None,
    ...                          workers_per_host=1, threads=2, memory_limit="auto",
    ...                          scheduler_kwargs={"dashboard": True},
    ...                          security=None)  # doctest: +SKIP
    """

    def __init__(
        self,
        hosts: list[Host],
        connect_options: dict[str, Any],
        default_user: str | None,
        remote_python: str | None,
        *,
        workers_per_host: int,
        threads: int | None,
        memory_limit: str | int,
        scheduler_kwargs: dict[str, Any],
        security: Any,
    ) -> None:
        self._hosts = hosts
        self._connect = connect_options
        self._user = default_user
        self._python = remote_python or sys.executable
        self._per_host = workers_per_host
        self._threads = threads
        self._memory_limit = memory_limit
        self._dashboard = scheduler_kwargs.get("dashboard", True)
        self._prepared: dict[Host, Prepared] = {}
        self._tunnel: Any = None
        self._slots = asyncio.Semaphore(_PARALLEL_STARTS)
        self._tail = _Tail()
        self._busy: set[asyncio.Task] = set()
        _dask.ssh_logger.addHandler(self._tail)
        try:
            super().__init__(
                workers={},
                scheduler={"cls": SchedulerProcess, "options": {}},
                security=security,
                silence_logs=logging.ERROR,
                name="jupyter_nest SSH cluster",
            )
        except BaseException as e:
            self._fail(e)

    def _fail(self, error: BaseException) -> None:
        """Undo a start that did not finish (failed or interrupted), and raise its one-paragraph reason."""
        try:
            self.sync(self._abandon, callback_timeout=config.seconds("start-timeout"))
        except BaseException as e:
            logger.debug("cleaning up a failed SSH cluster: %r", e)
        self._loop_runner.stop()
        _dask.ssh_logger.removeHandler(self._tail)
        cause: BaseException | None = error
        while cause is not None and not isinstance(cause, NestError):
            cause = cause.__cause__ or cause.__context__
        if cause is not None:
            raise cause from None
        if not isinstance(error, Exception):
            raise error
        raise NestError(
            f"SSH cluster: the start failed: {type(error).__name__}: {error}. "
            "Check the hosts with plain `ssh` and the remote Python."
        ) from None

    async def _abandon(self) -> None:
        """Stop everything a start set going, however far it got."""
        for task in list(self._busy):
            task.cancel()
        await asyncio.gather(*self._busy, return_exceptions=True)
        started = [*self._created, *([self.scheduler] if isinstance(self.scheduler, _dask.SSHProcess) else [])]
        await asyncio.gather(*(p.close() for p in started), return_exceptions=True)
        if self.status == _dask.Status.starting:
            # so that SpecCluster's close retires what did start
            self.status = _dask.Status.failed
        await self._close()

    async def _correct_state_internal(self) -> None:
        self._busy.add(_current_task())
        try:
            await super()._correct_state_internal()
        finally:
            self._busy.discard(_current_task())

    def _process_options(self, host: Host, prepared: Prepared, step: str) -> dict[str, Any]:
        return {
            "host": host,
            "step": step,
            "timeout": config.seconds("start-timeout"),
            "slots": self._slots,
            "tail": self._tail,
            "address": host.name,
            "connect_options": host_options(host, self._connect, self._user),
            "remote_python": prepared.python,
        }

    def _worker_spec(self, host: Host) -> dict[str, Any]:
        prepared = self._prepared[host]
        threads = self._threads or max(1, prepared.cpus // self._per_host)
        kwargs = {
            "host": prepared.listen_ip,
            "nthreads": threads,
            "memory_limit": self._memory_limit,
            # the worker's health and metrics routes: loopback, like the scheduler's
            "dashboard_address": "127.0.0.1:0",
        }
        return {"cls": WorkerProcess,
                "options": {**self._process_options(host, prepared, "start worker"), "kwargs": kwargs}}

    def _worker_hosts(self) -> list[Host]:
        return self._hosts[1:] or self._hosts[:1]

    async def _start(self) -> None:
        self._busy.add(_current_task())
        try:
            await self._prepare_and_start()
        finally:
            self._busy.discard(_current_task())

    async def _prepare_and_start(self) -> None:
        if not self._prepared and self.status == _dask.Status.created:
            bundle = pem_bundle(self.security) if self.security.require_encryption else {}
            env = {"DASK_DISTRIBUTED__WORKER__PROFILE__ENABLED": str(bool(config.get("worker-profile")))}
            if bundle:
                env["DASK_DISTRIBUTED__COMM__REQUIRE_ENCRYPTION"] = "True"
            self._prepared = await prepare_hosts(
                self._hosts, self._connect, self._user, self._python, env, bundle, config.seconds("ssh.timeout")
            )
            scheduler_host = self._hosts[0]
            prepared = self._prepared[scheduler_host]
            self.scheduler_spec = {
                "cls": SchedulerProcess,
                "options": {
                    **self._process_options(scheduler_host, prepared, "start scheduler"),
                    "kwargs": {
                        "host": prepared.listen_ip,
                        "port": 0,
                        "protocol": "tls" if self.security.require_encryption else "tcp",
                        "dashboard": self._dashboard,
                        # health and metrics routes are served even without a dashboard: keep them on loopback
                        "dashboard_address": "127.0.0.1:0",
                    },
                },
            }
            self.worker_spec = {
                i: self._worker_spec(host)
                for i, host in enumerate(h for h in self._worker_hosts() for _ in range(self._per_host))
            }
            self.new_spec = self.worker_spec[0]
            self._i = len(self.worker_spec)
        await super()._start()
        if self._dashboard:
            await self._open_tunnel()

    async def _open_tunnel(self) -> None:
        port = self.scheduler_info.get("services", {}).get("dashboard")
        if not port:
            return
        host = self._hosts[0]
        try:
            scheduler: Any = self.scheduler
            self._tunnel = await scheduler.connection.forward_local_port("127.0.0.1", 0, "127.0.0.1", port)
            reader, writer = await asyncio.wait_for(
                asyncio.open_connection("127.0.0.1", self._tunnel.get_port()), 10)
            writer.write(b"GET /health HTTP/1.0\r\n\r\n")
            status = await asyncio.wait_for(reader.readline(), 10)
            writer.close()
            if b" 200 " not in status:
                raise OSError(status.decode(errors="replace").strip() or "no reply")
        except Exception as e:
            if self._tunnel is not None:
                self._tunnel.close()
                self._tunnel = None
            warnings.warn(
                f"The dashboard listens on {host.label}'s 127.0.0.1:{port} only, and forwarding it over "
                f"SSH failed ({type(e).__name__}: {e}); the sshd there may refuse port forwarding "
                "(AllowTcpForwarding). Open it with `ssh -L` yourself.",
                stacklevel=2,
            )

    @property
    def dashboard_link(self) -> str:
        if self._tunnel is None:
            return ""
        return _dask.format_dashboard_link("127.0.0.1", self._tunnel.get_port())

    def new_worker_spec(self) -> dict[Any, dict[str, Any]]:
        """The next worker goes to the worker host that has the fewest."""
        counts = collections.Counter(spec["options"]["host"] for spec in self.worker_spec.values())
        host = min(self._worker_hosts(), key=lambda h: counts[h])
        while self._i in self.worker_spec:
            self._i += 1
        return {self._i: self._worker_spec(host)}

    async def _close(self) -> None:
        if self.status == _dask.Status.closed:
            return
        try:
            await super()._close()
        finally:
            if self._tunnel is not None:
                self._tunnel.close()
                self._tunnel = None
            prepared, self._prepared = self._prepared, {}
            await remove_dirs(prepared, self._connect, self._user, config.seconds("ssh.timeout"))
            _dask.ssh_logger.removeHandler(self._tail)

