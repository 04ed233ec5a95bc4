"""The Nest panel and status bar in a real JupyterLab, in headless Chromium, while a notebook recurses.

Screenshots land in ``screenshots/`` (gitignored):
``lab-panel-running.png`` (panel + status bar during the recursion),
``lab-notebook-widget.png`` (the notebook with the widget's live slot view in its output),
``lab-live-slots.png`` (the live slot view in the panel),
``lab-slots-tab.png`` (the same view in a tab beside the notebook),
``lab-panel-stopped.png`` (after Stop in the panel, confirmed in its dialog).
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
from support.lab import JupyterServer, LabBrowser, seceding_recursion

pytestmark = [pytest.mark.timeout(420), pytest.mark.slow, pytest.mark.browser]

SCREENSHOTS = Path(__file__).resolve().parents[2] / "screenshots"

CELLS = seceding_recursion(16)

STATUS = ".jp-Nest-status"
CARD = ".jp-Nest-cluster"


def busy_and_seceded(text: str) -> bool:
    """``Nest: 2 workers · 2/2 slots · 5 seceded`` with busy slots and seceded tasks."""
    m = re.search(r"(\d+)/(\d+) slots · (\d+) seceded", text)
    return bool(m) and int(m.group(1)) > 0 and int(m.group(3)) > 0


def test_panel_and_status_bar_follow_a_seceding_recursion():
    started = time.monotonic()
    with JupyterServer(app="lab") as server, LabBrowser(server, SCREENSHOTS, timeout=120) as lab:
        server.write_notebook("fib.ipynb", CELLS)
        lab.open_notebook("fib.ipynb")
        kernel_id = lab.kernel_id()

        lab.page.click('.jp-SideBar [data-id="jupyter-nest-panel"]')
        lab.wait_for_text(".jp-Nest-panel", "No clusters are running")

        lab.run_all_cells()
        card = f'{CARD}[data-kernel-id="{kernel_id}"]'
        lab.wait_for(f"{card}.jp-Nest-state-running")
        assert lab.wait_for_text(f"{card} .jp-Nest-cluster-title", "fib.ipynb")
        lab.wait_for_text(f"{card} .jp-Nest-shape", "2 workers x 1 thread")

        status = lab.wait_for_text(STATUS, busy_and_seceded, timeout=180)
        assert status.startswith("Nest: 2 workers · ")
        load = lab.page.inner_text(f"{card} .jp-Nest-load")
        assert re.search(r"[1-9]\d* busy", load), load
        lab.screenshot("lab-panel-running")

        # The notebook's own widget draws the same figures in the cell's output.
        lab.wait_for(".jp-NotebookPanel .jp-OutputArea-output .bk-Column", timeout=60)
        lab.wait_for(".jp-NotebookPanel .jp-OutputArea-output .bk-Canvas, "
                     ".jp-NotebookPanel .jp-OutputArea-output canvas", state="attached", timeout=60)
        lab.screenshot("lab-notebook-widget", ".jp-NotebookPanel")

        lab.page.click(f"{card} .jp-Nest-show")
        lab.wait_for(".jp-Nest-slots .bk-Column, .jp-Nest-slots .bk-Figure", timeout=60)
        lab.wait_for(".jp-Nest-slots canvas, .jp-Nest-slots .bk-Canvas", state="attached", timeout=60)
        lab.screenshot("lab-live-slots")

        lab.page.click(f"{card} .jp-Nest-tab")
        lab.wait_for(".jp-MainAreaWidget .jp-Nest-slots .bk-Column", timeout=60)
        lab.wait_for(".jp-MainAreaWidget .jp-Nest-slots .bk-Canvas, .jp-MainAreaWidget .jp-Nest-slots canvas",
                     state="attached", timeout=60)
        lab.screenshot("lab-slots-tab")

        lab.wait_for_text(".jp-NotebookPanel .jp-Notebook", r"fib\(16\) = 987", timeout=240)
        lab.wait_for_text(STATUS, r"· 0/2 slots · 0 seceded")

        lab.page.click(f"{card} .jp-Nest-scale")
        lab.page.fill(".jp-Dialog input", "1")
        lab.page.click(".jp-Dialog .jp-mod-accept")
        lab.wait_for_text(f"{card} .jp-Nest-shape", "1 worker x 1 thread", timeout=90)

        lab.page.click(f"{card} .jp-Nest-stop")
        lab.page.click(".jp-Dialog .jp-mod-accept")  # Stop asks first
        lab.wait_for(f"{card}.jp-Nest-state-stopped", timeout=60)
        lab.wait_for_text(f"{card} .jp-Nest-reason", "Stopped from the Nest panel")
        lab.wait_for_text(STATUS, "Nest: cluster stopped")
        lab.wait_for_text(".jp-Nest-slots-message", "This cluster was stopped")
        lab.screenshot("lab-panel-stopped")
    print(f"browser test took {time.monotonic() - started:.0f} s")
