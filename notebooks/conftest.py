"""nbval runs the notebooks with a wait's progress bar only past 5 s (users get it past 1 s).

Their quick cells wait 0.2-1 s on a quiet machine and several times that on a loaded one: a bar
appearing in some runs and not others would change a cell's outputs. The one wait the notebooks keep a
bar of (notebook 05's deadlock, 8 s) is far past 5 s. Kernels read the setting from the environment
when nbval starts them, at a notebook's first cell.
"""

from __future__ import annotations

import os

import pytest


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    os.environ.setdefault("DASK_JUPYTER_NEST__PROGRESS__WAIT_BAR_AFTER", "5s")
