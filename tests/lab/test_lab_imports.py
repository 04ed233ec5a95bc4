"""Loading the server extension loads neither Dask nor Bokeh: they come with the first request that needs them.

Every Jupyter server with jupyter_nest installed imports ``jupyter_nest.lab`` at start, whether
or not anyone opens the Nest panel.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

LAB = Path(__file__).resolve().parents[2] / "jupyter_nest" / "lab"
HEAVY = ("dask", "distributed", "bokeh", "jupyter_nest.view", "jupyter_nest.cluster", "jupyter_nest.config")

# Imports the lab modules under a bare ``jupyter_nest`` package, so the facade's own imports
# (``jupyter_nest/__init__.py``) do not count: this measures what the lab modules pull in.
# Once the facade is lazy too, a plain ``import jupyter_nest.lab`` must pass the same check.
PROBE = """
import importlib.util, json, sys, types
spec = importlib.util.find_spec("jupyter_nest")
package = types.ModuleType("jupyter_nest")
package.__path__ = list(spec.submodule_search_locations)
sys.modules["jupyter_nest"] = package
import jupyter_nest.lab, jupyter_nest.lab._handlers
heavy = {heavy!r}
print(json.dumps([m for m in sys.modules if m in heavy or m.split(".")[0] in heavy[:3]]))
"""


def test_loading_the_server_extension_imports_no_dask_nor_bokeh():
    done = subprocess.run([sys.executable, "-c", PROBE.format(heavy=HEAVY)], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    loaded = json.loads(done.stdout)
    assert not loaded, f"importing jupyter_nest.lab loaded {sorted(loaded)}"


@pytest.mark.parametrize("module", sorted(p.name for p in LAB.glob("*.py")))
def test_lab_modules_import_heavy_packages_only_inside_functions(module):
    tree = ast.parse((LAB / module).read_text())
    top_level = []
    for node in tree.body:
        if isinstance(node, ast.Import):
            top_level += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = ("jupyter_nest." + (node.module or "")).rstrip(".") if node.level == 2 else (node.module or "")
            top_level += [base] + [f"{base}.{a.name}" for a in node.names]
    heavy = [name for name in top_level if name.startswith(HEAVY)]
    assert not heavy, f"{module} imports {heavy} at module level"
