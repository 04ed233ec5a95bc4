"""The live slot view in Notebook 7, in headless Chromium, while a notebook recurses.

Notebook 7 loads the same prebuilt extensions as JupyterLab (ipywidgets' manager and
jupyter_bokeh's renderer), but through its own app and page; this checks the widget
really draws there, keeps drawing while the cell blocks, and that nothing is fetched
from anywhere but the server (BokehJS from the server's jupyter_nest extension, no CDN), and that
the progress bar the cell's plain ``future.result()`` shows advances and ends at 100 %.

Screenshots (``screenshots/`` is gitignored): ``notebook7-widget.png``, the notebook page
with the slot view in the cell's output during the recursion; ``notebook7-progress.png``, the
recursion's progress bar at 100 %.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import psutil
import pytest
from support.lab import JupyterServer, LabBrowser, seceding_recursion

pytestmark = [pytest.mark.timeout(300), pytest.mark.slow, pytest.mark.browser]

SCREENSHOTS = Path(__file__).resolve().parents[2] / "screenshots"

# fib(12) with 0.25 s leaves: 233 leaves on 2 slots keep the cell blocked for about 30 s, long enough for the
# checks below on a busy machine too (with 0.1 s leaves a loaded CI saw the cell end before them).
# Its wait, client.submit(fib, 12).result(), shows a progress bar of the recursion after a second.
CELLS = seceding_recursion(12, leaf_seconds=0.25)
PROGRESS = ".jp-NotebookPanel .jp-Nest-progress"

OUTPUT = ".jp-NotebookPanel .jp-OutputArea-output:has(.bk-Column)"

# The status line, as the page shows it (text in the page, above the figures).
STATUS = f"{OUTPUT} .jp-Nest-view-status .bk-clearfix"

# Errors from the code under test: their message, stack or script URL names Bokeh, widgets or Nest.
# (Notebook 7.6 itself throws "reading 'schema'" from its shortcuts settings on every page load.)
OURS = re.compile(r"bokeh|widget|nest", re.IGNORECASE)


def seceded(text: str) -> int:
    """The number of seceded tasks in ``2 workers · 2/2 slots busy · 393 seceded · ...``, or 0."""
    m = re.search(r"(\d+) seceded", text)
    return int(m.group(1)) if m else 0


def canvases(lab: LabBrowser) -> list[str]:
    """What every canvas of the widget shows, as PNG data URLs."""
    return lab.page.locator(f"{OUTPUT} canvas").evaluate_all("cs => cs.map(c => c.toDataURL())")


def offsite(urls: list[str]) -> list[str]:
    """The HTTP(S) and WebSocket URLs that went anywhere but the server on 127.0.0.1."""
    return [u for u in urls if urlsplit(u).scheme in ("http", "https", "ws", "wss")
            and urlsplit(u).hostname != "127.0.0.1"]


def wait_until(predicate: Callable[[], Any], timeout: float, what: str) -> Any:
    """Poll ``predicate`` (every 0.2 s) until it returns something true; return that."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise TimeoutError(f"{what} within {timeout} s")


def test_widget_renders_and_updates_live_in_notebook7():
    started = time.monotonic()
    requests: list[str] = []
    errors: list[str] = []
    with JupyterServer(app="notebook") as server, LabBrowser(server, SCREENSHOTS, timeout=120) as lab:
        server.write_notebook("fib.ipynb", CELLS)
        page = lab.page
        page.on("request", lambda r: requests.append(r.url))
        page.on("websocket", lambda ws: requests.append(ws.url))
        page.on("pageerror", lambda e: errors.append(f"page error: {e.message}\n{e.stack}"))
        page.on("console", lambda m: errors.append(f"console: {m.text} ({m.location.get('url')})")
                if m.type == "error" else None)

        lab.open_notebook("fib.ipynb")
        assert page.evaluate("() => window.jupyterapp.name") == "Jupyter Notebook"  # Notebook 7, not Lab
        lab.run_all_cells()

        # The Bokeh layout is in the cell's output, with a size, and its figures have canvases.
        try:
            column = lab.wait_for(f"{OUTPUT} .bk-Column", timeout=120)
        except Exception as error:  # say what the page tried and what broke, not just "timeout"
            raise AssertionError(f"no Bokeh layout in the output; offsite requests: {offsite(requests)}; "
                                 f"errors: {errors}") from error
        box = column.bounding_box()
        assert box and box["width"] > 100 and box["height"] > 100, box
        sizes = page.locator(f"{OUTPUT} canvas").evaluate_all("cs => cs.map(c => [c.width, c.height])")
        assert any(w > 100 and h > 20 for w, h in sizes), sizes
        # the kernel and the cluster's processes, to check they end with the server
        family = psutil.Process(server.process.pid).children(recursive=True)

        # It keeps updating while the recursion blocks the cell: the status text and the drawing change.
        seen: list[str] = []

        def status(accept: Callable[[str], Any]) -> str:
            locator = page.locator(STATUS)
            text = locator.first.inner_text() if locator.count() else ""
            seen.append(text)
            return text if accept(text) else ""

        try:
            before = wait_until(lambda: status(seceded), 120, "no seceded tasks in the widget's status line")
        except TimeoutError as error:  # say what the page showed instead
            lab.screenshot("notebook7-no-seceded")
            shown = list(dict.fromkeys(seen))[-5:]
            raise AssertionError(f"{error}; the status line showed {shown}; the notebook ends with "
                                 f"{page.inner_text('.jp-NotebookPanel')[-300:]!r}; errors: {errors}") from None
        drawn = canvases(lab)
        after = wait_until(lambda: status(lambda t: t != before), 30, f"the status line stayed {before!r}")
        # BokehJS paints on the next animation frame, after the model (and the status text) changed
        wait_until(lambda: canvases(lab) != drawn, 30, "the figures were not redrawn")
        # The recursion's cell still runs. (Not the kernel's status: ipykernel 7 answers the view's comm
        # messages while a cell runs, and says "idle" after each.)
        assert page.locator(".jp-NotebookPanel .jp-CodeCell").nth(2).locator(".jp-InputPrompt").inner_text() == "[*]:"
        assert not re.search(r"fib\(12\) = \d", page.inner_text(".jp-NotebookPanel")), "ended before the check"
        page.locator(OUTPUT).first.scroll_into_view_if_needed()
        lab.screenshot("notebook7-widget")

        # The progress bar of the cell's plain wait advances while the cell blocks, and ends at 100 %.
        lab.wait_for(PROGRESS, timeout=60)
        shown, done = [], []
        while not shown or shown[-1] != "100":
            shown.append(page.locator(PROGRESS).first.get_attribute("data-percent"))
            done.append(int(page.locator(f"{PROGRESS} progress").first.get_attribute("value")))
            assert len(shown) < 1800, shown[-5:]
            page.wait_for_timeout(100)
        assert any(0 < int(p) < 100 for p in shown), shown
        # tasks done only grow; the share may dip while the tree (the total) grows faster
        assert done == sorted(done), done
        assert re.search(r"^fib .*100% 465/465 done · 0 running · 0 seceded · 0 failed · \d+\.\d s · finished",
                         page.inner_text(PROGRESS))
        lab.wait_for_text(".jp-NotebookPanel", r"fib\(12\) = 144", timeout=180)
        page.locator(PROGRESS).first.scroll_into_view_if_needed()
        lab.screenshot("notebook7-progress")

    # Everything came from the server: no CDN, no other host.
    assert not offsite(requests), offsite(requests)
    assert any("/api/kernels/" in u for u in requests)  # the recording saw the page's traffic
    ours = [e for e in errors if OURS.search(e)]
    assert not ours, "\n\n".join(ours)
    # The kernel, the scheduler and the workers are gone with the server.
    _, alive = psutil.wait_procs(family, timeout=10)
    assert not alive, alive
    print(f"status went from {before!r} to {after!r}; {len(requests)} requests, all to 127.0.0.1; "
          f"{len(errors) - len(ours)} other page error(s); took {time.monotonic() - started:.0f} s")
