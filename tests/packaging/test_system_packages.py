"""A Debian package the selected tests need and this machine lacks is one line naming it, before any
test runs (not an error and a traceback per test)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.timeout(120)

REPO = Path(__file__).resolve().parents[2]


def pytest_run(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-o", "addopts=", *args],
                          cwd=REPO, env={**os.environ, **env}, capture_output=True, text=True, timeout=100)


def test_no_chromium_is_one_line_naming_it_and_the_fix(tmp_path):
    result = pytest_run("tests/lab/test_notebook7_browser.py", JUPYTER_NEST_CHROMIUM=str(tmp_path / "none"))
    output = result.stdout + result.stderr
    assert result.returncode == pytest.ExitCode.USAGE_ERROR, output
    [line] = [line for line in output.splitlines() if "chromium" in line]
    assert "scripts/install-test-deps.sh" in line and "-m \"not browser\"" in line, line
    assert "Traceback" not in output and "passed" not in output and "failed" not in output, output


def test_tests_that_need_no_chromium_still_run_without_it(tmp_path):
    result = pytest_run("tests/cluster/test_magic_parsing.py", JUPYTER_NEST_CHROMIUM=str(tmp_path / "none"))
    assert result.returncode == 0, result.stdout + result.stderr
