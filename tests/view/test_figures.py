"""The slot view's figures from snapshots and trees alone: no cluster, no kernel."""

from __future__ import annotations

import time

import pytest

from jupyter_nest.view import MAX_WORKERS, SlotView, columns, status_line, tree_columns

pytestmark = pytest.mark.timeout(60)


def huge_snapshot(workers, threads):
    now = time.time()
    return {"time": now, "totals": {"workers": workers, "threads": workers * threads, "running": workers * threads,
                                   "seceded": workers * 30, "queued": 5, "done": 1},
            "workers": [{"address": f"tcp://10.0.{i // 250}.{i % 250}:9000", "nthreads": threads, "status": "running",
                         "slots": [{"key": f"t-{i}-{j}", "name": "t", "since": now - 1} for j in range(threads)],
                         "seceded": [{"key": f"s-{i}-{j}", "name": "s", "since": now - 2, "waiting_on": 2}
                                     for j in range(30)],
                         "blocked": [], "queued": 1} for i in range(workers)]}


def test_a_huge_cluster_is_capped_and_says_what_was_cut():
    t = time.perf_counter()
    data = columns(huge_snapshot(500, 16))
    assert time.perf_counter() - t < 1
    rows = set(data["nest-slots"]["y"])
    assert len(rows) == 2 * MAX_WORKERS
    assert "+484 more workers: 7744/7744 slots busy, 14520 seceded (not drawn)" in data["nest-labels"]["text"]
    assert "+18" in data["nest-slots"]["label"]  # 30 seceded per worker: 12 drawn, the rest counted
    # the monitor lists the oldest 50 seceded tasks of a worker and counts the rest
    snap = huge_snapshot(1, 1)
    snap["workers"][0]["seceded_more"] = 970
    assert "+988" in columns(snap)["nest-slots"]["label"]


def test_a_tree_of_100k_tasks_is_drawn_capped():
    # as the lineage plugin reports it: at most 100 levels, 50 children per node, the rest summarised
    def subtree(depth):
        return {"key": f"k{depth}", "name": "n", "state": "processing",
                "children": [subtree(depth + 1)] if depth < 99 else [],
                "hidden": {"tasks": 1000, "states": {"finished": 1000}}}

    wide = {"key": "root", "name": "root", "state": "processing",
            "children": [subtree(0) for _ in range(50)]}
    t = time.perf_counter()
    data = tree_columns(wide, max_nodes=400)
    assert time.perf_counter() - t < 1
    nodes = data["nest-tree-nodes"]
    assert len(nodes["x0"]) <= 402
    assert min(nodes["y"]) >= -101 and max(nodes["x1"]) <= 1.0 + 1e-9
    # each box as wide as its share of the tasks: the root spans everything
    assert (nodes["x0"][0], nodes["x1"][0], nodes["tasks"][0]) == (0.0, 1.0, 1 + 50 * 100 * 1001)


def test_a_deep_tree_is_one_row_per_level_and_summaries_are_labelled():
    def chain(depth):
        node = {"key": f"f-{depth}", "name": "fib", "state": "finished", "children": []}
        if depth < 20:
            node["children"] = [chain(depth + 1)]
            node["hidden"] = {"tasks": 3, "states": {"finished": 2, "inline": 1}, "more": False}
        return node

    nodes = tree_columns(chain(0))["nest-tree-nodes"]
    assert sorted(set(nodes["y"])) == list(range(-20, 1))
    summaries = [i for i, key in enumerate(nodes["key"]) if key == ""]
    assert len(summaries) == 20 and nodes["label"][summaries[0]] == "+3"
    assert nodes["state"][summaries[0]] == "2 finished, 1 inline"


def test_a_view_takes_snapshots_and_trees_without_a_cluster():
    view = SlotView()
    snap = huge_snapshot(2, 1)
    view.update(snap)
    view.update_tree({"key": "root", "name": "root", "state": "finished", "children": []})
    assert view.sources["nest-status"].data["text"] == [status_line(snap)]
    assert view.sources["nest-tree-nodes"].data["label"] == ["root"]


def test_slots_are_labelled_with_the_call_and_seceded_tasks_with_what_they_wait_on():
    now = time.time()
    snap = huge_snapshot(1, 2)
    snap["workers"][0]["slots"] = [
        {"key": "fib-1", "name": "fib", "call": "fib(17)", "since": now, "parent": "fib-0"},
        {"key": "nq-2", "name": "nqueens", "call": "nqueens(14, 4, 1, 2, 3)", "since": now, "inline": 1234}]
    snap["workers"][0]["seceded"] = [{"key": "fib-0", "name": "fib", "call": "fib(18)", "since": now,
                                      "waiting_on": 2}]
    cells = columns(snap)["nest-slots"]
    assert cells["label"][:3] == ["fib(17)", "nqueens(14,…\n+1,234 inline", "fib(18)\nwaits on 2"]
    assert cells["parent"][0] == "fib-0" and cells["call"][1] == "nqueens(14, 4, 1, 2, 3)"


def test_a_keyframe_resends_in_full_every_source_this_refresh_did_not():
    from bokeh.document import Document
    from bokeh.document.events import ColumnDataChangedEvent

    view = SlotView()
    doc = Document()
    doc.add_root(view.layout)
    sent: list[str] = []
    doc.on_change(lambda event: sent.append(event.model.name) if isinstance(event, ColumnDataChangedEvent) else None)
    tree = {"key": "root", "name": "root", "state": "processing", "children": []}

    def refresh(snap, tree=None):
        view.update(snap)
        if tree is not None:
            view.update_tree(tree)
        sent.clear()
        view.resend()
        return sorted(sent)

    snap = huge_snapshot(2, 1)
    # what this refresh sent in full is not sent twice; the rest is, for views made since
    assert refresh(snap, tree) == ["nest-counts"]
    # a refresh in which nothing changed sends nothing but the keyframe: all of it
    assert refresh(snap) == ["nest-counts", "nest-labels", "nest-slots", "nest-status", "nest-tree-nodes"]
    snap = {**snap, "totals": {**snap["totals"], "done": 2}}
    assert refresh(snap) == ["nest-counts", "nest-labels", "nest-slots", "nest-tree-nodes"]
