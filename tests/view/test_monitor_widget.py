"""The monitor's snapshots and the live slot view, on real clusters and in a real kernel."""

from __future__ import annotations

import json
import re
import threading
import time

import pytest

import jupyter_nest
from jupyter_nest.monitor import snapshot

pytestmark = [pytest.mark.timeout(180), pytest.mark.slow, pytest.mark.kernel]

SETUP = """
%load_ext jupyter_nest
import json, time, distributed, jupyter_nest
from jupyter_nest.monitor import snapshot
client = %nest_cluster start --workers 2 --threads 1 --no-dashboard

def held(i):
    distributed.Event("go").wait()
    return i

def parent(n):
    c = jupyter_nest.get_client()
    children = [c.submit(held, i, pure=False) for i in range(n)]
    return sum(c.gather(children))  # our client secedes for the wait

def settle(condition, timeout=20):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        snap = snapshot(client)
        if condition(snap):
            return snap
        time.sleep(0.05)
    return snapshot(client)
"""


@pytest.fixture(scope="module")
def k(module_kernel):
    module_kernel.run(SETUP).check()
    return module_kernel


def test_snapshot_counts_busy_seceded_queued_and_parents(k):
    k.run("f = client.submit(parent, 3, pure=False)").check()
    snap = k.value("settle(lambda s: s['totals']['running'] == 2 and s['totals']['seceded'] == 1)")
    t = snap["totals"]
    assert (t["workers"], t["threads"], t["running"], t["seceded"], t["queued"]) == (2, 2, 2, 1, 1)
    (seceded,) = [s for w in snap["workers"] for s in w["seceded"]]
    assert seceded["name"] == "parent" and seceded["waiting_on"] == 3
    busy = [s for w in snap["workers"] for s in w["slots"] if s]
    assert sorted(s["name"] for s in busy) == ["held", "held"]
    assert all(not w["blocked"] for w in snap["workers"])  # an Event wait is not a task wait
    tree = k.value("[c['name'] for c in jupyter_nest.task_tree(f).root['children']]")
    assert tree == ["held", "held", "held"]
    k.run("distributed.Event('go').set()").check()
    assert k.value("f.result()") == 3
    done = k.value("settle(lambda s: s['totals']['running'] == 0 and s['totals']['seceded'] == 0)")
    assert done["totals"]["running"] == 0 and done["totals"]["seceded"] == 0
    k.run("distributed.Event('go').clear()").check()


def test_snapshot_by_address_needs_no_client(k):
    snap = k.value("jupyter_nest.monitor.snapshot(client.scheduler.address)")
    assert snap["scheduler"].startswith("tcp://127.0.0.1:") and snap["totals"]["workers"] == 2


def test_widget_keeps_updating_while_the_cell_blocks(k):
    shown = k.run("w = jupyter_nest.widget(interval=0.1)\nw").check()
    assert any("application/vnd.jupyter.widget-view+json" in d for d in shown.data)
    assert "<jupyter_nest slot view>" in [d.get("text/plain") for d in shown.data]
    # A parent that runs 40 short children one after the other: the slots change all the time.
    k.run("def stepper(n):\n"
          "    c = jupyter_nest.get_client()\n"
          "    return sum(c.submit(time.sleep, 0.1, pure=False).result() or 1 for _ in range(n))").check()
    blocked = k.run("client.submit(stepper, 40, pure=False).result()").check()
    updates = [m["received"] for m in blocked.messages if m["msg_type"] == "comm_msg"]
    assert len(updates) >= 30, len(updates)
    assert updates[-1] - updates[0] > 3, "updates must span the blocked time, not come at the end"
    assert k.value("w.running") is True
    k.run("w.close()").check()
    assert k.value("w.running") is False


def test_an_idle_view_sends_its_picture_again_for_a_browser_view_made_late(k):
    # Patches sent before the page makes the widget's view are dropped; on an idle cluster
    # nothing changes after, so a view made late (or after close() and a rerun) said "no workers".
    k.run("w = jupyter_nest.widget(interval=0.1)\nw\ntime.sleep(1)").check()
    idle = k.run("time.sleep(2.5)").check()
    payloads = [json.dumps(m["content"]["data"]) for m in idle.messages if m["msg_type"] == "comm_msg"]
    assert sum("slots busy" in p for p in payloads) >= 2, len(payloads)
    k.run("w.close()").check()


def test_the_view_says_when_a_worker_dies(k):
    k.run("w = jupyter_nest.widget(interval=0.1)").check()
    k.run("victim = sorted(client.scheduler_info()['workers'])[0]\n"
          "client.run(lambda: __import__('os')._exit(1), workers=[victim], on_error='ignore')").check()
    status = k.value("settle(lambda s: False, timeout=2) and None or w.view.sources['nest-status'].data['text'][0]")
    assert "worker left: " in status and k.value("victim") in status
    k.run("w.close()\nclient.wait_for_workers(2, timeout=60)").check()


def test_stopping_the_cluster_stops_the_widget(kernel):
    kernel.run("%load_ext jupyter_nest\n%nest_cluster start --workers 1 --threads 1 --no-dashboard\n"
               "import jupyter_nest, time\nw = jupyter_nest.widget(interval=0.1)\ntime.sleep(0.5)").check()
    kernel.run("%nest_cluster stop\ntime.sleep(1)").check()
    assert kernel.value("w.running") is False
    assert "cluster stopped" in kernel.value("w.view.sources['nest-status'].data['text'][0]")
    reply = kernel.run("jupyter_nest.widget()")
    assert reply.error["ename"] == "NoClusterError"
    assert "The slot view needs a cluster" in reply.error["evalue"]


def test_views_closed_and_reopened_across_a_cluster_restart_keep_working(kernel):
    kernel.run("%load_ext jupyter_nest\n%nest_cluster start --workers 1 --threads 1 --no-dashboard\n"
               "import json, time, jupyter_nest\n"
               "views = [jupyter_nest.widget(interval=0.1) for _ in range(3)]\n"
               "views[0].close()\nviews[1].close()").check()
    kernel.run("%nest_cluster stop\ntime.sleep(0.5)").check()
    stopped = kernel.value("views[2].view.sources['nest-status'].data['text'][0]")
    assert re.match(r"cluster stopped at \d\d:\d\d:\d\d .*the last picture", stopped), stopped
    assert kernel.value("views[2].view.sources['nest-slots'].data['worker']")  # the last picture stays
    kernel.run("%nest_cluster start --workers 1 --threads 1 --no-dashboard\n"
               "again = jupyter_nest.widget(interval=0.1)\nagain\ntime.sleep(0.5)").check()
    busy = kernel.run("jupyter_nest.current().client.submit(time.sleep, 1.5, pure=False).result()").check()
    payloads = [json.dumps(m["content"]["data"]) for m in busy.messages if m["msg_type"] == "comm_msg"]
    assert any("1/1 slots busy" in p for p in payloads)
    kernel.run("again.close()\n%nest_cluster stop").check()


def test_the_view_says_when_the_scheduler_goes_away(ipython, dask_processes):
    ipython.run_line_magic("nest_cluster", f"connect {dask_processes.address}")
    w = jupyter_nest.widget(interval=0.1)
    try:
        deadline = time.monotonic() + 10
        while w.updates < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        dask_processes.procs[0].kill()
        deadline = time.monotonic() + 20
        while "unreachable" not in w.view.sources["nest-status"].data["text"][0] and time.monotonic() < deadline:
            time.sleep(0.1)
        assert "unreachable since" in w.view.sources["nest-status"].data["text"][0]
        assert w.running
    finally:
        w.close()
    assert not w.running


def test_updates_from_many_threads_never_interleave(ipython):
    ipython.run_line_magic("nest_cluster", "start --workers 1 --threads 1 --no-dashboard")
    w = jupyter_nest.widget(interval=0.01)
    sent = []
    real_send = w.model.send

    def recording_send(content, buffers=None):
        sent.append((threading.get_ident(), json.loads(content["payload"]) if buffers is None else None))
        real_send(content, buffers)

    with w.lock:  # not while the update thread is halfway through sending a patch
        w.model.send = recording_send
    x_range = w.view.layout.select_one({"name": "nest-slots-figure"}).x_range
    stop = threading.Event()
    errors = []

    def refresher():
        while not stop.is_set():
            try:
                w.refresh()
            except Exception as e:  # any error here is a failure of the lock
                errors.append(e)

    def browser():
        # what the page sends when the user pans the slot figure
        n = 0
        while not stop.is_set():
            n += 1
            w.model._sync_model(w.model, {"event": "jsevent", "kind": "ModelChanged",
                                          "model": {"id": x_range.id}, "attr": "start", "new": -7 - n % 3}, [])

    threads = [threading.Thread(target=refresher) for _ in range(3)] + [threading.Thread(target=browser)]
    for t in threads:
        t.start()
    # a task runs meanwhile, as the view would watch one; on a loaded machine the threads need longer
    # to send enough patches, so wait for them rather than for a fixed time
    running = jupyter_nest.current().client.submit(time.sleep, 2, pure=False)
    deadline = time.monotonic() + 30
    while (len(sent) < 30 or not running.done()) and time.monotonic() < deadline:
        time.sleep(0.1)
    stop.set()
    for t in threads:
        t.join()
    w.close()
    assert not errors
    assert len(sent) >= 30
    assert len(sent) % 3 == 0
    for i in range(0, len(sent), 3):
        (t1, header), (t2, _metadata), (t3, content) = sent[i:i + 3]
        assert t1 == t2 == t3, "a patch's three messages came from different threads"
        assert header["msgtype"] == "PATCH-DOC" and "msgtype" not in content and content["events"]


def test_a_refresh_goes_to_the_browser_as_one_patch(ipython):
    # jupyter_bokeh sends a patch per change, three comm messages each; a refresh changes several sources
    ipython.run_line_magic("nest_cluster", "start --workers 1 --threads 1 --no-dashboard")
    w = jupyter_nest.widget(interval=3600)  # its thread refreshes once, then this test does
    deadline = time.monotonic() + 30
    while w.updates < 1 and time.monotonic() < deadline:
        time.sleep(0.02)
    sent = []
    with w.lock:
        w.model.send = lambda content, buffers=None: sent.append(json.loads(content["payload"]) if buffers is None
                                                                 else None)
    running = jupyter_nest.current().client.submit(time.sleep, 30, pure=False)
    try:
        deadline = time.monotonic() + 30
        while snapshot(w.client)["totals"]["running"] < 1 and time.monotonic() < deadline:
            time.sleep(0.02)
        sent.clear()
        w.refresh()  # the slot, the status line and the counts all change
        header, _metadata, content = sent
        assert header["msgtype"] == "PATCH-DOC"
        changed = {e.get("model", {}).get("id") for e in content["events"]}
        sources = {w.view.sources[name].id for name in ("nest-slots", "nest-status", "nest-counts")}
        assert sources <= changed, content["events"]
    finally:
        running.cancel()
        w.close()


def test_closing_the_widget_stops_its_thread(ipython):
    ipython.run_line_magic("nest_cluster", "start --workers 1 --threads 1 --no-dashboard")
    w = jupyter_nest.widget(interval=0.05)
    time.sleep(0.3)
    assert w.running
    w.close()
    assert not w.running
    w.close()  # twice is fine


def test_lineage_summarises_a_large_real_tree(ipython):
    ipython.run_line_magic("nest_cluster", "start --workers 2 --threads 1 --no-dashboard")

    def fan_out(n):
        c = jupyter_nest.get_client()
        return sum(c.gather(c.map(abs, range(n), pure=False)))

    client = jupyter_nest.current().client
    future = client.submit(fan_out, 3000, pure=False)
    assert future.result(timeout=120) == sum(range(3000))
    t = time.perf_counter()
    tree = jupyter_nest.task_tree(future, max_nodes=300)
    assert time.perf_counter() - t < 5
    assert tree.size() == 3001
    assert sum(1 for _ in tree.nodes()) <= 300
    assert tree.root["hidden"]["tasks"] == 3000 - 50



def test_widget_subcommand_and_start_widget(kernel):
    reply = kernel.run("%load_ext jupyter_nest\n%nest_cluster start --workers 1 --threads 1 --no-dashboard --widget")
    reply.check()
    plain = [d.get("text/plain") for d in reply.data]
    assert "<jupyter_nest slot view>" in plain  # the view, shown right away
    assert any(p and p.startswith("jupyter_nest: local cluster") for p in plain)  # and the summary
    view = kernel.run("%nest_cluster widget").check()
    assert "<jupyter_nest slot view>" in [d.get("text/plain") for d in view.data]
    assert "widget" in kernel.run("print(get_ipython().find_line_magic('nest_cluster').__doc__)").stdout


def test_clicking_a_tree_box_zooms_in_and_the_top_box_zooms_out(ipython):
    ipython.run_line_magic("nest_cluster", "start --workers 1 --threads 1 --no-dashboard")

    def fan_out(n):
        c = jupyter_nest.get_client()
        return sum(c.gather(c.map(abs, range(n), pure=False)))

    root = jupyter_nest.current().client.submit(fan_out, 3, pure=False)
    assert root.result(timeout=60) == 3
    w = jupyter_nest.widget(root=root, interval=0.05)
    try:
        nodes = w.view.sources["nest-tree-nodes"]
        deadline = time.monotonic() + 20
        while len(nodes.data["key"]) < 4 and time.monotonic() < deadline:
            time.sleep(0.05)
        child = nodes.data["key"][1]

        def click(index):  # what the page sends when a box is tapped
            w.model._sync_model(w.model, {"event": "jsevent", "kind": "ModelChanged", "model": {"id": nodes.selected.id},
                                          "attr": "indices", "new": [index]}, [])

        click(1)
        assert w.root == child and nodes.selected.indices == []
        while nodes.data["key"] != [child] and time.monotonic() < deadline:
            time.sleep(0.05)
        assert nodes.data["key"] == [child]  # the child's own tree: just itself
        click(0)
        assert w.root == root.key
    finally:
        w.close()
