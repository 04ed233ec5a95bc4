"""The states of a spawned child, the handles of children that already ran, and error notes.

A spawn handle (:class:`~._spawn.SpawnHandle`) moves through these states; only
its owner thread changes them, except where noted (under the worker ledger's lock)::

                      result() by its parent: run inline
        PENDING ---------------------------------------------> RUNNING --> DONE | FAILED
         |  ^  \\
         |  |   \\ an idle slot asked: offered as a Dask task aimed there
         |  |    v
         |  +-- OFFERED    (take_back(): the parent needs it and nobody claimed it yet)
         |         |
         |         | the thief's task starts and claims it (ledger lock)
         |         v
         |      CLAIMED --------------------------------------> DONE | FAILED
         |                  result() waits for the thief's Dask future
         |
         | a task elsewhere, blocked on a child that this task runs, borrows it
         v
        LENT -------------------------------------------------> DONE | FAILED
                  the borrower sends the value back (nest_return)

    CLAIMED or LENT whose runner's worker left the cluster ---> PENDING (run inline)

A child spawned deeper than ``defer-depth`` levels never gets a handle in this
machine: it runs at once and its handle is a :class:`Done` or :class:`Failed`.
"""

from __future__ import annotations

import concurrent.futures
import reprlib
from collections.abc import Callable
from typing import Any

from dask.utils import funcname

PENDING, RUNNING, DONE, FAILED, OFFERED, CLAIMED = "pending", "running", "done", "failed", "offered", "claimed"
LENT = "lent"  # run by a waiting task elsewhere, which sends the value back
ELSEWHERE = (CLAIMED, LENT)

_short = reprlib.Repr()
_short.maxstring = _short.maxother = 24
_short.maxlist = _short.maxtuple = 3


class Done:
    """The handle of a child that already ran (spawned below the defer depth)."""

    __slots__ = ("value",)
    value: Any

    def result(self) -> Any:
        return self.value

    def done(self) -> bool:
        return True


class Failed:
    """The handle of a child that already ran and raised."""

    __slots__ = ("error",)
    error: BaseException

    def result(self) -> Any:
        raise self.error

    def done(self) -> bool:
        return True


class RunnerGone(Exception):
    """The worker running a stolen or lent child left the cluster."""


def settle(future: concurrent.futures.Future, value: Any, error: BaseException | None) -> None:
    """Give a lent child's future its value or error, unless it has one already."""
    try:
        if error is None:
            future.set_result(value)
        else:
            future.set_exception(error)
    except concurrent.futures.InvalidStateError:
        pass  # settled already: cancelled, or delivered


def call_repr(fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any] | None) -> str:
    """``fib(3)``, shortened, for error notes."""
    parts = [_short.repr(a) for a in args] + [f"{k}={_short.repr(v)}" for k, v in (kwargs or {}).items()]
    return f"{funcname(fn)}({', '.join(parts)})"


def record(error: BaseException, fn: Callable[..., Any], args: tuple[Any, ...], kwargs: Any) -> None:
    """Remember, innermost first, the spawned calls an error passes through (error path only)."""
    calls = error.__dict__.setdefault("_nest_calls", [])
    calls.append(call_repr(fn, args, kwargs))


def chain_note(error: BaseException) -> None:
    """Add the spawned calls an error came up through as a note, root first."""
    calls = error.__dict__.get("_nest_calls")
    if not calls or len(calls) < 2:
        return
    note = (f"jupyter_nest: raised {len(calls) - 1} spawn level(s) down, root first:\n  "
            + " -> ".join(reversed(calls)))
    notes = getattr(error, "__notes__", [])
    error.__notes__ = [n for n in notes if not n.startswith("jupyter_nest: raised ") or "spawn" not in n] + [note]
