"""The dashboard link the notebook prints: one the notebook's browser can open, and how it gets there."""

from __future__ import annotations

import importlib.util
import os
from urllib.parse import urlsplit

from .. import config
from ._security import is_loopback

VIA_PROXY = "through jupyter-server-proxy"
VIA_DIRECT = "direct"


def _proxy_wanted() -> bool:
    setting = config.get("dashboard-proxy")
    if isinstance(setting, bool):
        return setting
    # A kernel that a Jupyter server started carries JPY_SESSION_NAME; the proxy
    # then runs in that server, on this machine, when it is installed here.
    return "JPY_SESSION_NAME" in os.environ and importlib.util.find_spec("jupyter_server_proxy") is not None


def _server_base_url() -> str:
    base = (config.get("server-base-url") or os.environ.get("JUPYTERHUB_SERVICE_PREFIX") or "").strip("/")
    return f"/{base}/" if base else "/"


def browser_link(url: str | None) -> tuple[str | None, str]:
    """Where the notebook's browser opens a dashboard served at ``url``, and how it reaches it.

    jupyter-server-proxy forwards ``<base URL>proxy/<port>/...`` to the notebook
    server's own loopback, so a dashboard on this machine's 127.0.0.1 is linked
    through it when the kernel runs under a Jupyter server that has the proxy
    (``jupyter-nest.dashboard-proxy: auto``; ``true``/``false`` force it). A
    dashboard on another host is linked directly: the proxy only reaches hosts
    its own allow-list names.

    Returns
    -------
    (link, how)
        ``how`` is ``"through jupyter-server-proxy"`` or ``"direct"``;
        ``(None, "")`` when there is no dashboard.

    Examples
    --------
    >>> import dask
    >>> with dask.config.set({"jupyter-nest.dashboard-proxy": True}):
    ...     browser_link("http://127.0.0.1:8787/status")
    ('/proxy/8787/status', 'through jupyter-server-proxy')
    >>> browser_link("http://10.0.0.5:8787/status")
    ('http://10.0.0.5:8787/status', 'direct')
    """
    if not url:
        return None, ""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        # distributed.dashboard.link made it something else (a proxy path, say): keep it.
        return url, "as distributed.dashboard.link formats it"
    if is_loopback(parts.hostname) and parts.port and _proxy_wanted():
        return f"{_server_base_url()}proxy/{parts.port}{parts.path or '/status'}", VIA_PROXY
    return url, VIA_DIRECT
