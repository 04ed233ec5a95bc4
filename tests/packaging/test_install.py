"""Packaging: ``pip install`` builds and enables the lab and server extensions; the sdist needs no Node."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tarfile
import time
import zipfile
from pathlib import Path

import pytest

pytestmark = [pytest.mark.timeout(900), pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]
# What a clean clone does not have: build outputs, installed node modules, local venvs.
NOT_IN_A_CLONE = {".git", "node_modules", ".venv", "__pycache__", ".pytest_cache", "screenshots",
                  "dask-scratch-space", "dist", "build", ".ipynb_checkpoints"}
BUILT = [Path("jupyter_nest/labextension"), Path("labextension/lib"), Path("labextension/tsconfig.tsbuildinfo")]
ANSI = re.compile(r"\x1b\[[0-9;]*m")


def clean_copy(target: Path) -> Path:
    """The repository as a fresh clone has it: no built extension, no node_modules."""
    shutil.copytree(REPO, target, ignore=lambda d, names: [
        n for n in names if n in NOT_IN_A_CLONE or n.endswith(".egg-info")
        or (Path(d) / n).relative_to(REPO) in BUILT
    ])
    return target


def run(cmd: list[str], **kwargs) -> str:
    result = subprocess.run(cmd, capture_output=True, text=True, **kwargs)
    assert result.returncode == 0, f"{cmd} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return ANSI.sub("", result.stdout + result.stderr)


def isolated_env(tmp: Path, **extra: str) -> dict[str, str]:
    """No user-level Jupyter config or data, so only what the venv holds is listed."""
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH")}
    env.update(JUPYTER_CONFIG_DIR=str(tmp / "config"), JUPYTER_DATA_DIR=str(tmp / "data"),
               JUPYTER_PLATFORM_DIRS="0", **extra)
    return env


@pytest.fixture(scope="module")
def source(tmp_path_factory):
    """One clean copy for the module: the install builds the extension in it, the sdist reuses that."""
    return clean_copy(tmp_path_factory.mktemp("clone") / "jupyter_nest")


def test_pip_install_enables_both_extensions_in_a_fresh_venv(source, tmp_path):
    venv = tmp_path / "venv"
    run([sys.executable, "-m", "venv", str(venv)])
    env = isolated_env(tmp_path)
    started = time.monotonic()
    run([str(venv / "bin" / "pip"), "install", "-q", f"{source}[lab]"], env=env, cwd=tmp_path)
    print(f"pip install from a clean copy took {time.monotonic() - started:.0f} s")
    labext = run([str(venv / "bin" / "jupyter"), "labextension", "list"], env=env)
    assert re.search(r"jupyter-nest v0\.1\.0 enabled\s+OK", labext), labext
    assert str(venv / "share" / "jupyter" / "labextensions") in labext
    server = run([str(venv / "bin" / "jupyter"), "server", "extension", "list"], env=env)
    assert re.search(r"jupyter_nest enabled", server), server
    assert re.search(r"jupyter_nest 0\.1\.0 OK", server), server
    assert (venv / "etc" / "jupyter" / "jupyter_server_config.d" / "jupyter_nest.json").exists()


def test_the_sdist_carries_the_built_extension_and_installs_without_node(source, tmp_path):
    dist = tmp_path / "dist"
    run([sys.executable, "-m", "build", "--sdist", "--outdir", str(dist), str(source)])
    [sdist] = dist.glob("jupyter_nest-*.tar.gz")
    with tarfile.open(sdist) as tar:
        names = tar.getnames()
    assert any(n.endswith("jupyter_nest/labextension/static/style.js") for n in names)
    assert any(n.endswith("jupyter_nest/labextension/package.json") for n in names)
    assert any(n.endswith("labextension/package-lock.json") for n in names)
    assert not any("node_modules" in n for n in names)

    # Node is made unusable: an npm that fails; a wheel built from the sdist must not call it.
    nonode = tmp_path / "nonode"
    nonode.mkdir()
    for tool in ("npm", "node", "jlpm"):
        (nonode / tool).write_text("#!/bin/sh\necho 'Node was called' >&2\nexit 1\n")
        (nonode / tool).chmod(0o755)
    env = isolated_env(tmp_path, PATH=f"{nonode}:{os.environ['PATH']}")
    run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(tmp_path / "wheels"), str(sdist)],
        env=env)
    [wheel] = (tmp_path / "wheels").glob("jupyter_nest-*.whl")
    wheel_names = zipfile.ZipFile(wheel).namelist()
    assert any(n.endswith("share/jupyter/labextensions/jupyter-nest/static/style.js") for n in wheel_names)
    assert any(n.endswith("etc/jupyter/jupyter_server_config.d/jupyter_nest.json") for n in wheel_names)
