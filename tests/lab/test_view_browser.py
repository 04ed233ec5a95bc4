"""The notebook's slot view as a person sees it in JupyterLab: it keeps working after ``close()``, and after
it lost count of the patches the kernel sends.

Screenshots land in ``screenshots/`` (gitignored): ``view-reopened.png``, ``view-dark.png`` (the view in
JupyterLab Dark), ``view-panel-280.png`` (the live slots in the Nest side panel, 280 px wide), and
``view-panel-dark.png`` / ``view-panel-light.png`` (the panel's figures as the theme switches).
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
from PIL import Image, ImageStat
from support.lab import JupyterServer, LabBrowser

pytestmark = [pytest.mark.timeout(300), pytest.mark.slow, pytest.mark.browser]

SCREENSHOTS = Path(__file__).resolve().parents[2] / "screenshots"

CELLS = [
    "%load_ext jupyter_nest\nclient = %nest_cluster start --workers 1 --threads 1 --no-dashboard\n"
    "import time, jupyter_nest",
    "view = jupyter_nest.widget(interval=0.2)\nview",
    "time.sleep(1)\nview.close()\nprint('closed')",
    "busy = client.submit(time.sleep, 4, pure=False)",
    # Two stray patch messages: the view now counts jupyter_bokeh's three-message patches out of step, as
    # a view made in the middle of a patch does (Notebook 7 on Run All, under load); it drops every patch.
    "with view.lock:\n    view.model.send({'msg': 'patch', 'payload': '{}'})\n"
    "    view.model.send({'msg': 'patch', 'payload': '{}'})\nbusy = client.submit(time.sleep, 3, pure=False)",
]
STATUS = ".jp-NotebookPanel .jp-OutputArea-output .jp-Nest-view-status .bk-clearfix"
PANEL_STATUS = ".jp-Nest-slots .jp-Nest-view-status .bk-clearfix"
PANEL_FIGURE = ".jp-Nest-slots .bk-Figure"


# Elements (also inside Bokeh's shadow roots) whose text or content is wider than their box, or than the panel.
OVERFLOWING = """panel => {
    const limit = panel.getBoundingClientRect().right + 1
    const found = []
    const walk = root => {
        for (const e of root.querySelectorAll("*")) {
            if (e.shadowRoot) { walk(e.shadowRoot) }
            const box = e.getBoundingClientRect()
            if (box.width === 0 || getComputedStyle(e).overflow === "hidden" && e.tagName !== "DIV") { continue }
            if (box.right > limit || e.scrollWidth > e.clientWidth + 1 && getComputedStyle(e).overflowX === "visible") {
                found.push(`${e.tagName}.${e.className}: ${Math.round(box.right)} > ${Math.round(limit)}`)
            }
        }
    }
    walk(panel)
    return found.slice(0, 10)
}"""


def brightness_of(lab: LabBrowser, selector: str, name: str) -> float:
    """The mean brightness (0-255) of the first element ``selector`` matches, from a screenshot saved as ``name``."""
    path = lab.screenshot(name, selector)
    return ImageStat.Stat(Image.open(path).convert("L")).mean[0]


def luminance(css_color: str) -> float:
    """The relative luminance (0 black - 1 white) of a CSS ``rgb()``/``rgba()`` colour."""
    red, green, blue = (int(v) / 255 for v in re.findall(r"[\d.]+", css_color)[:3])
    return 0.2126 * red + 0.7152 * green + 0.0722 * blue


def run_cell(lab: LabBrowser, index: int) -> None:
    lab.page.evaluate(f"() => {{ window.jupyterapp.shell.currentWidget.content.activeCellIndex = {index}; }}")
    lab.command("notebook:run-cell")


def insert_cell(lab: LabBrowser, index: int, source: str) -> None:
    lab.page.evaluate("([index, source]) => window.jupyterapp.shell.currentWidget.content.model.sharedModel"
                      ".insertCell(index, {cell_type: 'code', source})", [index, source])


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
        insert_cell(lab, 3, CELLS[3])
        run_cell(lab, 3)
        lab.wait_for_text(STATUS, r"1/1 slots busy")  # the reopened view follows the cluster
        lab.screenshot("view-reopened", ".jp-NotebookPanel")
        lab.wait_for_text(STATUS, r"0/1 slots busy · .* 1 done", timeout=60)

        # A view that lost count of the patches gets back in step at the next one.
        insert_cell(lab, 4, CELLS[4])
        run_cell(lab, 4)
        lab.wait_for_text(STATUS, r"1/1 slots busy")
        lab.wait_for_text(STATUS, r"0/1 slots busy · .* 2 done", timeout=60)

        # JupyterLab's dark theme: a view shown after the switch draws its figures dark too.
        lab.command("apputils:change-theme", {"theme": "JupyterLab Dark"})
        lab.wait_for('body[data-jp-theme-name="JupyterLab Dark"]', state="attached")
        run_cell(lab, 1)
        lab.wait_for_text(STATUS, r"1 worker ·")
        figure = lab.page.locator(".jp-NotebookPanel .jp-OutputArea-output .bk-Figure").first
        figure.wait_for()
        lab.page.wait_for_timeout(500)
        shot = lab.screenshot("view-dark", ".jp-NotebookPanel")
        figure.screenshot(path=str(shot.with_name("view-dark-figure.png")))
        brightness = ImageStat.Stat(Image.open(shot.with_name("view-dark-figure.png")).convert("L")).mean[0]
        assert brightness < 90, f"the figure stayed light in the dark theme (mean brightness {brightness:.0f})"

        # The Nest side panel at 280 px: its live slots view fits, no text runs out of its box.
        lab.page.click('.jp-SideBar [data-id="jupyter-nest-panel"]')
        lab.page.evaluate("() => { const split = window.jupyterapp.shell._hsplitPanel;"
                          " const width = split.node.clientWidth; split.setRelativeSizes("
                          "[280 / width, (width - 280) / width, 0]); }")
        lab.page.click(".jp-Nest-cluster .jp-Nest-show")
        lab.wait_for(".jp-Nest-slots .bk-Canvas, .jp-Nest-slots canvas", state="attached")
        lab.wait_for_text(PANEL_STATUS, r"1 worker")
        lab.page.wait_for_timeout(1000)
        panel = lab.page.locator(".jp-Nest-panel").first
        assert abs(panel.bounding_box()["width"] - 280) < 20, panel.bounding_box()
        overflowing = lab.page.locator(".jp-Nest-panel").evaluate(OVERFLOWING)
        lab.screenshot("view-panel-280")
        assert overflowing == [], overflowing

        # The panel in the dark theme as a person sees it: dark figures, light text, a status that follows
        # the cluster (work submitted after the panel opened), and back to light with the theme.
        assert brightness_of(lab, PANEL_FIGURE, "view-panel-dark") < 90
        assert luminance(lab.page.locator(PANEL_STATUS).evaluate("e => getComputedStyle(e).color")) > 0.6
        assert luminance(lab.page.locator(".jp-Nest-panel").evaluate("e => getComputedStyle(e).backgroundColor")) < 0.2
        run_cell(lab, 3)
        lab.wait_for_text(PANEL_STATUS, r"1/1 slots busy")
        lab.command("apputils:change-theme", {"theme": "JupyterLab Light"})
        lab.wait_for('body[data-jp-theme-name="JupyterLab Light"]', state="attached")
        lab.page.wait_for_timeout(2000)  # the next polls of the panel
        assert brightness_of(lab, PANEL_FIGURE, "view-panel-light") > 160
        assert luminance(lab.page.locator(PANEL_STATUS).evaluate("e => getComputedStyle(e).color")) < 0.4
    print(f"browser test took {time.monotonic() - started:.0f} s")
