"""TLS settings: certificates the user names, and what counts as listening only on loopback."""

from __future__ import annotations

import ipaddress
import os

from distributed import Security

from ..errors import NestError

_LOOPBACK_NAMES = {"localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback"}


def is_loopback(host: str) -> bool:
    """Whether ``host`` (a name or an address) is this machine's loopback interface.

    Examples
    --------
    >>> is_loopback("127.0.0.1"), is_loopback("[::1]"), is_loopback("10.0.0.5")
    (True, True, False)
    """
    host = host.strip("[]").lower()
    if host in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def security_from_files(ca: str | None, cert: str | None, key: str | None) -> Security | None:
    """A :class:`distributed.Security` from PEM files, or ``None`` when none are given.

    The certificate and key serve every role (client, scheduler, worker), so the
    same three files connect to a ``tls://`` scheduler or secure a cluster that
    ``start`` creates.

    Examples
    --------
    >>> security_from_files(None, None, None) is None
    True
    """
    given = {"--tls-ca": ca, "--tls-cert": cert, "--tls-key": key}
    if not any(given.values()):
        return None
    missing = [flag for flag, path in given.items() if not path]
    if missing:
        raise NestError(
            f"TLS needs all three of --tls-ca, --tls-cert and --tls-key; missing {', '.join(missing)}."
        )
    for flag, path in given.items():
        if not os.path.isfile(str(path)):
            raise NestError(f"{flag} {path!r}: no such file. Give the path to a PEM file.")
    return Security(
        tls_ca_file=ca,
        tls_client_cert=cert,
        tls_client_key=key,
        tls_scheduler_cert=cert,
        tls_scheduler_key=key,
        tls_worker_cert=cert,
        tls_worker_key=key,
        require_encryption=True,
    )


# Security's fields and the environment variables that set them in a Dask process's config.
_TLS_VARIABLES = {
    "tls_ca_file": "DASK_DISTRIBUTED__COMM__TLS__CA_FILE",
    "tls_scheduler_cert": "DASK_DISTRIBUTED__COMM__TLS__SCHEDULER__CERT",
    "tls_scheduler_key": "DASK_DISTRIBUTED__COMM__TLS__SCHEDULER__KEY",
    "tls_worker_cert": "DASK_DISTRIBUTED__COMM__TLS__WORKER__CERT",
    "tls_worker_key": "DASK_DISTRIBUTED__COMM__TLS__WORKER__KEY",
    # tasks that call get_client() connect as clients
    "tls_client_cert": "DASK_DISTRIBUTED__COMM__TLS__CLIENT__CERT",
    "tls_client_key": "DASK_DISTRIBUTED__COMM__TLS__CLIENT__KEY",
}


def pem_bundle(security: Security) -> dict[str, str]:
    """The PEM text of every certificate and key in ``security``, by the Dask environment variable naming it.

    ``Security.temporary()`` holds the PEM text itself; ``security_from_files``
    holds paths, which are read here, so the bundle can be written on another host.

    Examples
    --------
    >>> bundle = pem_bundle(Security.temporary())
    >>> sorted(bundle)[0], bundle["DASK_DISTRIBUTED__COMM__TLS__CA_FILE"].startswith("-----BEGIN")
    ('DASK_DISTRIBUTED__COMM__TLS__CA_FILE', True)
    """
    bundle = {}
    for field, variable in _TLS_VARIABLES.items():
        value = getattr(security, field)
        if not value:
            continue
        if "\n" not in value:
            with open(value) as f:
                value = f.read()
        bundle[variable] = value
    return bundle
