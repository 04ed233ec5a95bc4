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

# What `jupyter server` runs to load the extension (the package finds it, then the module loads it).
PROBE = """
import json, sys
import jupyter_nest, jupyter_nest.lab, jupyter_nest.lab._handlers
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
