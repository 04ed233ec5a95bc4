"""Who may reach a cluster: TLS for anything that listens beyond loopback, plain TCP only when asked.

A Dask scheduler runs whatever pickled function it is sent, so a plain-TCP
scheduler on a network interface runs code for anyone who can reach the port.
Clusters that jupyter_nest starts therefore use TLS as soon as they listen
beyond 127.0.0.1, with fresh certificates (``Security.temporary()``) unless
the user gives their own; ``--insecure`` is the explicit way out, and it warns.
"""

from __future__ import annotations

import warnings
from typing import Any
from urllib.parse import urlsplit

from distributed import LocalCluster, Security

from ..errors import InsecureClusterWarning, NestError
from ._security import is_loopback


def secure_options(
    cls: type, options: dict[str, Any], security: Security | None, insecure: bool
) -> dict[str, Any]:
    """The keyword arguments for ``cls`` with TLS added where the policy asks for it.

    A ``LocalCluster`` told to listen on a non-loopback ``host`` gets TLS, with
    ``security`` or fresh certificates; other cluster classes get ``security``
    when the user gave certificates. Everything else is left as it was.

    Examples
    --------
    >>> opts = secure_options(LocalCluster, {"host": "0.0.0.0"}, None, insecure=False)
    >>> opts["protocol"], opts["security"].require_encryption
    ('tls://', True)
    """
    if security is not None and insecure:
        raise NestError(
            "--insecure turns TLS off, and --tls-ca/--tls-cert/--tls-key turn it on: give one or the other."
        )
    if "security" in options and options["security"] is not None:
        return options
    if issubclass(cls, LocalCluster):
        # LocalCluster's own default host is 127.0.0.1; "" and "0.0.0.0" mean every interface.
        host = options.get("host")
        beyond = host is not None and not is_loopback(str(host))
        if security is None and beyond and not insecure:
            security = Security.temporary()
        if security is not None:
            return {**options, "security": security, "protocol": "tls://"}
        return options
    if security is not None:
        return {**options, "security": security}
    return options


def check_listening(address: str, insecure: bool) -> None:
    """Refuse (or, with ``insecure``, warn about) a scheduler in plain TCP beyond loopback.

    Examples
    --------
    >>> check_listening("tls://10.0.0.5:8786", insecure=False)
    >>> check_listening("tcp://127.0.0.1:8786", insecure=False)
    """
    parts = urlsplit(address)
    if parts.scheme != "tcp" or is_loopback(parts.hostname or ""):
        return
    if insecure:
        warnings.warn(
            f"The scheduler at {address} listens beyond loopback in plain TCP (--insecure): "
            "anyone who can reach that port can run code on the cluster as you. Leave out "
            "--insecure to get TLS.",
            InsecureClusterWarning,
            stacklevel=3,
        )
        return
    raise NestError(
        f"The cluster listens at {address}, beyond loopback and without TLS, so anyone who can "
        "reach that port could run code on it as you; jupyter_nest stopped it. Give it "
        "certificates (--tls-ca/--tls-cert/--tls-key, passed to the class as security=), or "
        "accept plain TCP explicitly with --insecure."
    )
