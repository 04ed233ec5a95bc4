"""%%nest_submit and submit_cell in real kernels on real clusters: values, globals, output, errors."""

from __future__ import annotations

import queue
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from support.kernels import Kernel, Reply
from support.processes import DaskProcesses, worker_without_jupyter_nest

pytestmark = [pytest.mark.timeout(240), pytest.mark.slow, pytest.mark.kernel]


def record(kernel: Kernel) -> list[dict[str, Any]]:
    """Keep every iopub message the kernel sends, whichever cell it belongs to."""
    log: list[dict[str, Any]] = []
    receive = kernel.client.get_iopub_msg

    def recording(*args: Any, **kwargs: Any) -> dict[str, Any]:
        msg = receive(*args, **kwargs)
        log.append(msg)
        return msg

    kernel.client.get_iopub_msg = recording
    return log


def settle(kernel: Kernel) -> Kernel:
    """Consume shell replies left from start-up, so each cell reads its own reply.

    ``wait_for_ready`` asks for kernel info again every second until the kernel
    answers; on a busy machine the extra answers arrive later, and ``Kernel.run``
    would take them for the replies of the first cells.
    """
    request = kernel.client.kernel_info()
    while kernel.client.get_shell_msg(timeout=60)["parent_header"].get("msg_id") != request:
        pass
    return kernel


def drain(kernel: Kernel, done: Callable[[], bool], timeout: float = 60) -> None:
    """Read iopub messages (into the record) until ``done()``; fail after ``timeout``."""
    deadline = time.monotonic() + timeout
    while not done():
        if time.monotonic() > deadline:
            raise TimeoutError("the expected output did not arrive")
        try:
            kernel.client.get_iopub_msg(timeout=0.2)
        except queue.Empty:
            pass


def msg_id(reply: Reply) -> str:
    return reply.messages[0]["parent_header"]["msg_id"]


def execution_count(reply: Reply) -> int:
    return next(m["content"]["execution_count"] for m in reply.messages if m["msg_type"] == "execute_input")


def streams(log: list[dict[str, Any]], text: str) -> list[dict[str, Any]]:
    """The stream messages carrying ``text``."""
    return [m for m in log if m["msg_type"] == "stream" and text in m["content"]["text"]]


def nest_error(reply: Reply) -> str:
    """The one-paragraph NestError a cell failed with."""
    assert reply.status == "error", reply.stdout + reply.stderr
    assert reply.error["ename"] in ("NestError", "NoClusterError"), reply.error
    assert len(reply.error["traceback"]) == 1, reply.error["traceback"]
    return reply.error["traceback"][0]


class Notebook:
    """A kernel with jupyter_nest and a 2 x 1 cluster of worker processes, recording all output."""

    def __init__(self) -> None:
        self.kernel = settle(Kernel())
        self.log = record(self.kernel)
        self.start = self.run("%load_ext jupyter_nest\nclient = %nest_cluster start --workers 2 --threads 1")

    def run(self, code: str, timeout: float = 120) -> Reply:
        return self.kernel.run(code, timeout)

    def ok(self, code: str, timeout: float = 120) -> Reply:
        return self.kernel.run(code, timeout).check()

    def value(self, expr: str) -> Any:
        return self.kernel.value(expr)

    def scheduler_keys(self) -> list[str]:
        return self.value("sorted(str(k) for k in client.run_on_scheduler("
                          "lambda dask_scheduler: list(dask_scheduler.tasks)))")


@pytest.fixture(scope="module")
def nb():
    notebook = Notebook()
    notebook.start.check()
    yield notebook
    notebook.kernel.shutdown()


def test_last_expression_is_the_value_and_assignments_stay_on_the_worker(nb):
    nb.ok("kept = 'notebook'")
    reply = nb.ok("%%nest_submit --wait\nkept = 'worker'\nfresh = 20\nfresh * 2 + 2")
    assert reply.result["text/plain"] == "42"
    assert nb.value("kept") == "notebook"
    assert nb.value("'fresh' in globals()") is False
    assert nb.value("_nest.result()") == 42
    # no trailing expression: the value is None
    assert nb.ok("%%nest_submit --wait\nz = 1").result == {}


def test_notebook_functions_and_classes_travel_by_value(nb):
    nb.ok("class Box:\n    def __init__(self, v):\n        self.v = v\n"
          "def triple(n):\n    return Box(n * 3)")
    reply = nb.ok("%%nest_submit --wait\n[triple(i).v for i in range(4)]")
    assert reply.result["text/plain"] == "[0, 3, 6, 9]"


def test_cell_launches_tasks_with_worker_client(nb):
    nb.ok("from distributed import worker_client\n"
          "def fib(n):\n"
          "    if n < 2:\n"
          "        return n\n"
          "    with worker_client() as c:\n"
          "        a = c.submit(fib, n - 1, pure=False)\n"
          "        b = c.submit(fib, n - 2, pure=False)\n"
          "        return a.result() + b.result()")
    assert nb.ok("%%nest_submit --wait\nfib(10)", timeout=180).result["text/plain"] == "55"


def test_futures_from_earlier_cells_arrive_as_values(nb):
    nb.ok("fut = client.submit(lambda: 40)\nfuts = [fut, client.submit(lambda: 2)]")
    assert nb.ok("%%nest_submit --wait\nfut + 2").result["text/plain"] == "42"
    assert nb.ok("%%nest_submit --wait\nsum(futs)").result["text/plain"] == "42"
    nb.ok("%%nest_submit -o first\n21")
    assert nb.ok("%%nest_submit --wait\nfirst * 2").result["text/plain"] == "42"


def test_o_binds_the_future_at_once_and_the_status_line_becomes_the_result(nb, tmp_path):
    flag = tmp_path / "go"
    reply = nb.ok(f"%%nest_submit -o later\nimport os, time\nwhile not os.path.exists({str(flag)!r}):\n"
                  "    time.sleep(0.05)\n'finished'")
    assert nb.value("later.status") == "pending", "the cell returned before the task finished"
    shown = [m for m in reply.messages if m["msg_type"] == "display_data"]
    assert len(shown) == 1 and "(the future is `later`)" in shown[0]["content"]["data"]["text/plain"]
    display_id = shown[0]["content"]["transient"]["display_id"]
    flag.touch()

    def final() -> list[dict[str, Any]]:
        return [m for m in nb.log if m["msg_type"] == "update_display_data"
                and m["content"]["data"].get("text/plain") == "'finished'"]

    drain(nb.kernel, final)
    assert final()[0]["content"]["transient"]["display_id"] == display_id
    assert final()[0]["parent_header"]["msg_id"] == msg_id(reply)
    assert nb.value("later.result()") == "finished"


def test_prints_appear_once_in_the_submitting_cell(nb, tmp_path):
    reply = nb.ok("%%nest_submit --wait\nimport sys\nfrom distributed import worker_client\n"
                  "print('marker-own')\nprint('marker-err', file=sys.stderr)\n"
                  "def child(i):\n    print('marker-child', i)\n    return i\n"
                  "with worker_client() as c:\n    total = sum(c.gather(c.map(child, range(3))))\ntotal")
    assert reply.result["text/plain"] == "3"
    for text in ["marker-own", "marker-err", "marker-child 0", "marker-child 1", "marker-child 2"]:
        found = streams(nb.log, text)
        assert len(found) == 1, (text, found)
        assert found[0]["parent_header"]["msg_id"] == msg_id(reply), text
    assert streams(nb.log, "marker-err")[0]["content"]["name"] == "stderr"

    # Printed after the submitting cell finished, while another cell has run since.
    flag = tmp_path / "go"
    late = nb.ok(f"%%nest_submit\nimport os, time\nwhile not os.path.exists({str(flag)!r}):\n"
                 "    time.sleep(0.05)\nprint('marker-late')")
    other = nb.ok("print('another cell')")
    flag.touch()
    drain(nb.kernel, lambda: streams(nb.log, "marker-late"))
    time.sleep(1)  # room for a duplicate to show up, if there were one
    drain(nb.kernel, lambda: True)
    found = streams(nb.log, "marker-late")
    assert len(found) == 1
    assert found[0]["parent_header"]["msg_id"] == msg_id(late)
    for not_here in (other, nb.start):
        assert not [m for m in nb.log if m["parent_header"].get("msg_id") == msg_id(not_here)
                    and m["msg_type"] == "stream" and "marker" in m["content"]["text"]]


def test_distributed_print_in_a_submitted_cell_shows_once(nb):
    # Dask forwards distributed.print to every client itself; the cell's own capture must not repeat it
    reply = nb.ok("%%nest_submit --wait\nimport distributed\ndistributed.print('marker-dask-print')\n1")
    assert reply.result["text/plain"] == "1"
    drain(nb.kernel, lambda: streams(nb.log, "marker-dask-print"))
    later = time.monotonic() + 2  # room for a duplicate to show up, if there were one
    drain(nb.kernel, lambda: time.monotonic() > later)
    assert len(streams(nb.log, "marker-dask-print")) == 1, streams(nb.log, "marker-dask-print")


def test_submit_cell_api_prints_into_the_calling_cell(nb):
    reply = nb.ok("import jupyter_nest\nn_api = 6\n"
                  "f = jupyter_nest.submit_cell('print(\"marker-api\", n_api)\\nn_api * 7', globals())\n"
                  "f.result()")
    assert reply.result["text/plain"] == "42"
    assert [m["parent_header"]["msg_id"] for m in streams(nb.log, "marker-api 6")] == [msg_id(reply)]
    assert nb.value("jupyter_nest.submit_cell('2 + 3', wait=True)") == 5


def test_remote_exception_shows_the_cell_line(nb):
    reply = nb.run("%%nest_submit --wait\na = 1\nb = 0\na / b")
    assert reply.status == "error" and reply.error["ename"] == "ZeroDivisionError"
    text = "\n".join(reply.error["traceback"])
    assert f"Cell In[{execution_count(reply)}], line 4\n    a / b" in text
    assert "run_cell" not in text and "<dynamic-code>" not in text

    nb.ok("def explode(x):\n    return x / 0")
    reply = nb.run("%%nest_submit --wait\nexplode(3)")
    text = "\n".join(reply.error["traceback"])
    assert "line 2\n    explode(3)" in text and "line 2, in explode\n    return x / 0" in text

    # Without --wait, the status line names the error and line; .result() raises it.
    failing = nb.ok("%%nest_submit -o broken\nx = [1]\nx[5]")
    drain(nb.kernel, lambda: any("IndexError" in m["content"]["data"].get("text/plain", "")
                                 for m in nb.log if m["msg_type"] == "update_display_data"))
    final = [m for m in nb.log if m["msg_type"] == "update_display_data"
             and "IndexError" in m["content"]["data"]["text/plain"]][-1]
    assert final["parent_header"]["msg_id"] == msg_id(failing)
    assert "failed after" in final["content"]["data"]["text/plain"]
    assert "(line 3: `x[5]`)" in final["content"]["data"]["text/plain"]
    reply = nb.run("broken.result()")
    assert reply.error["ename"] == "IndexError"
    assert f"Cell In[{execution_count(failing)}], line 3\n    x[5]" in "\n".join(reply.error["traceback"])


def test_task_key_starts_with_the_label(nb):
    reply = nb.ok("%%nest_submit\n1")
    assert nb.value("_nest.key").startswith(f"cell_{execution_count(reply)}-")
    nb.ok("%%nest_submit --name fit_model\n1")
    assert nb.value("__import__('dask').utils.key_split(_nest.key)") == "fit_model"
    assert nb.value("_nest.result()") == 1


def test_pure_submissions_share_a_key(nb):
    nb.ok("%%nest_submit --pure --name twin -o one\n6 * 7")
    nb.ok("%%nest_submit --pure --name twin -o two\n6 * 7")
    assert nb.value("one.key == two.key") is True
    nb.ok("%%nest_submit --name twin -o three\n6 * 7")
    assert nb.value("one.key != three.key") is True


def test_resources_and_workers_place_the_task(nb):
    address = nb.value("sorted(client.scheduler_info()['workers'])[1]")
    reply = nb.ok(f"%%nest_submit --wait --workers {address}\n"
                  "from distributed import get_worker\nget_worker().address")
    assert reply.result["text/plain"] == repr(address)


def test_bad_input_is_refused_before_anything_is_sent(nb, tmp_path):
    path = str(tmp_path / "w.txt")
    nb.ok(f"import threading\nlock = threading.Lock()\n"
          f"writer = open({path!r}, 'w')\nreader = open({path!r})\n"
          "def locked():\n    with lock:\n        return 1")
    nb.ok("failed = client.submit(lambda: 1 / 0)\nimport distributed\ndistributed.wait(failed)")
    nb.ok("%%nest_submit\n1")
    nb.ok("before = _nest")
    before = nb.scheduler_keys()
    cases = [
        ("%%nest_submit --name never\nx = (1,\ny = 2",
         "SyntaxError on line 2 of the cell: `x = (1,`: '(' was never closed. Nothing was sent"),
        ("%%nest_submit --name never\nlock.acquire()",
         "The cell reads `lock`, a _thread.lock, which cannot be sent to a worker: "
         "TypeError: cannot pickle '_thread.lock' object"),
        ("%%nest_submit --name never\nwriter.write('x')",
         "The cell reads `writer`, a _io.TextIOWrapper, which cannot be sent to a worker: an open file"),
        ("%%nest_submit --name never\nreader.read()", "`reader`, a _io.TextIOWrapper"),
        ("%%nest_submit --name never\nclient.submit(abs, 1)",
         "The cell reads `client`, a jupyter_nest.cluster.SessionClient, which cannot be sent to a worker: "
         "a Dask client holds live connections"),
        ("%%nest_submit --name never\nlocked()",
         "The cell reads `locked`, a function that uses `lock`, a _thread.lock, which cannot be sent"),
        ("%%nest_submit --name never\nfailed + 1",
         "The cell reads `failed`, which holds a failed future (key 'lambda-"),
        ("%%nest_submit --name never-2\n1",
         "The task label 'never-2' (--name) would show in Dask as 'never'"),
        ("%%nest_submit -o 2x\n1", "-o '2x' is not a Python variable name"),
        ("%%nest_submit --resources GPU\n1", "--resources 'GPU' is not NAME=AMOUNT"),
        ("%%nest_submit --resources GPU=1\n1",
         "--resources GPU=1: no worker offers that (offered: no resources at all)"),
        ("%%nest_submit --workers tcp://10.255.255.1:1\n1",
         "--workers tcp://10.255.255.1:1: no such worker in this cluster"),
        ("%%nest_submit\n   \n", "The cell is empty"),
        ("%%nest_submit --bogus\n1", "unrecognized arguments: --bogus"),
    ]
    for code, message in cases:
        assert message in nest_error(nb.run(code)), code
    assert nb.scheduler_keys() == before
    assert nb.value("_nest is before") is True
    # the cell can use what it creates itself
    assert nb.ok("%%nest_submit --wait\nimport threading\nlock = threading.Lock()\n"
                 "with lock:\n    v = 1\nv").result["text/plain"] == "1"


def test_help_documents_the_options_and_that_assignments_stay_remote(nb):
    doc = nb.ok("print(get_ipython().find_cell_magic('nest_submit').__doc__)").stdout
    for text in ["-o NAME", "--wait", "--name LABEL", "--pure", "--resources K=V", "--workers ADDR",
                 "do NOT", "change the notebook's variables", "worker_client()"]:
        assert text in doc, text


def test_no_cluster_and_in_kernel_workers(kernel):
    settle(kernel).run("%load_ext jupyter_nest").check()
    message = nest_error(kernel.run("%%nest_submit\n1"))
    assert "`%%nest_submit` needs a cluster, and none is running in this kernel. Start one with " \
           "`%nest_cluster start`" in message
    assert "needs a cluster" in nest_error(kernel.run("import jupyter_nest\njupyter_nest.submit_cell('1')"))

    # Workers as threads of the kernel: output is routed the same way, and the
    # kernel's own streams are given back when the cluster stops.
    kernel.run("%nest_cluster start --workers 1 --threads 1 --no-processes --no-dashboard").check()
    reply = kernel.run("%%nest_submit --wait\nprint('marker-thread')\n3").check()
    assert reply.stdout == "marker-thread\n" and reply.result["text/plain"] == "3"
    assert kernel.run("print('kernel print')").check().stdout == "kernel print\n"
    kernel.run("%nest_cluster stop").check()
    assert kernel.value("type(__import__('sys').stdout).__name__") == "OutStream"


@pytest.fixture(scope="module")
def remote(tmp_path_factory):
    """A scheduler and a worker started outside the kernel, plus one where jupyter_nest is not installed."""
    procs = DaskProcesses(tmp_path_factory.mktemp("remote"))
    procs.procs.append(worker_without_jupyter_nest(procs.address, tmp_path_factory.mktemp("bare"), name="bare"))
    try:
        procs.wait_for_workers(2)
        yield procs
    finally:
        procs.close()


def test_runs_on_a_worker_without_jupyter_nest(kernel, remote):
    settle(kernel).run(f"%load_ext jupyter_nest\n%nest_cluster connect {remote.address}").check()
    reply = kernel.run("%%nest_submit --wait --workers bare\nimport importlib.util\n"
                       "from distributed import worker_client\n"
                       "print('importable:', importlib.util.find_spec('jupyter_nest'))\n"
                       "def child(i):\n    print('child', i)\n    return i\n"
                       "with worker_client() as c:\n"
                       "    total = sum(c.gather(c.map(child, range(3), workers=['bare'])))\ntotal").check()
    assert reply.result["text/plain"] == "3"
    assert "importable: None" in reply.stdout
    assert sorted(line for line in reply.stdout.splitlines() if line.startswith("child")) == \
        ["child 0", "child 1", "child 2"]


def interrupt_endless_cell(kernel: Kernel, ticks: Path) -> None:
    """Interrupt a waiting endless cell; check it is cancelled, gone and stopped, the workers kept."""
    workers = kernel.value("len(client.scheduler_info()['workers'])")
    cell = kernel.client.execute(
        f"%%nest_submit --wait --name endless\nimport time\nwhile True:\n"
        f"    with open({str(ticks)!r}, 'a') as f:\n        f.write('x')\n    time.sleep(0.02)"
    )
    deadline = time.monotonic() + 60
    while not (ticks.exists() and ticks.stat().st_size > 5):
        assert time.monotonic() < deadline, "the cell never started"
        time.sleep(0.1)
    kernel.manager.interrupt_kernel()
    error = kernel.collect(cell, timeout=60).error
    assert error["ename"] == "KeyboardInterrupt"
    assert kernel.value("_nest.status") == "cancelled"
    keys = kernel.value("[str(k) for k in client.run_on_scheduler("
                        "lambda dask_scheduler: list(dask_scheduler.tasks))]")
    assert not [k for k in keys if k.startswith("endless-")], keys
    # The cell's code stopped on the worker: the file stops growing.
    deadline = time.monotonic() + 30
    size = -1
    while size != ticks.stat().st_size:
        assert time.monotonic() < deadline, "the cell kept running after the interrupt"
        size = ticks.stat().st_size
        time.sleep(1)
    assert kernel.value("len(client.scheduler_info()['workers'])") == workers


def test_interrupting_a_wait_cancels_the_cell(nb, tmp_path):
    interrupt_endless_cell(nb.kernel, tmp_path / "ticks")


def test_interrupting_a_wait_cancels_the_cell_on_a_remote_scheduler(kernel, remote, tmp_path):
    settle(kernel).run(f"%load_ext jupyter_nest\nclient = %nest_cluster connect {remote.address}").check()
    interrupt_endless_cell(kernel, tmp_path / "ticks")
