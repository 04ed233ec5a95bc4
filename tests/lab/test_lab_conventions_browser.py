"""The Nest panel and status bar follow JupyterLab's conventions, in a real JupyterLab in headless Chromium.

One JupyterLab, one notebook whose kernel runs a cluster (1 worker x 1 thread), and the
tests in order: the status bar item is a keyboard button, the panel keeps the focus across
refreshes, the settings (changed in the Settings Editor) take effect live, axe-core finds
nothing serious (light and dark theme), and Stop asks first and then says where the stop came from.

Screenshots land in ``screenshots/`` (gitignored): ``lab-settings-editor.png``,
``lab-stop-dialog.png``, ``lab-panel-stopped-from-panel.png``.
"""

from __future__ import annotations

import re
import statistics
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from support.lab import JupyterServer, LabBrowser

pytestmark = [pytest.mark.timeout(420), pytest.mark.slow, pytest.mark.browser]

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "screenshots"
AXE = ROOT / "labextension" / "node_modules" / "axe-core" / "axe.min.js"

STATUS = ".jp-Nest-status"
PANEL = "#jupyter-nest-panel"
CARD = ".jp-Nest-cluster"
FIELD = "#jp-SettingsEditor-jupyter-nest\\:plugin_"  # the Settings Editor's inputs, by setting name


def wait_until(predicate: Callable[[], Any], lab: LabBrowser, timeout: float, what: str) -> Any:
    """Poll ``predicate`` while the page runs (Playwright delivers events during its waits)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        lab.page.wait_for_timeout(100)
    raise AssertionError(f"{what} within {timeout} s")


class Refreshes:
    """When the page asked the server for the cluster list: one request per refresh of the panel."""

    def __init__(self, lab: LabBrowser) -> None:
        self.lab = lab
        self.times: list[float] = []
        lab.page.on("request", self._seen)

    def _seen(self, request: Any) -> None:
        if urlsplit(request.url).path.endswith("/jupyter-nest/clusters"):
            self.times.append(time.monotonic())

    def wait(self, n: int, timeout: float = 30) -> None:
        """Wait for ``n`` more refreshes (and the answer to the last, so the panel has drawn it)."""
        target = len(self.times) + n + 1
        wait_until(lambda: len(self.times) >= target, self.lab, timeout, f"{n} refreshes")

    def median_interval(self, n: int) -> float:
        """The median seconds between the next ``n + 1`` refreshes."""
        start = len(self.times)
        self.wait(n + 1, timeout=n * 5 + 30)
        return statistics.median(b - a for a, b in zip(self.times[start:], self.times[start + 1:], strict=False))


def axe(lab: LabBrowser, where: str) -> list[dict[str, Any]]:
    """axe-core's violations in the Nest panel and the status bar item; prints their count by impact."""
    if not lab.page.evaluate("() => Boolean(window.axe)"):
        lab.page.add_script_tag(path=str(AXE))
        # JupyterLab's body is 0 px high with overflow: hidden (the shell is positioned over it), so axe
        # takes every text in the page for clipped and skips the contrast check; give them the viewport's
        # height, which changes nothing on screen.
        lab.page.add_style_tag(content="html, body { height: 100%; }")
    found = lab.page.evaluate("""async (include) => {
        const found = await window.axe.run({ include }, { resultTypes: ['violations'] });
        return {
            passes: found.passes.map(p => p.id),
            incomplete: found.incomplete.map(v => ({
                id: v.id, nodes: v.nodes.map(n => `${n.target.join(' ')}: ${n.any.map(c => c.message).join('; ')}`)
            })),
            violations: found.violations.map(v => ({
                id: v.id, impact: v.impact, help: v.help,
                nodes: v.nodes.map(n => `${n.target.join(' ')}: ${n.failureSummary}`)
            }))
        };
    }""", [[PANEL], [STATUS]])
    violations = found["violations"]
    counts = Counter(v["impact"] for v in violations)
    print(f"axe-core {where}: {len(violations)} violation(s) {dict(counts)} {[v['id'] for v in violations]}; "
          f"{len(found['passes'])} rules passed; to review: {found['incomplete']}")
    # the run saw our buttons and text, not an empty selection
    assert {"button-name", "color-contrast"} <= set(found["passes"]), found["passes"]
    return violations


def serious(violations: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [v for v in violations if v["impact"] in ("serious", "critical")]


def axe_in_both_themes(lab: LabBrowser, where: str) -> list[dict[str, Any]]:
    """:func:`axe` in JupyterLab's light theme, then its dark one (the colours come from the theme)."""
    found = axe(lab, f"{where}, light theme")
    lab.command("apputils:change-theme", {"theme": "JupyterLab Dark"})
    try:
        lab.wait_for('body[data-jp-theme-name="JupyterLab Dark"]', state="attached")
        lab.page.wait_for_timeout(500)  # the theme's stylesheet applies after the attribute changes
        found += axe(lab, f"{where}, dark theme")
    finally:
        lab.command("apputils:change-theme", {"theme": "JupyterLab Light"})
        lab.wait_for('body[data-jp-theme-name="JupyterLab Light"]', state="attached")
    return found


@pytest.fixture(scope="module")
def lab():
    if not AXE.exists():
        pytest.fail(f"{AXE} is missing: run `npm ci` in labextension/ first.", pytrace=False)
    with JupyterServer(app="lab") as server, LabBrowser(server, SCREENSHOTS, timeout=90) as lab:
        server.write_notebook("nest.ipynb", [
            "%load_ext jupyter_nest\nclient = %nest_cluster start --workers 1 --threads 1"])
        lab.open_notebook("nest.ipynb")
        lab.refreshes = Refreshes(lab)
        lab.run_all_cells()
        lab.wait_for_text(STATUS, r"^Nest: 1 worker · 0/1 slots · 0 seceded$")
        yield lab


def card(lab: LabBrowser) -> str:
    return f'{CARD}[data-kernel-id="{lab.kernel_id()}"]'


def focus_by_keyboard(lab: LabBrowser, selector: str, most: int = 60) -> int:
    """Shift+Tab from the page's end until ``selector`` has the focus; how many presses it took."""
    lab.page.evaluate("() => document.activeElement?.blur()")
    for presses in range(1, most + 1):
        lab.page.keyboard.press("Shift+Tab")
        if lab.page.evaluate("s => document.activeElement?.matches(s)", selector):
            return presses
    raise AssertionError(f"{selector} not reached with {most} Shift+Tab presses")


def test_the_status_bar_item_is_a_button_that_opens_the_panel_from_the_keyboard(lab):
    # ("0.1": a slash in the pattern breaks Playwright's selector parser)
    button = lab.page.get_by_role("button", name=re.compile(r"^Nest: 1 worker · 0.1 slots"))
    assert button.count() == 1 and button.evaluate("b => b.matches('.jp-Nest-status')")
    assert lab.page.is_hidden(PANEL)

    presses = focus_by_keyboard(lab, STATUS)
    lab.page.keyboard.press("Enter")
    lab.wait_for(PANEL)

    lab.command("application:toggle-left-area")
    lab.wait_for(PANEL, state="hidden")
    focus_by_keyboard(lab, STATUS)
    lab.page.keyboard.press("Space")
    lab.wait_for(PANEL)
    print(f"status bar button reached with {presses} Shift+Tab presses; Enter and Space open the panel")


def test_a_focused_button_in_the_panel_keeps_the_focus_while_the_panel_refreshes(lab):
    target = f"{card(lab)} .jp-Nest-scale"
    lab.page.focus(target)
    lab.page.evaluate("() => { window.nestFocused = document.activeElement; }")
    load = f"{card(lab)} .jp-Nest-load"
    before = lab.page.inner_text(load)
    # A task in the one slot changes what the card says while the focus is in it.
    lab.page.evaluate("""() => window.jupyterapp.shell.currentWidget.sessionContext.session.kernel.requestExecute(
        { code: "import time\\nslow = client.submit(time.sleep, 8, pure=False)", store_history: false })""")
    lab.wait_for_text(load, r"^1 busy")
    lab.refreshes.wait(2)
    after = lab.page.inner_text(load)
    still = lab.page.evaluate("() => document.activeElement === window.nestFocused && window.nestFocused.isConnected")
    assert still, lab.page.evaluate("() => document.activeElement.outerHTML")
    assert lab.page.evaluate("() => document.activeElement.textContent") == "Scale…"
    print(f"focus kept on Scale… while the card went from {before!r} to {after!r}")


def test_the_settings_editor_changes_refresh_rate_and_status_bar_live(lab):
    default = lab.refreshes.median_interval(3)
    assert 1.7 < default < 3.0, default

    lab.command("settingeditor:open", {"query": "Nest"})
    lab.wait_for(f"{FIELD}refreshInterval")
    lab.page.fill(f"{FIELD}refreshInterval", "500")
    lab.screenshot("lab-settings-editor")
    fast = wait_until(lambda: (i := lab.refreshes.median_interval(4)) < 0.9 and i, lab, 60,
                      "refreshes every 0.5 s after the setting changed")

    lab.page.check(f"{FIELD}statusBarFields_queued")
    lab.page.uncheck(f"{FIELD}statusBarFields_seceded")
    lab.wait_for_text(STATUS, r"^Nest: 1 worker · \d/1 slots · 0 queued$")

    lab.page.uncheck(f"{FIELD}showStatusBar")
    lab.wait_for(STATUS, state="hidden")
    lab.page.check(f"{FIELD}showStatusBar")
    lab.wait_for(STATUS)
    # Saved where JupyterLab keeps user settings, not only in the page.
    saved = lab.server.api("GET", "lab/api/settings/jupyter-nest:plugin")["raw"]
    assert '"refreshInterval": 500' in saved and '"queued": true' in saved, saved
    lab.page.click(".lm-DockPanel-tabBar .lm-TabBar-tab:has-text('nest.ipynb')")
    lab.wait_for_text(STATUS, r"0 queued$")
    print(f"refresh interval: median {default:.2f} s at the default 2000 ms, {fast:.2f} s at 500 ms")


def test_axe_finds_nothing_serious_in_the_panel_and_status_bar(lab):
    lab.command("jupyter-nest:open")
    lab.wait_for(PANEL)
    lab.page.click(f"{card(lab)} .jp-Nest-show")
    lab.wait_for(".jp-Nest-slots .bk-Column", timeout=60)
    found = axe_in_both_themes(lab, "on the running cluster's card, live slots and status bar")
    assert not serious(found), serious(found)


def test_stop_asks_first_then_says_it_was_stopped_from_the_panel(lab):
    this = card(lab)
    lab.page.click(f"{this} .jp-Nest-stop")
    dialog = lab.wait_for(".jp-Dialog")
    text = dialog.inner_text()
    address = lab.server.api("GET", "jupyter-nest/clusters")["clusters"][0]["scheduler"]
    assert "Stop the cluster of nest.ipynb?" in text and address in text, text
    lab.screenshot("lab-stop-dialog")
    lab.page.click(".jp-Dialog .jp-mod-reject")
    lab.wait_for(".jp-Dialog", state="hidden")
    lab.refreshes.wait(2)
    assert lab.page.is_visible(f"{this}.jp-Nest-state-running")
    assert [c["state"] for c in lab.server.api("GET", "jupyter-nest/clusters")["clusters"]] == ["running"]

    lab.page.click(f"{this} .jp-Nest-stop")
    lab.wait_for(".jp-Dialog")
    lab.page.click(".jp-Dialog .jp-mod-accept")
    lab.wait_for(f"{this}.jp-Nest-state-stopped", timeout=60)
    reason = lab.wait_for_text(f"{this} .jp-Nest-reason", r"^Stopped from the Nest panel\.")
    assert address in reason and "The kernel said: Stopped the" in reason, reason
    lab.wait_for_text(".jp-Notification-Toast-success, .Toastify__toast", "Stopped from the Nest panel")
    assert [c["state"] for c in lab.server.api("GET", "jupyter-nest/clusters")["clusters"]] == ["stopped"]
    lab.screenshot("lab-panel-stopped-from-panel")
    print(f"card after Stop: {reason!r}")


def test_axe_finds_nothing_serious_on_a_stopped_cluster(lab):
    found = axe_in_both_themes(lab, "on the stopped cluster's card and status bar")
    assert not serious(found), serious(found)
