"""binder/ cannot rot: install from it into a fresh venv, as mybinder does, and run the quickstart there."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = [pytest.mark.timeout(900), pytest.mark.slow]


def test_binder_environment_runs_the_quickstart(tmp_path):
    repo = tmp_path / "repo"
    shutil.copytree(ROOT, repo, ignore=shutil.ignore_patterns(
        ".git", ".venv", "node_modules", "*.egg-info", "build", "dist", "__pycache__", ".pytest_cache"))
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", venv], check=True)
    bindir = venv / "bin"
    env = {**os.environ, "PATH": f"{bindir}{os.pathsep}{os.environ['PATH']}", "VIRTUAL_ENV": str(venv)}
    env.pop("PYTHONPATH", None)

    def run(*cmd, cwd=repo):
        return subprocess.run(cmd, cwd=cwd, env=env, check=True, capture_output=True, text=True)

    run(bindir / "python", "-m", "pip", "install", "-q", "-r", "binder/requirements.txt")
    run("bash", "binder/postBuild")
    extensions = run(bindir / "jupyter", "labextension", "list")
    assert "jupyter-nest" in extensions.stdout + extensions.stderr
    assert "enabled" in (extensions.stdout + extensions.stderr).split("jupyter-nest", 1)[1].splitlines()[0]
    out = run(bindir / "jupyter", "execute", "--timeout=300", "notebooks/01-quickstart.ipynb")
    assert "Executing notebooks/01-quickstart.ipynb" in out.stderr
    where = run(bindir / "python", "-c", "import jupyter_nest; print(jupyter_nest.__file__)", cwd=tmp_path).stdout
    assert where.startswith(str(venv)), "jupyter_nest must come from the binder install"
