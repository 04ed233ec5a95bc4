"""Notebooks with slot views: small when saved (BokehJS is not stored in their outputs), live on Run All."""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient
from support.kernels import Kernel

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


def test_notebook_04_shows_the_search_live_on_run_all():
    # Before, the search was over before the view's first update, and the view was closed at the end.
    path = Path(__file__).resolve().parents[2] / "notebooks" / "04-recursive-workload.ipynb"
    cells = [c.source for c in nbformat.read(path, as_version=4).cells if c.cell_type == "code"]
    assert not any("view.close()" in c for c in cells)
    kernel = Kernel()
    try:
        replies = [kernel.run(c, timeout=120).check() for c in cells[:-1]]
        during = next(r for c, r in zip(cells, replies, strict=False) if "search = nqueens.spawn" in c)
        patches = [json.dumps(m["content"]["data"]) for m in during.messages if m["msg_type"] == "comm_msg"]
        assert sum("2/2 slots busy" in p for p in patches) >= 3, len(patches)
        kernel.run(cells[-1]).check()
        assert "cluster stopped at" in kernel.value("view.view.sources['nest-status'].data['text'][0]")
    finally:
        kernel.shutdown()
