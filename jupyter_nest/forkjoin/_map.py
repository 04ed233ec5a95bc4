"""``nest.map``: one child per element of a list of any length, as a divide-and-conquer tree of spans.

Spawning a child per element would hold a handle per element before the first one is
joined (and, from the notebook, make a Dask task per element). Instead the list is
halved recursively into spans, each a spawned child, down to spans of ``grain``
elements run in a loop (Cilk's ``cilk_for``). Idle slots take the oldest pending span,
the biggest; an offered span carries only its own slice of the list. What is pending
at any time is a handful of spans per thread, whatever the list's length. Each element
keeps its own outcome: its handle's ``result()`` returns its value or raises its error.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any, overload

from ._states import Failed, record

# Leaves per map (about): enough spans for every slot of a large cluster to find work, few enough that
# a span's bookkeeping is nothing next to its elements.
SPANS = 1024


class Chunk(list[Any]):
    """A list Dask ships in one pickle (a span's outcomes, a map's elements). Dask serializes a plain
    ``list`` that crosses processes element by element: a million ints took 16 s instead of 0.1 s."""

    __slots__ = ()


def grain_for(n: int) -> int:
    """How many elements a span runs in a loop instead of splitting further.

    Examples
    --------
    >>> grain_for(10), grain_for(10**6)
    (1, 977)
    """
    return max(1, -(-n // SPANS))


def outcome(fn: Callable[..., Any], x: Any, kwargs: dict[str, Any]) -> Any:
    """``fn(x, **kwargs)``, or a :class:`Failed` holding what it raised."""
    try:
        return fn(x, **kwargs) if kwargs else fn(x)
    except Exception as error:
        record(error, fn, (x,), kwargs)
        failed = object.__new__(Failed)
        failed.error = error
        return failed


def value_of(result: Any) -> Any:
    """An element's value, raising the error it failed with."""
    if isinstance(result, Failed):
        raise result.error
    return result


class Mapped(Sequence[Any]):
    """The handles of ``nest.map``: one per element (``handles[i].result()``), joined together.

    ``join`` returns every element's outcome, in order, running what is left of the map
    (in this thread, or by waiting for the cluster) the first time it is called.
    """

    __slots__ = ("_join", "_n", "_outcomes")

    def __init__(self, n: int, join: Callable[[], list[Any]]) -> None:
        self._n = n
        self._join = join
        self._outcomes: list[Any] | None = None

    def outcomes(self) -> list[Any]:
        if self._outcomes is None:
            self._outcomes = self._join()
        return self._outcomes

    def results(self) -> list[Any]:
        """Every element's value, in order; the first error in order is raised."""
        return [value_of(o) for o in self.outcomes()]

    def __len__(self) -> int:
        return self._n

    @overload
    def __getitem__(self, i: int) -> Element: ...

    @overload
    def __getitem__(self, i: slice) -> list[Element]: ...

    def __getitem__(self, i: int | slice) -> Element | list[Element]:
        if isinstance(i, slice):
            return [Element(self, j) for j in range(*i.indices(self._n))]
        if not -self._n <= i < self._n:
            raise IndexError(f"nest.map has {self._n} elements, no element {i}")
        return Element(self, i % self._n if self._n else i)

    def __repr__(self) -> str:
        state = "joined" if self._outcomes is not None else "running"
        return f"<nest.map of {self._n} elements, {state}>"


class Element:
    """The handle of one element of a ``nest.map``."""

    __slots__ = ("index", "mapped")

    def __init__(self, mapped: Mapped, index: int) -> None:
        self.mapped = mapped
        self.index = index

    def result(self) -> Any:
        return value_of(self.mapped.outcomes()[self.index])

    def done(self) -> bool:
        return self.mapped._outcomes is not None


def as_sequence(iterable: Iterable[Any]) -> Sequence[Any]:
    """The elements, sliceable (a generator's are read once, here)."""
    return iterable if isinstance(iterable, (list, tuple, range)) else list(iterable)
