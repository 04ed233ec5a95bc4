"""The notebook's slot view as a person sees it in JupyterLab: it keeps working after ``close()``.

Screenshots land in ``screenshots/`` (gitignored): ``view-reopened.png``.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
from support.lab import JupyterServer, LabBrowser

pytestmark = [pytest.mark.timeout(300), pytest.mark.slow, pytest.mark.browser]

SCREENSHOTS = Path(__file__).resolve().parents[2] / "screenshots"

CELLS = [
    "%load_ext jupyter_nest\nclient = %nest_cluster start --workers 1 --threads 1 --no-dashboard\n"
    "import time, jupyter_nest",
    "view = jupyter_nest.widget(interval=0.2)\nview",
    "time.sleep(1)\nview.close()\nprint('closed')",
    "busy = client.submit(time.sleep, 4, pure=False)",
]
STATUS = ".jp-NotebookPanel .jp-OutputArea-output .jp-Nest-view-status .bk-clearfix"


def run_cell(lab: LabBrowser, index: int) -> None:
    lab.page.evaluate(f"() => {{ window.jupyterapp.shell.currentWidget.content.activeCellIndex = {index}; }}")
    lab.command("notebook:run-cell")


def test_a_view_reopened_after_close_shows_the_cluster_and_updates():
    started = time.monotonic()
    with JupyterServer(app="lab") as server, LabBrowser(server, SCREENSHOTS, timeout=90) as lab:
        server.write_notebook("view.ipynb", CELLS[:3])
        lab.open_notebook("view.ipynb")
        lab.run_all_cells()
        lab.wait_for_text(".jp-NotebookPanel .jp-Notebook", r"\bclosed\b")
        # The notebook 04 case: the widget cell run again after its view was closed.
        run_cell(lab, 1)
        assert re.search(r"^1 worker · 0/1 slots busy", lab.wait_for_text(STATUS, r"1 worker ·"))
        lab.page.evaluate("() => { const nb = window.jupyterapp.shell.currentWidget.content;"
                          " nb.model.sharedModel.insertCell(3, {cell_type: 'code', source: "
                          f"{CELLS[3]!r}}}); }}")
        run_cell(lab, 3)
        lab.wait_for_text(STATUS, r"1/1 slots busy")  # the reopened view follows the cluster
        lab.screenshot("view-reopened", ".jp-NotebookPanel")
        lab.wait_for_text(STATUS, r"0/1 slots busy · .* 1 done", timeout=60)
    print(f"browser test took {time.monotonic() - started:.0f} s")
