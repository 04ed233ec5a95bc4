"""The README's Python examples run as written, in order, in a real kernel, like a notebook's cells.

A block is left out only where the README says why, in a ``<!-- not run: ... -->`` line above it.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.kernel, pytest.mark.timeout(420)]

README = Path(__file__).resolve().parents[2] / "README.md"


def python_blocks() -> list[tuple[int, str, str | None]]:
    """(line, code, why it is not run or None) for each python block of the README."""
    lines = README.read_text().splitlines()
    blocks = []
    for start, line in enumerate(lines):
        if line.strip() != "```python":
            continue
        end = next(i for i in range(start + 1, len(lines)) if lines[i].startswith("```"))
        above = lines[start - 1].strip() if start else ""
        why = re.fullmatch(r"<!-- not run: (.+) -->", above)
        blocks.append((start + 1, "\n".join(lines[start + 1:end]), why.group(1) if why else None))
    return blocks


def test_every_left_out_block_says_why():
    left_out = [(line, why) for line, _, why in python_blocks() if why]
    assert len(left_out) <= 1, left_out


def test_the_readme_python_examples_run_as_written(kernel):
    runnable = [(line, code) for line, code, why in python_blocks() if why is None]
    assert len(runnable) >= 4
    results = {}
    try:
        for line, code in runnable:
            reply = kernel.run(code, timeout=240)
            assert reply.status == "ok", f"README.md line {line} failed: {reply.error}\n{code}"
            results[line] = reply.result.get("text/plain")
            if code.startswith("%%nest_submit -o total"):
                # before "Bring your own Dask" stops the cluster it ran on
                assert kernel.value("total.result()") == 285
        # what the README's comments and text promise
        assert "[3, 4, 2, 4]" in results.values()
        assert "6765" in results.values(), "the default client made the ordinary Dask way was not adopted"
        assert kernel.value("fib.spawn(27).result()") == 196418
    finally:
        kernel.run("%nest_cluster stop", timeout=120)
