"""The Jupyter server extension behind the Nest panel: lists the kernels' clusters and serves their views.

Enabled by ``etc/jupyter/jupyter_server_config.d/jupyter_nest.json``, which
``pip install`` puts in place; ``jupyter server extension list`` shows it.
"""

from __future__ import annotations

from typing import Any

from . import _handlers


def _load_jupyter_server_extension(serverapp: Any) -> None:
    """Called by jupyter_server at start: add the ``/jupyter-nest/`` handlers."""
    _handlers.setup(serverapp.web_app)
    serverapp.log.info("jupyter_nest: Nest panel handlers at %sjupyter-nest/", serverapp.base_url)
