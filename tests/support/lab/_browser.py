"""Headless Debian Chromium on a JupyterLab (or Notebook 7) page, through Playwright (no browser download).

Waits are on what the page shows (selectors, text), never on fixed sleeps, and
commands are started without awaiting them, as a user's click would be.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ._server import JupyterServer

CHROMIUM_FLAGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]


def chromium_path() -> str:
    """Debian's chromium, or ``$JUPYTER_NEST_CHROMIUM``."""
    path = os.environ.get("JUPYTER_NEST_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
    if not os.path.exists(path):
        raise RuntimeError(
            f"No Chromium at {path}: install Debian's (`apt-get install -y chromium`) or point "
            "JUPYTER_NEST_CHROMIUM at a Chromium binary."
        )
    return path


class LabBrowser:
    """A JupyterLab or Notebook 7 page in headless Chromium, with helpers for notebooks and screenshots.

    Parameters
    ----------
    server : JupyterServer
        A started ``JupyterServer(app="lab")`` or ``JupyterServer(app="notebook")``. Both expose the app
        as ``window.jupyterapp``, with the same commands and notebook panels.
    screenshots : str or Path
        Folder for :meth:`screenshot`'s PNG files.
    timeout : float
        Default seconds for every wait.

    Examples
    --------
    >>> with JupyterServer(app="lab") as server, LabBrowser(server, "screenshots") as lab:  # doctest: +SKIP
    ...     lab.open_notebook("demo.ipynb")
    ...     lab.screenshot("empty-notebook")
    """

    def __init__(self, server: JupyterServer, screenshots: str | Path = "screenshots",
                 timeout: float = 60, viewport: tuple[int, int] = (1400, 900)) -> None:
        self.server = server
        self.screenshots = Path(screenshots)
        self.timeout = timeout
        self.viewport = viewport
        self.page: Any = None

    def __enter__(self) -> LabBrowser:
        from playwright.sync_api import sync_playwright

        self._user_data = tempfile.mkdtemp(prefix="jupyter-nest-chromium-")
        self._playwright = sync_playwright().start()
        try:
            self._context = self._playwright.chromium.launch_persistent_context(
                self._user_data, executable_path=chromium_path(), headless=True, args=CHROMIUM_FLAGS,
                viewport={"width": self.viewport[0], "height": self.viewport[1]},
            )
        except BaseException:
            self._playwright.stop()
            raise
        self.page = self._context.pages[0] if self._context.pages else self._context.new_page()
        self.page.set_default_timeout(self.timeout * 1000)
        return self

    def __exit__(self, *exc: Any) -> None:
        self._context.close()
        self._playwright.stop()
        shutil.rmtree(self._user_data, ignore_errors=True)

    # -- navigation ----------------------------------------------------------

    @property
    def notebook7(self) -> bool:
        """Whether the server is Notebook 7 (one document per page, other URLs and main area)."""
        return self.server.app == "notebook"

    def open(self, path: str | None = None) -> None:
        """Load ``path`` of the server (default its home page), logging in with the token; wait for the app."""
        path = path or ("tree" if self.notebook7 else "lab")
        self.page.goto(f"{self.server.url.rstrip('/')}/{path}?token={self.server.token}")
        self.page.wait_for_function("() => window.jupyterapp && window.jupyterapp.started !== undefined")
        self.page.wait_for_selector("#main-panel" if self.notebook7 else "#jp-main-dock-panel")

    def open_notebook(self, path: str) -> None:
        """Open the notebook at ``path`` (under the server's root) and wait for its kernel to be idle."""
        self.open(f"notebooks/{path}" if self.notebook7 else f"lab/tree/{path}")
        self.page.wait_for_selector(".jp-NotebookPanel .jp-Cell")
        self.page.wait_for_function(
            "() => window.jupyterapp.shell.currentWidget?.sessionContext?.session?.kernel?.status === 'idle'"
        )

    def command(self, command: str, args: dict[str, Any] | None = None) -> None:
        """Start a JupyterLab (or Notebook 7) command without waiting for it, as a click would."""
        self.page.evaluate("([c, a]) => { window.jupyterapp.commands.execute(c, a); }", [command, args or {}])

    def run_all_cells(self) -> None:
        self.command("notebook:run-all-cells")

    def kernel_id(self) -> str:
        """The kernel id of the active notebook."""
        return self.page.evaluate("() => window.jupyterapp.shell.currentWidget.sessionContext.session.kernel.id")

    # -- waiting and looking ---------------------------------------------------

    def wait_for(self, selector: str, timeout: float | None = None, state: str = "visible") -> Any:
        """Wait until ``selector`` matches an element in ``state``; return its handle."""
        return self.page.wait_for_selector(selector, state=state, timeout=(timeout or self.timeout) * 1000)

    def wait_for_text(self, selector: str, accept: Callable[[str], bool] | str,
                      timeout: float | None = None) -> str:
        """Wait until the text of ``selector`` passes ``accept`` (a predicate or a regex); return it."""
        if isinstance(accept, str):
            pattern = re.compile(accept)
            accept = lambda text: bool(pattern.search(text))  # noqa: E731
        deadline = time.monotonic() + (timeout or self.timeout)
        text = ""
        while time.monotonic() < deadline:
            locator = self.page.locator(selector)
            if locator.count():
                text = locator.first.inner_text()
                if accept(text):
                    return text
            self.page.wait_for_timeout(200)
        raise TimeoutError(f"{selector!r} did not show the expected text within the timeout; last: {text!r}")

    def screenshot(self, name: str, selector: str | None = None) -> Path:
        """Save the page (or the element ``selector``) as ``<screenshots>/<name>.png``."""
        self.screenshots.mkdir(parents=True, exist_ok=True)
        path = self.screenshots / f"{name}.png"
        target = self.page.locator(selector).first if selector else self.page
        target.screenshot(path=str(path))
        return path
