"""The labextension's TypeScript passes ESLint and has no import cycles between its modules."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

LABEXTENSION = Path(__file__).resolve().parents[2] / "labextension"
TIMEOUT_S = 300


@pytest.mark.lint
@pytest.mark.timeout(TIMEOUT_S + 60)
@pytest.mark.parametrize(
    "script",
    [
        "lint",  # eslint src --max-warnings 0 (typescript-eslint, import-x/no-cycle)
        "cycles",  # scripts/check-cycles.mjs: cycles through type-only imports too
    ],
)
def test_typescript_lint(script: str) -> None:
    if not (LABEXTENSION / "node_modules").is_dir():
        pytest.fail(f"{LABEXTENSION / 'node_modules'} is missing: run `npm ci` in labextension/ first.", pytrace=False)
    npm = shutil.which("npm")
    if npm is None:
        pytest.fail("npm is not on PATH: install Node.js and npm, then run `npm ci` in labextension/.", pytrace=False)
    env = {**os.environ, "NO_UPDATE_NOTIFIER": "1", "npm_config_update_notifier": "false"}
    try:
        done = subprocess.run(
            [npm, "run", script],
            cwd=LABEXTENSION,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            timeout=TIMEOUT_S,
        )
    except subprocess.TimeoutExpired as e:
        output = e.output.decode(errors="replace") if isinstance(e.output, bytes) else e.output or ""
        pytest.fail(f"`npm run {script}` took more than {TIMEOUT_S} s:\n{output}", pytrace=False)
    assert done.returncode == 0, f"`npm run {script}` in labextension/ exited {done.returncode}:\n{done.stdout}"
