"""Loading jupyter_nest imports neither Dask nor Bokeh until they are used.

Jupyter's server imports the package at every start to find its server extension, and
``%load_ext jupyter_nest`` runs in kernels that may never start a cluster. Each check runs in a fresh
interpreter, since this one has imported everything already.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import jupyter_nest

REPO = Path(__file__).resolve().parents[2]
HEAVY = ("dask", "distributed", "bokeh", "jupyter_bokeh", "ipywidgets")


def heavy_modules_after(code: str) -> list[str]:
    """The heavy modules a fresh interpreter holds after running ``code``."""
    probe = f"{code}\nimport sys\nprint(' '.join(m for m in {HEAVY!r} if m in sys.modules))"
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return result.stdout.split()


def test_importing_the_package_imports_no_dask_and_no_bokeh():
    assert heavy_modules_after("import jupyter_nest") == []


def test_load_ext_registers_the_magics_without_importing_dask_or_bokeh():
    code = ("from IPython.core.interactiveshell import InteractiveShell\n"
            "shell = InteractiveShell.instance()\n"
            "shell.run_line_magic('load_ext', 'jupyter_nest')\n"
            "assert 'nest_cluster' in shell.magics_manager.magics['line']\n"
            "assert 'nest_submit' in shell.magics_manager.magics['cell']")
    assert heavy_modules_after(code) == []


def test_every_public_name_and_part_loads_on_first_use():
    code = ("import jupyter_nest\n"
            "names = [getattr(jupyter_nest, n) for n in jupyter_nest.__all__]\n"
            "assert jupyter_nest.monitor.snapshot and jupyter_nest.cluster.Session\n"
            "assert set(jupyter_nest.__all__) <= set(dir(jupyter_nest))\n"
            "from jupyter_nest import *")
    assert "distributed" in heavy_modules_after(code)


def test_a_missing_name_is_an_attribute_error_naming_it():
    try:
        jupyter_nest.no_such_name  # noqa: B018
    except AttributeError as e:
        assert "no_such_name" in str(e)
    else:
        raise AssertionError("jupyter_nest.no_such_name did not raise")


def test_a_setting_made_before_first_use_keeps_the_other_defaults():
    # dask.config.set() of a key whose section does not exist yet deletes the whole section on exit;
    # here the section (our defaults) appears inside the block, at first use.
    code = ("import dask, jupyter_nest\n"
            "with dask.config.set({'jupyter-nest.workers': 1}):\n"
            "    assert jupyter_nest.config.get('workers') == 1\n"
            "assert jupyter_nest.config.get('workers') is None\n"
            "assert jupyter_nest.config.seconds('hang-warning') == 10")
    heavy_modules_after(code)


def test_the_version_has_one_source_the_lab_extensions_package_json():
    package = json.loads((REPO / "labextension" / "package.json").read_text())
    assert jupyter_nest.__version__ == package["version"]
