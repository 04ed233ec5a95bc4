"""OutputPlugin (worker): prints of tasks annotated with a cell go back as events on the cell-output
topic; everything else goes to the process's own streams.

Fast tier: ``gen_cluster`` runs the scheduler and workers in this process, so the plugin's routers
replace this process's ``sys.stdout``/``sys.stderr`` (here, pytest's capture) while the test runs.
"""

from __future__ import annotations

import sys

# jupyter_nest.config before distributed.utils_test: gen_cluster resets dask.config to what it was when
# utils_test was imported, and that must include jupyter_nest's settings (importing jupyter_nest alone
# imports no Dask and registers none).
import jupyter_nest.config  # noqa: F401

# isort: split
import dask
import pytest
from distributed.utils_test import gen_cluster

from jupyter_nest import _wire
from jupyter_nest.submit._shipped.capture import OutputPlugin

pytestmark = pytest.mark.timeout(60)

ONE_SLOT = [("127.0.0.1", 1)]


def chatty(text):
    print(text)
    print(f"{text} (on stderr)", file=sys.stderr)
    return len(text)


async def install(c):
    await c.register_plugin(OutputPlugin(), name=OutputPlugin.name)


async def cell_output(c):
    """Cell -> {stream: text} from the events the scheduler holds on the cell-output topic."""
    out: dict[str, dict[str, str]] = {}
    for _, msg in await c.get_events(_wire.CELL_OUTPUT_TOPIC):
        streams = out.setdefault(msg["cell"], {})
        for stream, text in msg["out"]:
            streams[stream] = streams.get(stream, "") + text
    return out


@gen_cluster(client=True, nthreads=ONE_SLOT)
async def test_cell_task_prints_arrive_as_events_before_its_result(c, s, a):
    await install(c)
    with dask.annotate(**{_wire.CELL_ANNOTATION: "cell-7"}):
        future = c.submit(chatty, "hello from cell 7", pure=False)
    assert await future == len("hello from cell 7")

    # No polling: the plugin flushes a cell's output when its task ends, ahead of the result on
    # the worker's ordered stream, so the scheduler has it before this client has the result.
    assert await cell_output(c) == {
        "cell-7": {"stdout": "hello from cell 7\n", "stderr": "hello from cell 7 (on stderr)\n"},
    }


@gen_cluster(client=True, nthreads=ONE_SLOT)
async def test_plain_task_prints_go_to_the_process_streams_not_to_events(c, s, a, capsys):
    await install(c)
    assert await c.submit(chatty, "plain task output", pure=False) == len("plain task output")
    with dask.annotate(**{_wire.CELL_ANNOTATION: "cell-8"}):
        assert await c.submit(chatty, "cell 8 output", pure=False) == len("cell 8 output")

    events = await cell_output(c)
    assert list(events) == ["cell-8"]
    assert "plain task output" not in str(events)
    captured = capsys.readouterr()
    assert "plain task output\n" in captured.out
    assert "plain task output (on stderr)\n" in captured.err
    assert "cell 8 output" not in captured.out + captured.err

    # The routers stay installed only while a worker of this process has the plugin.
    assert hasattr(sys.stdout, "jupyter_nest_hub")
    await a.close()
    assert not hasattr(sys.stdout, "jupyter_nest_hub")
    assert not hasattr(sys.stderr, "jupyter_nest_hub")
