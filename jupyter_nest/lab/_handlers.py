"""Tornado handlers under ``/jupyter-nest/``; every one needs the server's token (or login cookie).

Each also asks the server's ``Authorizer`` whether the user may ``read`` the resource
:data:`AUTH_RESOURCE`, so the permissions a deployment enforces apply, not only the token:
e.g. a JupyterHub whose singleuser servers map ``custom:jupyter_server:read:nest`` scopes
to an Authorizer (as JupyterHub's read-only example does for the server's own resources).

``GET clusters``                 the clusters of this server's kernels, with totals
``GET clusters/<kernel>/view``   a live slot view of one: json_item and BokehJS URLs
``GET clusters/<kernel>/columns`` that view's new source data and axis ranges
``GET static/...``               the Python bokeh package's BokehJS files
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import tornado.web
from jupyter_server.auth.decorator import authorized
from jupyter_server.base.handlers import APIHandler, AuthenticatedFileHandler
from jupyter_server.utils import url_path_join

from .._wire import REGISTRY_SUBDIR, SERVER_ROUTE
from . import _clusters as clusters
from . import _view as view

_KERNEL = r"(?P<kernel_id>[\w-]+)"

#: What the server's Authorizer is asked about for every route here (the action is ``read``).
AUTH_RESOURCE = "nest"


class NestHandler(APIHandler):
    """Shared lookups: the registry folder and the kernels this server runs."""

    auth_resource = AUTH_RESOURCE

    @property
    def folder(self) -> Path:
        return Path(self.kernel_manager.connection_dir) / REGISTRY_SUBDIR

    async def kernels(self) -> dict[str, dict[str, Any]]:
        """Kernel id -> name, notebook path and execution state, for the kernels this server runs."""
        out: dict[str, dict[str, Any]] = {}
        for model in self.kernel_manager.list_kernels():
            out[model["id"]] = {"name": model.get("name"), "path": None,
                                "execution_state": model.get("execution_state")}
        for session in await self.session_manager.list_sessions():
            kernel = session.get("kernel") or {}
            if kernel.get("id") in out:
                out[kernel["id"]]["path"] = session.get("path")
        return out

    def write_json(self, data: Any, status: int = 200) -> None:
        self.set_status(status)
        self.finish(json.dumps(data))


class ClustersHandler(NestHandler):
    @tornado.web.authenticated
    @authorized
    async def get(self) -> None:
        listed = await clusters.listing(self.folder, await self.kernels())
        self.write_json({"clusters": listed})


class ClusterViewHandler(NestHandler):
    """The live slot view of one cluster: ``view`` starts one, ``columns`` brings it up to date.

    ``?view=ID`` names the browser's view, so two panels on one cluster each keep their own.
    """

    def initialize(self, live: view.LiveViews) -> None:
        self.live = live

    @tornado.web.authenticated
    @authorized
    async def get(self, kernel_id: str, what: str) -> None:
        kernels = await self.kernels()
        entry = clusters.find(self.folder, kernels, kernel_id)
        if entry is None:
            self.write_json({"message": f"No cluster is registered by kernel {kernel_id}: its kernel "
                                        "stopped, or it never started a cluster."}, 404)
            return
        key = (kernel_id, self.get_argument("view", ""))
        snap = await clusters.probe(entry) if entry.get("state") == "running" else None
        reply: dict[str, Any] = {"cluster": clusters.describe(entry, kernels, snap)}
        if entry.get("state") == "stopped":
            self.live.close(kernel_id)
        tree = None
        if snap is not None and (what == "view" or self.live.wants_tree(key)):
            tree = await clusters.latest_tree(entry)
        if snap is not None and what == "view":
            reply.update(item=self.live.open(key, snap, tree), scripts=list(view.scripts(self.base_url)),
                         bokeh_version=view.bokeh_version())
        elif snap is not None:
            update = self.live.update(key, snap, tree)
            # A view this server does not know (it restarted, or the view sat idle): embed anew.
            reply.update(update if update is not None else {"reload": True})
        self.write_json(reply)


class BokehJSHandler(AuthenticatedFileHandler):
    """The Python bokeh package's BokehJS files; Bokeh is located on the first request, not at server start."""

    auth_resource = AUTH_RESOURCE

    def initialize(self) -> None:  # type: ignore[override]
        super().initialize(path=str(view.bokehjs_dir()))


def setup(web_app: Any) -> None:
    """Add the handlers to a Jupyter server's tornado application."""
    base = url_path_join(web_app.settings["base_url"], SERVER_ROUTE)
    web_app.add_handlers(".*$", [
        (url_path_join(base, "clusters"), ClustersHandler),
        (url_path_join(base, "clusters", _KERNEL, r"(?P<what>view|columns)"), ClusterViewHandler,
         {"live": view.LiveViews()}),
        (url_path_join(base, "static", "(.*)"), BokehJSHandler),
    ])
