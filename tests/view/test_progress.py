"""Progress bars of a root task and all it spawns, in a real kernel and in a headless notebook run."""

from __future__ import annotations

import re
import time

import nbformat
import pytest
from nbclient import NotebookClient

pytestmark = [pytest.mark.timeout(180), pytest.mark.slow, pytest.mark.kernel]

SETUP = """%load_ext jupyter_nest
client = %nest_cluster start --workers 2 --threads 1 --no-dashboard
import time, jupyter_nest
from distributed import secede, rejoin

def fib(n):
    if n < 2:
        time.sleep(0.01)
        return n
    c = jupyter_nest.get_client()
    a, b = c.submit(fib, n - 1, pure=False), c.submit(fib, n - 2, pure=False)
    return a.result() + b.result()
"""
PERCENT = re.compile(r"(\d+)% ([\d,]+)/([\d,]+) done")


def updates(messages):
    return [m["content"]["data"]["text/plain"] for m in messages if m["msg_type"] == "update_display_data"]


def test_a_bar_grows_with_the_tree_advances_while_the_cell_blocks_and_ends_at_100(kernel):
    kernel.run(SETUP).check()
    kernel.run("root = client.submit(fib, 11, pure=False)\njupyter_nest.progress(root, interval=0.1)").check()
    messages = kernel.run("root.result()").check().messages
    deadline = time.monotonic() + 30
    # the last update may come once the cell is over: a busy machine measured the tree for seconds
    while not any("finished" in text for text in updates(messages)) and time.monotonic() < deadline:
        messages += kernel.run("time.sleep(0.2)").check().messages
    texts = updates(messages)
    seen = [tuple(int(g.replace(",", "")) for g in PERCENT.search(t).groups()) for t in texts if PERCENT.search(t)]
    assert len(seen) >= 5, texts[-3:]
    assert seen[-1] == (100, 287, 287), seen[-1]
    totals = [total for _, _, total in seen]
    assert totals == sorted(totals) and totals[0] < 287  # the total grew as the tree grew
    assert any(0 < p < 100 for p, _, _ in seen)  # and the bar moved while the cell waited
    assert "finished" in texts[-1] and re.search(r"\d+\.\d s", texts[-1])
    assert "running" in texts[0] and "seceded" in texts[0] and "failed" in texts[0]


def test_jupyter_execute_keeps_the_bar_as_text_and_nest_submit_wait_shows_one(tmp_path):
    cells = [SETUP, "%%nest_submit --wait --name fib9\nfib(9)", "%nest_cluster stop"]
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
    NotebookClient(nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    outputs = [o for o in nb.cells[1].outputs if "text/plain" in o.get("data", {})]
    bar = next(o["data"]["text/plain"] for o in outputs if "done" in o["data"]["text/plain"])
    assert bar.startswith("fib9 ▕████████████████████▏ 100% 109/109 done"), bar
    assert outputs[-1]["data"]["text/plain"] == "34"
