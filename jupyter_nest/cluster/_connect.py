"""``connect``: attach this kernel to a Dask scheduler that runs elsewhere, failing fast and clearly."""

from __future__ import annotations

import asyncio
import socket
import ssl
from typing import Any
from urllib.parse import urlsplit

from distributed import Security

from .. import _aio, _dask, config
from ..errors import NestConnectionError, NestError, NestTimeoutError
from ._client import SessionClient
from ._session import Session, _lock, check_free, open_session

_SCHEMES = ("tcp", "tls")


def root_cause(error: BaseException) -> BaseException:
    """The innermost cause or context of ``error``."""
    while (inner := error.__cause__ or error.__context__) is not None:
        error = inner
    return error


def _parse_address(address: str) -> tuple[str, str, int]:
    address = address.strip()
    if "://" not in address:
        address = "tcp://" + address
    parts = urlsplit(address)
    scheme = parts.scheme
    if scheme in ("http", "https"):
        raise NestError(
            f"{address!r} is a web address, probably the dashboard's. Connect to the scheduler "
            "itself, e.g. tcp://HOST:8786 (the scheduler prints it as 'Scheduler at: ...')."
        )
    if scheme not in _SCHEMES:
        raise NestError(
            f"{address!r} has protocol {scheme!r}; jupyter_nest connects over tcp:// or tls://, "
            "e.g. tcp://10.0.0.5:8786."
        )
    try:
        host, port = parts.hostname, parts.port
    except ValueError:
        host, port = None, None
    if not host or port is None or parts.path not in ("", "/"):
        raise NestError(
            f"{address!r} is not a scheduler address: write {scheme}://HOST:PORT, "
            "e.g. tcp://10.0.0.5:8786."
        )
    return scheme, host, port


def _probe(address: str, host: str, port: int, timeout: float) -> None:
    """Fail fast, with a message naming the address, when nothing listens there."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return
    except socket.gaierror:
        raise NestConnectionError(
            f"Cannot connect to {address}: the host name {host!r} does not resolve. Check the "
            "spelling, or use the scheduler's IP address."
        ) from None
    except ConnectionRefusedError:
        raise NestConnectionError(
            f"Cannot connect to {address}: the connection was refused, so no scheduler listens on "
            f"port {port} of {host}. Check that the scheduler is running (`dask scheduler` prints "
            "its address) and the port."
        ) from None
    except TimeoutError:
        raise NestTimeoutError(
            f"Cannot connect to {address}: no answer within {timeout:g} s. The host may be down "
            "or a firewall drops the traffic; raise the limit with --timeout if the network is slow."
        ) from None
    except OSError as e:
        raise NestConnectionError(f"Cannot connect to {address}: {e.strerror or e}. Check the address.") from None


def _handshake_failure(address: str, timeout: float, cause: BaseException) -> NestError:
    """Why the Dask handshake with ``address`` failed, and what to do about it."""
    if isinstance(cause, ssl.SSLError):
        return NestConnectionError(
            f"Cannot connect to {address}: the TLS handshake failed ({cause.reason or cause}): this "
            "client and the scheduler do not accept each other's certificates. Give --tls-ca, "
            "--tls-cert and --tls-key issued by the scheduler's CA (or use tcp:// if it does not use TLS)."
        )
    closed = isinstance(cause, OSError) and not isinstance(cause, (asyncio.TimeoutError, TimeoutError))
    if address.startswith("tcp://") and closed:
        return NestConnectionError(
            f"Cannot connect to {address}: the server ended the Dask handshake "
            f"({type(cause).__name__}), as a TLS scheduler does with plain-TCP clients. If it serves "
            "TLS, connect with tls:// and --tls-ca, --tls-cert and --tls-key."
        )
    hint = (
        "If it serves TLS, use tls:// with the certificates."
        if address.startswith("tcp://")
        else "Check that the certificates were issued by the scheduler's CA."
    )
    return NestTimeoutError(
        f"Cannot connect to {address}: something listens there but did not complete the "
        f"Dask handshake within {timeout:g} s ({type(cause).__name__}). Is it a "
        f"Dask scheduler? {hint}"
    )


def _handshake(address: str, timeout: float, security: Security | None) -> None:
    """Ask the scheduler who it is, within ``timeout``: Dask's own handshake can wait forever."""

    async def identity() -> dict[str, Any]:
        args = (security or Security()).get_connection_args("client")
        comm = await asyncio.wait_for(_dask.connect_comm(address, timeout=timeout, **args), timeout)
        try:
            await comm.write({"op": "identity", "reply": True})
            return await comm.read()
        finally:
            comm.abort()

    try:
        reply = _aio.run(identity(), timeout)
    except Exception as e:
        raise _handshake_failure(address, timeout, root_cause(e)) from None
    if not isinstance(reply, dict) or reply.get("type") != "Scheduler":
        raise NestError(
            f"{address} answered, but as a {reply.get('type') if isinstance(reply, dict) else 'non-Dask'} "
            "server, not a scheduler. Give the scheduler's address (not a worker's)."
        )


def connect(
    address: str,
    timeout: float | str | None = None,
    security: Security | None = None,
    replace: bool = False,
) -> Session:
    """Attach this kernel to a Dask scheduler that runs elsewhere.

    Parameters
    ----------
    address : str
        ``tcp://HOST:PORT`` or ``tls://HOST:PORT``.
    timeout : float or str, optional
        How long to try, default ``jupyter-nest.connect-timeout``.
    security : distributed.Security, optional
        Certificates for ``tls://`` schedulers.
    replace : bool
        Leave a session already running in this kernel first, instead of raising.

    Returns
    -------
    Session

    Examples
    --------
    >>> import jupyter_nest
    >>> session = jupyter_nest.connect("tcp://10.0.0.5:8786", timeout="5s")  # doctest: +SKIP
    """
    with _lock:
        scheme, host, port = _parse_address(address)
        address = f"{scheme}://{host}:{port}"
        wait = config.seconds("connect-timeout", timeout)
        if scheme == "tls" and security is None:
            raise NestError(
                f"{address} uses TLS: give the certificates with --tls-ca, --tls-cert and --tls-key "
                "(or `security=distributed.Security(...)`)."
            )
        _probe(address, host, port, wait)
        _handshake(address, wait, security)
        check_free(replace)
        try:
            client = SessionClient(address, timeout=wait, security=security, set_as_default=True)
        except (OSError, TimeoutError) as e:
            kind = NestTimeoutError if isinstance(e, (TimeoutError, asyncio.TimeoutError)) else NestConnectionError
            raise kind(f"Cannot connect to {address}: {e}. Check the address and try again.") from None
        try:
            return open_session(Session(client, None))
        except BaseException:
            client.close()
            raise


