"""Old module paths and names keep working, with a :class:`~jupyter_nest.errors.NestDeprecationWarning`.

Before the package was split into one subpackage per part, everything lived in
one folder (``jupyter_nest.client``, ``jupyter_nest.slotview``, ...). An import
finder maps those paths to where the code lives now; ``renamed`` does the same
for names that changed inside a package.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import sys
import warnings
from collections.abc import Callable, Sequence
from types import ModuleType
from typing import Any

from .errors import NestDeprecationWarning

# old module -> (module it is now, where to import from instead)
MOVED: dict[str, tuple[str, str]] = {
    "jupyter_nest.aio": ("jupyter_nest._aio", "jupyter_nest"),
    "jupyter_nest.client": ("jupyter_nest.runtime._client", "jupyter_nest.runtime"),
    "jupyter_nest.tree": ("jupyter_nest.runtime._tree", "jupyter_nest.runtime"),
    "jupyter_nest.lineage": ("jupyter_nest.runtime._lineage", "jupyter_nest.runtime"),
    "jupyter_nest.balancer": ("jupyter_nest.forkjoin._balancer", "jupyter_nest.forkjoin"),
    "jupyter_nest.hangs": ("jupyter_nest.monitor._hangs", "jupyter_nest.monitor"),
    "jupyter_nest.slotview": ("jupyter_nest.view._figures", "jupyter_nest.view"),
    "jupyter_nest.cellglobals": ("jupyter_nest.submit._globals", "jupyter_nest.submit"),
    "jupyter_nest.cellship": ("jupyter_nest.submit._ship", "jupyter_nest.submit"),
    "jupyter_nest.celloutput": ("jupyter_nest.submit._output", "jupyter_nest.submit"),
    "jupyter_nest.cellstatus": ("jupyter_nest.submit._status", "jupyter_nest.submit"),
    "jupyter_nest.celltraceback": ("jupyter_nest.submit._traceback", "jupyter_nest.submit"),
    "jupyter_nest.capture": ("jupyter_nest.submit._shipped.capture", "jupyter_nest.submit"),
    "jupyter_nest.cellrun": ("jupyter_nest.submit._shipped.run", "jupyter_nest.submit"),
    "jupyter_nest.plugins": ("jupyter_nest.cluster._install", "jupyter_nest.cluster"),
    "jupyter_nest.summary": ("jupyter_nest.cluster._summary", "jupyter_nest.cluster"),
    "jupyter_nest.dashboard": ("jupyter_nest.cluster._dashboard", "jupyter_nest.cluster"),
    "jupyter_nest.security": ("jupyter_nest.cluster._security", "jupyter_nest.cluster"),
    "jupyter_nest.exposure": ("jupyter_nest.cluster._exposure", "jupyter_nest.cluster"),
    "jupyter_nest.registry": ("jupyter_nest.cluster._registry", "jupyter_nest.cluster"),
    "jupyter_nest.preload": ("jupyter_nest.cluster._preload", "jupyter_nest.cluster"),
    "jupyter_nest.remote": ("jupyter_nest.cluster.ssh._plan", "jupyter_nest.cluster.ssh"),
    "jupyter_nest.remote_prepare": ("jupyter_nest.cluster.ssh._remote_prepare", "jupyter_nest.cluster.ssh"),
    "jupyter_nest.ssh_cluster": ("jupyter_nest.cluster.ssh._cluster", "jupyter_nest.cluster.ssh"),
    "jupyter_nest.ssh_preflight": ("jupyter_nest.cluster.ssh._preflight", "jupyter_nest.cluster.ssh"),
    "jupyter_nest.labserver": ("jupyter_nest.lab", "jupyter_nest.lab"),
    "jupyter_nest.labserver.handlers": ("jupyter_nest.lab._handlers", "jupyter_nest.lab"),
    "jupyter_nest.labserver.clusters": ("jupyter_nest.lab._clusters", "jupyter_nest.lab"),
    "jupyter_nest.labserver.view": ("jupyter_nest.lab._view", "jupyter_nest.lab"),
}


class _MovedModules(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Imports an old module path as the module that lives on at the new one."""

    def find_spec(self, fullname: str, path: Sequence[str] | None = None,
                  target: ModuleType | None = None) -> importlib.machinery.ModuleSpec | None:
        if fullname not in MOVED:
            return None
        return importlib.util.spec_from_loader(fullname, self)

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType:
        new, public = MOVED[spec.name]
        warnings.warn(f"{spec.name} moved: import from {public} instead (the module is {new} now).",
                      NestDeprecationWarning, stacklevel=2)
        return importlib.import_module(new)

    def exec_module(self, module: ModuleType) -> None:
        """The module already ran under its new name."""


def install_finder() -> None:
    """Put the finder of old module paths on ``sys.meta_path`` (once)."""
    if not any(isinstance(f, _MovedModules) for f in sys.meta_path):
        sys.meta_path.append(_MovedModules())


def renamed(module: str, names: dict[str, str]) -> Callable[[str], Any]:
    """A module ``__getattr__`` that serves ``old`` names as ``names[old]`` of the same module, with a warning."""

    def __getattr__(name: str) -> Any:
        if name not in names:
            raise AttributeError(f"module {module!r} has no attribute {name!r}")
        warnings.warn(f"{module}.{name} is now {module}.{names[name]}.", NestDeprecationWarning, stacklevel=2)
        return getattr(sys.modules[module], names[name])

    return __getattr__
