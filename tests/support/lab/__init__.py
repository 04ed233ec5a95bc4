"""Drive a real JupyterLab in headless Chromium, for the browser tests and for scripts (test code, not in the wheel).

Example: run a notebook in a fresh JupyterLab and screenshot it::

    from support.lab import JupyterServer, LabBrowser

    with JupyterServer(app="lab") as server, LabBrowser(server, "screenshots") as lab:
        server.write_notebook("demo.ipynb", ["%load_ext jupyter_nest", "%nest_cluster start"])
        lab.open_notebook("demo.ipynb")
        lab.run_all_cells()
        lab.wait_for(".jp-OutputArea-output")
        lab.screenshot("demo")

Needs the ``test`` extra (``playwright``) and Debian's ``chromium``; nothing is downloaded.
"""

from ._browser import LabBrowser
from ._server import JupyterServer
from ._workload import seceding_recursion

__all__ = ["JupyterServer", "LabBrowser", "seceding_recursion"]
