"""A notebook that showed slot views stays small when saved: BokehJS is not stored in its outputs."""

from __future__ import annotations

import nbformat
import pytest
from nbclient import NotebookClient

pytestmark = [pytest.mark.timeout(180), pytest.mark.slow, pytest.mark.kernel]

CELLS = [
    "%load_ext jupyter_nest\nclient = %nest_cluster start --workers 1 --threads 1 --no-dashboard\n"
    "import time, jupyter_nest",
    "first = jupyter_nest.widget(interval=0.1)\nfirst",
    "client.submit(time.sleep, 0.5, pure=False).result()\nfirst.close()",
    "second = jupyter_nest.widget(interval=0.1)\nsecond",
    "client.submit(time.sleep, 0.5, pure=False).result()",
    "%nest_cluster stop",
]


def test_a_notebook_with_two_views_saves_under_200_kb(tmp_path):
    # Before: 8.1 MB, BokehJS (4 MB) inlined in the first view's output, as JavaScript and again
    # as Bokeh's own load mimetype.
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in CELLS])
    NotebookClient(nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    path = tmp_path / "two-views.ipynb"
    nbformat.write(nb, path)
    shown = [o for c in nb.cells for o in c.outputs
             if "application/vnd.jupyter.widget-view+json" in o.get("data", {})]
    assert len(shown) == 2
    size = path.stat().st_size
    print(f"saved notebook with two views: {size:,} bytes")
    assert size < 200_000, size
    assert "application/vnd.bokehjs_load.v0+json" not in path.read_text()
