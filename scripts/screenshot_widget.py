"""Render the live slot view in a real browser and save it as a PNG.

Starts JupyterLab on 127.0.0.1 (random token, temporary dirs), opens a notebook that
starts a 2 x 1 cluster, shows ``jupyter_nest.widget()`` and runs a seceding recursion
(the Dask docs' fib with get_client + secede/rejoin), and screenshots the widget's
output while the work runs. Needs Debian's chromium and
``pip install ".[test]"`` (playwright, without a browser download).

    python scripts/screenshot_widget.py [--out screenshots/slot-view.png]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

# The browser harness is test code (tests/support/lab), not part of the installed package.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from support.lab import JupyterServer, LabBrowser, seceding_recursion

OUTPUT = ".jp-NotebookPanel .jp-OutputArea-output:has(.bk-Column)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="screenshots/slot-view.png", help="where to write the PNG")
    args = parser.parse_args()
    out = Path(args.out).resolve()
    with JupyterServer(app="lab") as server, LabBrowser(server, out.parent, timeout=120) as lab:
        server.write_notebook("slot-view.ipynb", seceding_recursion(14, leaf_seconds=0.05))
        lab.open_notebook("slot-view.ipynb")
        lab.run_all_cells()
        lab.wait_for(OUTPUT, timeout=120)
        # the Nest status bar says when the recursion is in full swing: slots busy, tasks seceded
        lab.wait_for_text(".jp-Nest-status", r"[1-9]\d*/\d+ slots · [1-9]\d* seceded", timeout=120)
        path = lab.screenshot(out.stem, selector=OUTPUT)
    print(path)


if __name__ == "__main__":
    main()
