"""Tracebacks of failed cells, told from the cell's own lines.

Dask brings a task's exception back with a traceback whose frames are
reconstructed stand-ins: IPython cannot show their source, and frames of
functions sent by value are named ``<dynamic-code>``. :func:`explain` gives the
exception a ready-made traceback (IPython's ``_render_traceback_``) that starts
at the cell and shows each line from the notebook.
"""

from __future__ import annotations

import functools
import linecache
import traceback
from types import TracebackType
from typing import Any


def _where(filename: str, lineno: int, name: str) -> str:
    from IPython import get_ipython

    shell = get_ipython()
    cell = shell.compile.format_code_name(filename) if shell is not None else None
    if cell:  # the notebook's own cells read as IPython shows them: "Cell In[7], line 3"
        return f"{cell[0]} {cell[1]}, line {lineno}" + ("" if name == "<module>" else f", in {name}")
    return f'File "{filename}", line {lineno}, in {name}'


def explain(cell: Any, exc: BaseException, tb: TracebackType | None) -> None:
    """Make IPython show a failed cell's traceback from its own lines, as they read in the notebook.

    ``cell`` is the submitted :class:`~jupyter_nest.submit.Cell`. The frames
    before the cell's (Dask's and ours) are left out, and notebook functions the
    cell called are shown from the cells that define them.

    Examples
    --------
    >>> explain(submission.cell, future.exception(), future.traceback())  # doctest: +SKIP
    >>> future.result()  # doctest: +SKIP
    Traceback (most recent call last), from the cell's task on the cluster:
      Cell In[5], line 4
        a / b
    ZeroDivisionError: division by zero
    """
    frames = traceback.extract_tb(tb)
    first = next((i for i, f in enumerate(frames) if f.filename == cell.filename), None)
    if first is None:
        return
    lines = ["Traceback (most recent call last), from the cell's task on the cluster:"]
    for frame in frames[first:]:
        filename = frame.filename
        if filename == "<dynamic-code>":
            filename = cell.origins.get(frame.name, filename)
        lines.append("  " + _where(filename, frame.lineno or 0, frame.name))
        text = linecache.getline(filename, frame.lineno or 0).strip()
        if text:
            lines.append("    " + text)
    lines += traceback.format_exception_only(type(exc), exc)  # with its notes, e.g. the task chain
    try:
        rendered = ["\n".join(line.rstrip() for line in lines)]
        exc._render_traceback_ = functools.partial(list, rendered)  # type: ignore[attr-defined]
    except AttributeError:  # an exception type without instance attributes keeps Dask's traceback
        pass
