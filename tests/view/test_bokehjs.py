"""Where a notebook's slot view gets BokehJS: a small loader from the Jupyter server, inline only in VS Code."""

from __future__ import annotations

import dask
import pytest
from IPython.utils.capture import capture_output

from jupyter_nest.errors import NestError
from jupyter_nest.view import SlotView, _widget


def shown(layout):
    with capture_output() as out:
        _widget._load_bokehjs(layout)
    return [o.data for o in out.outputs]


def test_a_view_under_a_jupyter_server_carries_a_small_loader_every_time(ipython, monkeypatch):
    for name in [n for n in __import__("os").environ if n.startswith("VSCODE_")]:
        monkeypatch.delenv(name)
    layout = SlotView().layout
    first, again = shown(layout), shown(layout)  # a rerun cell, or a view after close(), gets its own
    assert len(first) == len(again) == 1
    loader = first[0]["application/javascript"]
    assert len(loader) < 2000
    assert '"jupyter-nest/static/js/bokeh.min.js"' in loader and "jupyter-config-data" in loader


def test_vscode_gets_bokehjs_inline_once_per_kernel(ipython, monkeypatch):
    monkeypatch.setenv("VSCODE_PID", "1")
    monkeypatch.setattr(_widget, "_inline_loaded", False)
    layout = SlotView().layout
    first, again = shown(layout), shown(layout)
    assert sum(len(str(d)) for d in first) > 1_000_000 and again == []


def test_a_bad_bokehjs_setting_names_the_fix(ipython):
    with dask.config.set({"jupyter-nest.widget.bokehjs": "cdn"}), pytest.raises(NestError, match="auto, server or inline"):
        shown(SlotView().layout)
