"""Run a notebook cell on the cluster as one Dask task: ``submit_cell`` and the steps behind it.

The cell is checked in the kernel (syntax, the globals it reads, whether they
can be pickled, where it may run) before anything is sent. It then runs on a
worker in a fresh namespace holding copies of those globals, so assignments in
the cell do not leak back into the notebook: its result is the value of its
last expression, returned by the future (or directly with ``wait=True``).
"""

from __future__ import annotations

import ast
import hashlib
import keyword
import sys
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import cloudpickle
import dask
import distributed
from dask.base import tokenize
from dask.utils import key_split
from distributed import Future

from .._wire import CELL_ANNOTATION, CELL_SPAN_TAG
from ..cluster import require
from ..errors import NestError
from ._globals import globals_read
from ._output import CellOutput, register, subscribe
from ._placement import check_placement
from ._ship import origins, ship
from ._shipped import capture, run
from ._shipped.capture import OutputPlugin
from ._traceback import explain

# Workers run the cell with these modules' code as sent from here, so they need
# not have jupyter_nest installed (only dask, distributed and cloudpickle).
cloudpickle.register_pickle_by_value(capture)
cloudpickle.register_pickle_by_value(run)


class _ByValue:
    """A function that pickles as its own code rather than as an import of jupyter_nest."""

    def __init__(self, func: Any) -> None:
        self.func = func
        self.blob = cloudpickle.dumps(func)
        self.__name__ = func.__name__

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.func(*args, **kwargs)

    def __reduce__(self) -> tuple[Any, tuple[bytes]]:
        return cloudpickle.loads, (self.blob,)


_RUN_CELL = _ByValue(run.run_cell)
_STOP_CELL = _ByValue(run.stop_cell)


@dataclass
class Cell:
    """A cell checked and ready to send: its code, its label, and the globals it reads."""

    source: str
    filename: str
    label: str
    pickled: dict[str, bytes] = field(default_factory=dict)
    direct: dict[str, Any] = field(default_factory=dict)
    #: Where the notebook functions it uses were defined (name -> file name): on the
    #: worker they run as cloudpickle's "<dynamic-code>", which tracebacks cannot show.
    origins: dict[str, str] = field(default_factory=dict)

    def line(self, lineno: int) -> str:
        """The text of line ``lineno`` of the cell, as the notebook numbers it."""
        lines = self.source.splitlines()
        return lines[lineno - 1].strip() if 0 < lineno <= len(lines) else ""


def check_label(label: str) -> str:
    """A task label Dask shows unchanged (``key_split`` keeps it whole), or a :class:`NestError`.

    Examples
    --------
    >>> check_label("cell_12")
    'cell_12'
    """
    if not label or key_split(f"{label}-{uuid.uuid4().hex}") != label:
        shown = key_split(f"{label}-{uuid.uuid4().hex}") if label else ""
        raise NestError(
            f"The task label {label!r} (--name) would show in Dask as {shown!r}: Dask drops "
            "dash-separated parts that are numbers or hex tokens. Start with a letter and use "
            "letters, digits and underscores, e.g. --name fit_2."
        )
    return label


def execution_count(shell: Any) -> int:
    """The number of the cell IPython is running (``In[N]``).

    Examples
    --------
    >>> execution_count(get_ipython())  # in the cell shown as In [7]  # doctest: +SKIP
    7
    """
    # IPython 9 counts the running cell before running it; its displayhook knows either way.
    return getattr(shell.displayhook, "prompt_count", shell.execution_count)


def check_name(name: str) -> str:
    """A notebook variable name to bind the future to, or a :class:`NestError`.

    Examples
    --------
    >>> check_name("total")
    'total'
    """
    if not name.isidentifier() or keyword.iskeyword(name):
        raise NestError(f"-o {name!r} is not a Python variable name: write e.g. -o result.")
    return name


def _syntax_error(e: SyntaxError, source: str) -> NestError:
    lines = source.splitlines()
    text = lines[e.lineno - 1].strip() if e.lineno and 0 < e.lineno <= len(lines) else ""
    where = f"line {e.lineno} of the cell" if e.lineno else "the cell"
    shown = f": `{text}`" if text else ""
    return NestError(f"SyntaxError on {where}{shown}: {e.msg}. Nothing was sent to the cluster; "
                     "fix the cell and run it again.")


def prepare(
    source: str,
    namespace: Mapping[str, Any] | None = None,
    *,
    label: str = "cell",
    first_line: int = 1,
    filename: str | None = None,
    skip: Mapping[str, Any] | None = None,
    client: Any = None,
) -> Cell:
    """Check a cell and collect what it needs, without sending anything.

    Parameters
    ----------
    source : str
        The cell's code (plain Python; IPython syntax such as ``%magic`` or ``!cmd`` is not run).
    namespace : mapping, optional
        Where the cell's globals come from (the notebook's ``globals()``).
    label : str
        Task name prefix, as Dask will show it.
    first_line : int
        The line number of ``source``'s first line in the notebook cell.
    filename : str, optional
        Name to compile under (default: one made from the label and the code).
    skip : mapping, optional
        Names to leave out when they still hold these values (IPython's own globals).
    client : distributed.Client, optional
        The client futures among the globals must belong to.

    Examples
    --------
    >>> cell = prepare("y = x + 1\\ny", {"x": 41})
    >>> sorted(cell.pickled)
    ['x']
    """
    check_label(label)
    padded = "\n" * (first_line - 1) + source
    if not source.strip():
        raise NestError("The cell is empty: write the code to run below the `%%nest_submit` line.")
    if filename is None:
        filename = f"<nest-cell {label} {hashlib.sha1(padded.encode()).hexdigest()[:8]}>"
        run.remember_source(padded, filename)
    try:
        tree = ast.parse(padded, filename, "exec")
        run.compile_cell(padded, filename)
    except SyntaxError as e:
        raise _syntax_error(e, padded) from None
    namespace = namespace or {}
    pickled, direct = ship(globals_read(tree), namespace, skip or {}, client)
    found = origins(namespace[n] for n in pickled)
    # Functions the cell defines and hands to other tasks run there as "<dynamic-code>" too.
    found.update((node.name, filename) for node in ast.walk(tree)
                 if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)))
    return Cell(padded, filename, label, pickled, direct, found)


def _ensure_output_plugin(client: Any) -> None:
    if not getattr(client, "_jupyter_nest_plugin", False):
        client.register_plugin(OutputPlugin(), name=OutputPlugin.name)
        client._jupyter_nest_plugin = True


@dataclass
class Submission:
    """A cell sent to the cluster: its future, its id and where its output goes."""

    future: Future
    cell: Cell
    id: str
    output: CellOutput


def send(
    cell: Cell,
    client: Any,
    *,
    pure: bool = False,
    resources: Mapping[str, float] | None = None,
    workers: list[str] | None = None,
    output: CellOutput | None = None,
) -> Submission:
    """Submit a prepared cell as one task; its output goes to ``output`` (default: the current cell).

    Examples
    --------
    >>> submission = send(prepare("6 * 7"), client)  # doctest: +SKIP
    >>> submission.future.result()  # doctest: +SKIP
    42
    """
    check_placement(client, resources, workers)
    output = output or CellOutput()
    subscribe(client)
    _ensure_output_plugin(client)
    token = (tokenize(cell.source, cell.pickled, cell.direct, resources, workers)
             if pure else uuid.uuid4().hex)
    sys.stdout.flush()  # what the kernel printed before comes before what the task prints
    with distributed.span(CELL_SPAN_TAG, cell.label) as cell_id:
        register(cell_id, output)
        spec = {"source": cell.source, "filename": cell.filename, "id": cell_id}
        with dask.annotate(**{CELL_ANNOTATION: cell_id}):
            future = client.submit(_RUN_CELL, spec, cell.pickled, cell.direct,
                                   key=f"{cell.label}-{token}", resources=resources, workers=workers)
    return Submission(future, cell, cell_id, output)


def cancel(submission: Submission) -> None:
    """Cancel the cell's task and stop the threads still running its code on the workers.

    Examples
    --------
    >>> cancel(send(prepare("import time\\ntime.sleep(60)"), client))  # doctest: +SKIP
    """
    client = submission.future.client
    if client.status != "running":  # the cluster is gone, and the task with it
        return
    client.run(_STOP_CELL, submission.id, wait=False)
    submission.future.cancel()


def wait_for(submission: Submission) -> Any:
    """The cell's value; interrupting the wait (Ctrl-C, the kernel's stop button) cancels the cell.

    A failure is raised as the cell's own exception, with a traceback that
    IPython shows from the cell's lines.

    Examples
    --------
    >>> wait_for(send(prepare("6 * 7"), client))  # doctest: +SKIP
    42
    """
    __tracebackhide__ = True
    try:
        return submission.future.result()
    except KeyboardInterrupt:
        cancel(submission)
        raise
    except Exception as exc:
        explain(submission.cell, exc, exc.__traceback__)
        raise


def submit_cell(
    source: str,
    namespace: Mapping[str, Any] | None = None,
    *,
    name: str | None = None,
    pure: bool = False,
    resources: Mapping[str, float] | None = None,
    workers: list[str] | None = None,
    wait: bool = False,
) -> Future | Any:
    """Run ``source`` on the cluster as one task, like a notebook cell.

    The notebook globals the code reads are copied to the worker (functions and
    classes defined in the notebook by value); futures among them arrive as
    their values. Assignments in the cell stay on the worker and do not change
    ``namespace``: get values back as the cell's result (its last expression).
    What the code prints, and what tasks it launches print, appears in the cell
    that called this function.

    Parameters
    ----------
    source : str
        Python code; the value of its last expression is the result.
    namespace : mapping, optional
        Globals the code may read, usually ``globals()``. Default: none.
    name : str, optional
        Label of the task (its Dask key starts with it). Default: ``cell_N``
        with the current execution count in IPython, else ``cell``.
    pure : bool
        Give equal submissions the same key, so Dask computes them once.
    resources : dict, optional
        Worker resources the task needs, e.g. ``{"GPU": 1}``.
    workers : list of str, optional
        Worker addresses (or host names, or worker names) it may run on.
    wait : bool
        Block until done and return the value instead of the future.

    Returns
    -------
    distributed.Future or object
        The future of the cell's value, or the value with ``wait=True``.

    Examples
    --------
    >>> import jupyter_nest
    >>> jupyter_nest.start(workers=2, threads=1)  # doctest: +SKIP
    >>> x = 20
    >>> jupyter_nest.submit_cell("y = x * 2\\ny + 2", globals(), wait=True)  # doctest: +SKIP
    42
    """
    session = require("Submitting a cell")
    if name is None:
        from IPython import get_ipython

        shell = get_ipython()
        name = f"cell_{execution_count(shell)}" if shell is not None else "cell"
    cell = prepare(source, namespace, label=name, client=session.client)
    submission = send(cell, session.client, pure=pure, resources=resources, workers=workers)
    if wait:
        return wait_for(submission)
    return submission.future
