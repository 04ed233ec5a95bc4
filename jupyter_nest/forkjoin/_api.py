"""``@nest``, ``fn.spawn``, ``nest.map`` and ``nest.gather``: the fork-join API users write."""

from __future__ import annotations

import functools
import uuid
from collections.abc import Callable, Iterable
from typing import Any

from dask.utils import funcname
from distributed import Future

from .. import _dask
from ..runtime import get_client, kernel_client, task_client
from ._spawn import SpawnHandle, TaskContext, local, run_root
from ._states import PENDING, Done, Failed, record

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

    def _submit(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Future:
        if _dask.in_task():
            client = task_client()
        else:
            client = kernel_client(f"{funcname(self.fn)}.spawn(...) outside a task")
        return client.submit(run_root, self.fn, args, kwargs, key=f"{funcname(self.fn)}-{uuid.uuid4().hex}",
                             pure=False)

    def map(self, iterable: Iterable[Any], **kwargs: Any) -> list[Any]:
        """One child per element: ``[self.spawn(x, **kwargs) for x in iterable]``."""
        return [self.spawn(x, **kwargs) for x in iterable]

    def __repr__(self) -> str:
        return f"<nest {funcname(self.fn)}>"

    def __reduce__(self) -> Any:
        return Nest, (self.fn,)


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

    def map(self, fn: Callable[..., Any], iterable: Iterable[Any], **kwargs: Any) -> list[Any]:
        """Spawn ``fn(x, **kwargs)`` for every ``x``: one child per element of a list of any length.

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
        handles = list(handles)
        if handles and all(isinstance(h, Future) for h in handles):
            return get_client().gather(handles)
        return [h.result() for h in handles]


nest = _NestAPI()
