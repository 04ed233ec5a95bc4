"""What of the notebook goes along with a submitted cell, and why something cannot go.

The globals a cell reads are pickled here with cloudpickle, in the kernel, so a
value that cannot be sent is named (with its type and the reason) before
anything is submitted. Globals holding Dask futures are left for Dask, which
replaces them by their values when the task runs.
"""

from __future__ import annotations

import inspect
import io
from collections.abc import Iterable, Mapping
from typing import Any

import cloudpickle
import distributed
from distributed import Future

from ..errors import NestError


def _type_name(obj: Any) -> str:
    t = type(obj)
    return t.__qualname__ if t.__module__ == "builtins" else f"{t.__module__}.{t.__qualname__}"


def _futures(value: Any, seen: set[int] | None = None) -> Iterable[Future]:
    """The futures in ``value`` and the lists, tuples, sets and dicts in it (Dask resolves those)."""
    seen = set() if seen is None else seen
    if isinstance(value, Future):
        yield value
    elif isinstance(value, (list, tuple, set, frozenset, dict)) and id(value) not in seen:
        seen.add(id(value))
        for item in value.values() if isinstance(value, dict) else value:
            yield from _futures(item, seen)


class _Unsendable(Exception):
    """Why a value cannot be sent to a worker."""


def _pickled(value: Any) -> bytes:
    """``value`` pickled for a worker, or :class:`_Unsendable`."""
    if isinstance(value, distributed.Client):
        raise _Unsendable(
            "a Dask client holds live connections and cannot be sent to a worker; inside the "
            "cell use `distributed.get_client()` or `with distributed.worker_client() as client:`")
    if isinstance(value, io.IOBase):
        # cloudpickle would copy a readable file's whole content; a worker needs the path instead.
        raise _Unsendable("an open file belongs to this kernel's process; open it inside the cell "
                          "from its path")
    try:
        return cloudpickle.dumps(value)
    except Exception as e:
        raise _Unsendable(f"{type(e).__name__}: {e}") from None


def _culprit(value: Any) -> tuple[str, Any, str] | None:
    """For a function that cannot be sent, the global or closure variable to blame and why."""
    if not inspect.isfunction(value):
        return None
    used = {n: value.__globals__[n] for n in value.__code__.co_names if n in value.__globals__}
    if value.__closure__:
        used.update((n, c.cell_contents) for n, c in zip(value.__code__.co_freevars, value.__closure__, strict=True)
                    if c.cell_contents is not None)
    for name, inner in used.items():
        if inspect.ismodule(inner):
            continue
        try:
            _pickled(inner)
        except _Unsendable as e:
            return name, inner, str(e)
    return None


def _cannot_send(name: str, value: Any, reason: str) -> NestError:
    what = f"`{name}`, a {_type_name(value)}"
    culprit = _culprit(value)
    if culprit:
        inner, inner_value, reason = culprit
        what += f" that uses `{inner}`, a {_type_name(inner_value)}"
    return NestError(
        f"The cell reads {what}, which cannot be sent to a worker: {reason}. Nothing was sent. "
        "Create such objects inside the cell (open files, locks and connections there), or "
        "leave them out."
    )


def origins(values: Iterable[Any]) -> dict[str, str]:
    """Function name -> defining file, for notebook functions and the methods of notebook classes.

    Examples
    --------
    >>> def f(): pass
    >>> origins([f])  # doctest: +SKIP
    {'f': '/tmp/ipykernel_1234/1234567.py'}
    """
    origins: dict[str, str] = {}
    for value in values:
        functions = [value] if inspect.isfunction(value) else (
            [f for f in vars(value).values() if inspect.isfunction(f)] if inspect.isclass(value) else [])
        for f in functions:
            if f.__module__ == "__main__":
                origins[f.__code__.co_name] = f.__code__.co_filename
    return origins


def ship(names: Iterable[str], namespace: Mapping[str, Any], skip: Mapping[str, Any],
         client: Any) -> tuple[dict[str, bytes], dict[str, Any]]:
    """Pickle the globals in ``names`` that ``namespace`` defines; keep those holding futures as they are.

    Names missing from ``namespace`` (builtins, names the cell defines) and names
    still bound to the value ``skip`` gives them (IPython's own) are left out.

    Returns
    -------
    (pickled, direct) : the pickled globals by name, and those holding futures.

    Examples
    --------
    >>> pickled, direct = ship(["x", "len"], {"x": 1}, {}, client=None)
    >>> sorted(pickled), direct
    (['x'], {})
    """
    pickled: dict[str, bytes] = {}
    direct: dict[str, Any] = {}
    for name in names:
        if name not in namespace or (name in skip and skip[name] is namespace[name]):
            continue  # a builtin, an IPython internal, or a name the cell defines itself
        value = namespace[name]
        try:
            blob = _pickled(value)
        except _Unsendable as e:
            raise _cannot_send(name, value, str(e)) from None
        futures = list(_futures(value))
        if futures:
            for future in futures:
                if future.client is not client:
                    raise NestError(
                        f"The cell reads `{name}`, which holds a future of another client (an earlier "
                        "cluster of this kernel?). Compute it again on the current cluster first."
                    )
                if future.status in ("cancelled", "lost"):
                    raise NestError(
                        f"The cell reads `{name}`, which holds a {future.status} future (key "
                        f"{future.key!r}): its value is gone. Compute it again first."
                    )
                if future.status == "error":
                    exc = future.exception()
                    raise NestError(
                        f"The cell reads `{name}`, which holds a failed future (key {future.key!r}: "
                        f"{type(exc).__name__}: {exc}). `{name}.result()` shows the traceback; fix "
                        "and compute it again first."
                    )
            direct[name] = value
        else:
            pickled[name] = blob
    return pickled, direct
