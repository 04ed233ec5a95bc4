"""``@nest``, ``fn.spawn``, ``nest.map`` and ``nest.gather``: the fork-join API users write."""

from __future__ import annotations

import functools
import uuid
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from dask.utils import funcname
from distributed import Future

from .. import _dask
from ..runtime import get_client, kernel_client, task_client
from ._map import Chunk, Mapped, as_sequence, grain_for, outcome
from ._spawn import SpawnHandle, TaskContext, local, run_root
from ._states import PENDING, Done, Failed, record

# A list this long goes to the workers on its own (scattered), not inside the root task's graph.
SCATTER_ABOVE = 10_000

_new = object.__new__


class Nest:
    """A function that can spawn itself (and others) as fork-join children. See :func:`nest`."""

    __slots__ = ("__dict__", "__wrapped__", "fn")

    def __init__(self, fn: Callable[..., Any]) -> None:
        self.fn = fn
        functools.update_wrapper(self, fn)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """A plain call: runs here; spawns inside it run here too unless a cluster task runs it."""
        if local.ctx is not None:
            return self.fn(*args, **kwargs)
        ctx = TaskContext()
        local.ctx = ctx
        try:
            return ctx.run(self.fn, args, kwargs)
        finally:
            local.ctx = None

    def spawn(self, *args: Any, **kwargs: Any) -> Any:
        """Start ``fn(*args, **kwargs)`` as a child; call ``.result()`` on the handle to join it.

        Inside a task the child stays in this thread unless an idle slot takes it;
        in the notebook (or a plain Dask task) it becomes a Dask task and the
        handle is its :class:`distributed.Future`.
        """
        ctx = local.ctx
        if ctx is None:
            return self._submit(args, kwargs)
        if ctx.needs_service:
            return ctx.serve(self._defer(ctx, args, kwargs))
        if ctx.depth >= ctx.defer_depth:
            ctx.inline += 1
            try:
                done = _new(Done)
                done.value = self.fn(*args, **kwargs) if kwargs else self.fn(*args)
                return done
            except BaseException as error:
                record(error, self.fn, args, kwargs)
                failed = _new(Failed)
                failed.error = error
                return failed
        return self._defer(ctx, args, kwargs)

    def _defer(self, ctx: TaskContext, args: tuple[Any, ...], kwargs: dict[str, Any]) -> SpawnHandle:
        ctx.inline += 1
        item = _new(SpawnHandle)
        item.fn, item.args, item.kwargs, item.state, item.ctx, item.future = self.fn, args, kwargs, PENDING, ctx, None
        ctx.items.append(item)
        return item

    def _submit(self, args: tuple[Any, ...], kwargs: dict[str, Any], name: str | None = None) -> Future:
        name = name or funcname(self.fn)
        client = task_client() if _dask.in_task() else kernel_client(f"{name}.spawn(...) outside a task")
        return client.submit(run_root, self.fn, args, kwargs, key=f"{name}-{uuid.uuid4().hex}", pure=False)

    def map(self, iterable: Iterable[Any], **kwargs: Any) -> Mapped:
        """One child per element: ``handles[i].result()`` is ``fn(iterable[i], **kwargs)``.

        The elements run as a tree of spans, halving the list down to short loops, so a list of
        any length costs a handful of pending spans, not a handle or a Dask task per element.
        """
        items = as_sequence(iterable)
        args = (self.fn, items, kwargs, grain_for(len(items)))
        if local.ctx is not None:
            return Mapped(len(items), _spans.spawn(*args).result)
        client = task_client() if _dask.in_task() else kernel_client(f"{funcname(self.fn)}.map(...) outside a task")
        if len(items) > SCATTER_ABOVE and not isinstance(items, range):
            args = (self.fn, client.scatter([Chunk(items)])[0], kwargs, args[3])
        root = _spans._submit(args, {}, name=f"{funcname(self.fn)}-map")
        return Mapped(len(items), root.result)

    def __repr__(self) -> str:
        return f"<nest {funcname(self.fn)}>"

    def __reduce__(self) -> Any:
        return Nest, (self.fn,)


def _span(fn: Callable[..., Any], part: Sequence[Any], kwargs: dict[str, Any], grain: int) -> Chunk:
    """The outcomes of ``fn`` over ``part``: halved into two spawned spans, down to ``grain`` elements."""
    if len(part) <= grain:
        return Chunk([outcome(fn, x, kwargs) for x in part])
    mid = len(part) // 2
    left, right = _spans.spawn(fn, part[:mid], kwargs, grain), _spans.spawn(fn, part[mid:], kwargs, grain)
    joined = left.result()
    joined.extend(right.result())
    return joined


_spans = Nest(_span)


class _NestAPI:
    """``@nest`` and its helpers ``nest.map`` and ``nest.gather``."""

    def __call__(self, fn: Callable[..., Any]) -> Nest:
        """Make ``fn`` a fork-join function.

        Parameters
        ----------
        fn : callable
            The function; inside it, ``fn.spawn(...)`` starts children and
            ``handle.result()`` joins them.

        Returns
        -------
        Nest
            Call it for a plain call; ``.spawn(...)`` runs it on the cluster
            (from the notebook) or as a child (inside a task).

        Examples
        --------
        >>> from jupyter_nest import nest
        >>> @nest
        ... def fib(n):
        ...     if n < 2:
        ...         return n
        ...     a, b = fib.spawn(n - 1), fib.spawn(n - 2)
        ...     return a.result() + b.result()
        >>> fib(10)
        55
        >>> fib.spawn(27).result()  # doctest: +SKIP
        196418
        """
        return fn if isinstance(fn, Nest) else Nest(fn)

    def map(self, fn: Callable[..., Any], iterable: Iterable[Any], **kwargs: Any) -> Mapped:
        """Spawn ``fn(x, **kwargs)`` for every ``x``: one child per element of a list of any length.

        Returns a sequence of handles, one per element; the elements run as one fork-join
        tree (from the notebook: one Dask task, which idle slots split further).

        Examples
        --------
        >>> from jupyter_nest import nest
        >>> handles = nest.map(abs, [-1, -2, 3])  # from the notebook: one root task each  # doctest: +SKIP
        >>> nest.gather(handles)  # doctest: +SKIP
        [1, 2, 3]
        """
        return self(fn).map(iterable, **kwargs)

    def gather(self, handles: Iterable[Any]) -> list[Any]:
        """The results of spawned children (or of the futures of roots), in order."""
        if isinstance(handles, Mapped):
            return handles.results()
        handles = list(handles)
        if handles and all(isinstance(h, Future) for h in handles):
            return get_client().gather(handles)
        return [h.result() for h in handles]


nest = _NestAPI()
