"""TLS settings for reaching schedulers, from certificate files the user names."""

from __future__ import annotations

import os

from distributed import Security

from .errors import NestError


def security_from_files(ca: str | None, cert: str | None, key: str | None) -> Security | None:
    """A client-side :class:`distributed.Security` from PEM files, or ``None`` when none are given.

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
        if not os.path.isfile(path):
            raise NestError(f"{flag} {path!r}: no such file. Give the path to a PEM file.")
    return Security(
        tls_ca_file=ca,
        tls_client_cert=cert,
        tls_client_key=key,
        require_encryption=True,
    )
