"""Progress bars of a root task and all it spawns, in a real kernel and in a headless notebook run."""

from __future__ import annotations

import re

import nbformat
import pytest
from nbclient import NotebookClient

pytestmark = [pytest.mark.timeout(180), pytest.mark.slow, pytest.mark.kernel]

SETUP = """%load_ext jupyter_nest
client = %nest_cluster start --workers 2 --threads 1 --no-dashboard
import dask, time, jupyter_nest
dask.config.set({"jupyter-nest.progress.wait-bar-after": "1s"})  # the default, whatever the environment says
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
    if not any("finished" in text for text in updates(messages)):
        # The last update may come once the cell is over (a busy machine measures the tree for
        # seconds), then as output of no running cell.
        messages += kernel.published(lambda m: any("finished" in text for text in updates([m])), timeout=30)
    texts = updates(messages)
    seen = [tuple(int(g.replace(",", "")) for g in PERCENT.search(t).groups()) for t in texts if PERCENT.search(t)]
    assert len(seen) >= 5, texts[-3:]
    assert seen[-1] == (100, 287, 287), seen[-1]
    totals = [total for _, _, total in seen]
    assert totals == sorted(totals) and totals[0] < 287  # the total grew as the tree grew
    assert any(0 < p < 100 for p, _, _ in seen)  # and the bar moved while the cell waited
    assert "finished" in texts[-1] and re.search(r"\d+\.\d s", texts[-1])
    assert "running" in texts[0] and "seceded" in texts[0] and "failed" in texts[0]


def test_jupyter_execute_keeps_the_bars_as_text_of_nest_submit_wait_and_a_plain_wait(tmp_path):
    plain = "import dask\ndask.config.set({'jupyter-nest.progress.wait-bar-after': '0.3s'})\nclient.submit(fib, 10).result()"
    cells = [SETUP, "%%nest_submit --wait --name fib9\nfib(9)", plain, "%nest_cluster stop"]
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
    NotebookClient(nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    outputs = [o for o in nb.cells[1].outputs if "text/plain" in o.get("data", {})]
    bar = next(o["data"]["text/plain"] for o in outputs if "done" in o["data"]["text/plain"])
    assert bar.startswith("fib9 ▕████████████████████▏ 100% 109/109 done"), bar
    assert outputs[-1]["data"]["text/plain"] == "34"
    assert sum("done" in o["data"]["text/plain"] for o in outputs) == 1  # the wait in the cell shows no second bar
    outputs = [o for o in nb.cells[2].outputs if "text/plain" in o.get("data", {})]
    assert outputs[0]["data"]["text/plain"].startswith("fib ▕████████████████████▏ 100% 177/177 done"), outputs
    assert outputs[0]["data"]["text/plain"].endswith("· finished") and outputs[-1]["data"]["text/plain"] == "55"


def _bars(reply_messages: list[dict]) -> tuple[list[str], list[str]]:
    """The bars a cell showed (display_data) and their updates (update_display_data), as text."""
    shown = [m["content"]["data"]["text/plain"] for m in reply_messages
             if m["msg_type"] == "display_data" and PERCENT.search(m["content"]["data"].get("text/plain", ""))]
    updates = [m["content"]["data"]["text/plain"] for m in reply_messages
               if m["msg_type"] == "update_display_data"]
    return shown, updates


def test_a_long_plain_wait_shows_a_bar_per_root_a_quick_one_none(kernel):
    kernel.run(SETUP).check()
    quick = kernel.run("client.submit(fib, 1, pure=False).result()").check()
    assert _bars(quick.messages) == ([], []) and quick.result["text/plain"] == "1"

    long = kernel.run("client.gather([client.submit(fib, 11, pure=False), client.submit(fib, 10, pure=False)])",
                      timeout=120).check()
    shown, updates = _bars(long.messages)
    assert len(shown) == 2 and all(s.startswith("fib ▕") for s in shown), shown
    assert long.result["text/plain"] == "[89, 55]"
    finals = [t for t in updates if "· finished" in t]
    # each bar's last state, sent by the waiting thread before the cell's result: 100 %, every task done
    assert sorted(PERCENT.search(t).groups() for t in finals[-2:]) == [("100", "177", "177"), ("100", "287", "287")]
    moving = [PERCENT.search(t).groups() for t in updates if PERCENT.search(t)]
    assert any(0 < int(p) < 100 for p, _, _ in moving), moving  # the bars moved while the cell blocked
    assert long.messages.index(next(m for m in long.messages if m["msg_type"] == "execute_result")) > max(
        i for i, m in enumerate(long.messages) if m["msg_type"] == "update_display_data")

    # a root with a bar of its own (progress(), %%nest_submit --wait) gets no second one
    kernel.run("root = client.submit(fib, 10, pure=False)\njupyter_nest.progress(root, interval=0.1)").check()
    again = kernel.run("root.result()", timeout=120).check()
    assert _bars(again.messages)[0] == []

    off = kernel.run("import dask\nwith dask.config.set({'jupyter-nest.progress.wait-bar': False}):\n"
                     "    client.submit(fib, 10, pure=False).result()", timeout=120).check()
    assert _bars(off.messages)[0] == []
