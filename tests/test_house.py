"""The house rules: public names, the layout's import rules, the one reader of Dask internals, wire names.

Fast: no cluster, no kernel. The static checks (import-linter, ruff, mypy) are marked ``lint``.
"""

from __future__ import annotations

import ast
import importlib
import re
import subprocess
import sys
import typing
import warnings
from pathlib import Path

import pytest

import jupyter_nest
from jupyter_nest import _compat, _wire

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "jupyter_nest"
TYPES_TS = ROOT / "labextension" / "src" / "types.ts"
KERNEL_ACTIONS_TS = ROOT / "labextension" / "src" / "kernelactions.ts"

PUBLIC = {
    "jupyter_nest": [
        "NestClient", "NestError", "NoClusterError", "Session", "SlotWidget", "TaskTree", "attach", "config", "connect",
        "current", "get_client", "nest", "progress", "rejoin", "secede", "start", "stop", "submit_cell", "task_tree",
        "widget",
        "worker_client", "load_ipython_extension", "unload_ipython_extension", "__version__",
    ],
    "jupyter_nest.monitor": ["snapshot", "snapshot_async"],
    "jupyter_nest.cluster": ["Session", "attach", "start", "connect", "current", "stop", "require", "SSHOptions"],
}

# Modules of Dask's that are not its public API; only jupyter_nest._dask may import them.
DASK_PRIVATE = (
    "distributed.worker", "distributed.threadpoolexecutor", "distributed.core", "distributed.utils",
    "distributed.protocol", "distributed.scheduler", "distributed.comm", "distributed.client",
    "distributed.deploy.ssh", "distributed.deploy.spec", "distributed.deploy.utils",
    "distributed.worker_state_machine", "dask._task_spec",
)
# Shipped to workers by value, where only dask and distributed exist: they read the worker's state themselves.
SHIPPED = PACKAGE / "submit" / "_shipped"


def modules() -> list[Path]:
    return [p for p in PACKAGE.rglob("*.py") if "labextension" not in p.parts]


@pytest.mark.parametrize("module", sorted(PUBLIC))
def test_public_names_stay_where_users_import_them(module):
    imported = importlib.import_module(module)
    missing = [name for name in PUBLIC[module] if not hasattr(imported, name)]
    assert not missing, f"{module} lost {missing}"


def test_the_facade_exports_exactly_its_documented_names():
    assert sorted(jupyter_nest.__all__) == sorted(
        n for n in PUBLIC["jupyter_nest"] if n not in ("load_ipython_extension", "unload_ipython_extension",
                                                       "__version__"))
    assert callable(jupyter_nest.widget), "jupyter_nest.widget is the function, not a module"


@pytest.mark.parametrize("old", sorted(_compat.MOVED))
def test_old_module_paths_still_import_and_say_where_to_go(old):
    sys.modules.pop(old, None)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        module = importlib.import_module(old)
    new, public = _compat.MOVED[old]
    assert module is importlib.import_module(new)
    messages = [str(w.message) for w in caught if issubclass(w.category, jupyter_nest.errors.NestDeprecationWarning)]
    assert messages and public in messages[0], messages


def test_renamed_names_still_resolve_with_a_warning():
    import jupyter_nest.forkjoin as forkjoin

    with pytest.warns(jupyter_nest.errors.NestDeprecationWarning, match="ledger_of"):
        assert forkjoin.runtime_of is forkjoin.ledger_of
    with pytest.raises(AttributeError):
        forkjoin.no_such_name  # noqa: B018


def test_no_module_shares_its_name_with_a_function_its_package_exports():
    clashes = []
    for init in PACKAGE.rglob("__init__.py"):
        package = ".".join(init.parent.relative_to(ROOT).parts)
        imported = importlib.import_module(package)
        exported = set(getattr(imported, "__all__", ()))
        submodules = {p.stem for p in init.parent.glob("*.py")} | {p.name for p in init.parent.iterdir() if p.is_dir()}
        clashes += [f"{package}.{name}" for name in exported & submodules
                    if not isinstance(getattr(imported, name), type(importlib))]  # a module exported as itself is fine
    assert not clashes


def test_no_module_is_over_400_lines():
    long = {str(p.relative_to(ROOT)): n for p in modules() if (n := len(p.read_text().splitlines())) > 400}
    assert not long


def _imports(path: Path) -> list[tuple[int, str]]:
    out = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            out += [(node.lineno, node.module)] + [(node.lineno, f"{node.module}.{a.name}") for a in node.names]
    return out


def test_only_the_dask_package_imports_dask_internals():
    offenders = []
    for path in modules():
        if PACKAGE / "_dask" in path.parents or SHIPPED in path.parents:
            continue
        for line, name in _imports(path):
            if name.startswith(DASK_PRIVATE):
                offenders.append(f"{path.relative_to(ROOT)}:{line} imports {name}")
    assert not offenders, "go through jupyter_nest._dask:\n" + "\n".join(offenders)


def test_the_dask_package_imports_nothing_else_of_ours():
    for path in (PACKAGE / "_dask").glob("*.py"):
        tree = ast.parse(path.read_text())
        ours = [n for n in ast.walk(tree) if (isinstance(n, ast.ImportFrom) and n.level > 1)
                or (isinstance(n, ast.ImportFrom) and (n.module or "").startswith("jupyter_nest"))]
        assert not ours, path


def test_wire_names_are_spelt_once():
    values = [v for k, v in vars(_wire).items() if k.isupper() and isinstance(v, str)]
    literals = {}
    for path in modules():
        if path.name in ("_wire.py", "_compat.py"):  # _compat maps module paths, which are not wire names
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Constant) and node.value in values:
                literals.setdefault(node.value, []).append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert not literals, f"use the names in jupyter_nest._wire: {literals}"


def test_the_string_couplings_point_at_real_code():
    # the worker preload Dask imports by name
    assert hasattr(importlib.import_module(_wire.PRELOAD_MODULE), "dask_setup")
    # the hang detector skips the frames of a @nest join and of the client code it waits through
    from jupyter_nest.forkjoin import _spawn
    from jupyter_nest.runtime import NestClient

    assert _spawn.SpawnHandle._wait_remote.__module__.startswith(_wire.FORKJOIN_PACKAGE)
    assert NestClient.sync.__module__.startswith(_wire.RUNTIME_PACKAGE)
    # Dask's traceback shortening hides our client's waits by file path
    assert re.search(_wire.OUR_WAIT_FRAMES, importlib.import_module(NestClient.__module__).__file__)
    import dask

    assert _wire.OUR_WAIT_FRAMES in dask.config.get("admin.traceback.shorten")
    # the server extension Jupyter loads by module name
    assert jupyter_nest._jupyter_server_extension_points()[0]["module"] == "jupyter_nest.lab"
    assert hasattr(importlib.import_module("jupyter_nest.lab"), "_load_jupyter_server_extension")


def test_the_lab_extensions_kernel_code_names_real_functions():
    text = KERNEL_ACTIONS_TS.read_text()
    calls = re.findall(r"__import__\('([\w.]+)'(?:, fromlist=\['(\w+)'\])?\)\s*(?:\"\s*\+\s*`)?\.(\w+)", text)
    assert calls, "kernelactions.ts no longer imports jupyter_nest the way this test reads it"
    for module, _, attribute in calls:
        assert callable(getattr(importlib.import_module(module), attribute)), (module, attribute)


def _ts_interfaces() -> dict[str, set[str]]:
    text = TYPES_TS.read_text()
    out = {}
    for name, body in re.findall(r"export interface (\w+) \{(.*?)\n\}", text, re.S):
        out[name] = set(re.findall(r"^\s+(\w+)\??:", body, re.M))
    return out


@pytest.mark.parametrize("typed, interface", [
    (_wire.Totals, "ITotals"), (_wire.SlotTask, "ISlotTask"), (_wire.WorkerSlots, "IWorkerSlots"),
    (_wire.Snapshot, "ISnapshot"), (_wire.Hidden, "IHidden"), (_wire.TreeNode, "ITreeNode"),
    (_wire.ClusterCard, "ICluster"),
])
def test_types_ts_mirrors_the_wire_payloads(typed, interface):
    assert set(typing.get_type_hints(typed)) == _ts_interfaces()[interface]


def _run(*command: str, timeout: float = 300) -> None:
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, f"{' '.join(command)} failed:\n{result.stdout}\n{result.stderr}"


@pytest.mark.lint
def test_import_linter_contracts_hold():
    _run(str(Path(sys.executable).parent / "lint-imports"))


@pytest.mark.lint
def test_ruff_is_clean():
    _run(sys.executable, "-m", "ruff", "check", "jupyter_nest", "tests", "benchmarks")


@pytest.mark.lint
@pytest.mark.timeout(600)
def test_mypy_is_clean():
    _run(sys.executable, "-m", "mypy", timeout=540)
