"""``@nest``: fork-join recursion that never deadlocks, keeps threads bounded and runs near native speed.

A spawn inside a task does not become a Dask task. It becomes a small object in
the spawning thread's list of pending children (lazy task creation, Mohr, Kranz
& Halstead 1991), and the parent runs it inline when it asks for its result
(Cilk's work-first principle). Below ``jupyter-nest.forkjoin.defer-depth``
levels a spawn runs at once, so the bulk of a recursion costs little more than
plain calls. Only when a slot somewhere in the cluster is idle does a child
leave its thread: the balancer (``balancer.py``) asks a worker with pending
children to *offer* its oldest one (the biggest subtree) as a Dask task aimed at
the idle slot. The thief claims the offer when it starts; a parent that needs a
child still unclaimed takes it back and runs it inline. A parent that must wait
for a stolen child borrows the oldest pending children of the thief's task and
runs them in its own thread, sending each value back (leapfrogging, as in Wagner
& Calder 1993 and Java's ForkJoinPool): its slot keeps working on the very
subtree it waits for. When the thief has nothing to lend, the parent gives its
slot up (secedes), unless another thread of its process has already; then it
keeps asking. So:

- nobody ever waits on a child that is not running: no deadlock, on any cluster
  down to 1 worker x 1 thread;
- waiting on a child that runs elsewhere secedes at most one thread per
  process, and never rejoins (the task finishes outside the pool): threads stay
  within nthreads + 4 per worker process;
- offered children are Dask tasks, with lineage, cancellation and the slot
  view; children run inline are counted per task.

Keys and purity: every root spawned from the notebook and every offered child is
a new Dask task with a unique key (``pure=False``): spawns are calls, never
deduplicated. If a worker dies, Dask reruns its lost tasks: a root or an offered
child runs again from the start and spawns its children anew.
"""

from __future__ import annotations

import concurrent.futures
import functools
import reprlib
import threading
import uuid
import weakref
from collections.abc import Callable, Iterable
from typing import Any

import dask
import distributed
from dask.utils import funcname
from distributed import Future, Worker
from distributed.client import FutureCancelledError
from distributed.protocol.serialize import ToPickle
from distributed.utils import sync
from distributed.worker import thread_state

from . import config
from .client import holding_slot, in_pool_thread

PENDING, RUNNING, DONE, FAILED, OFFERED, CLAIMED = "pending", "running", "done", "failed", "offered", "claimed"
LENT = "lent"  # run by a waiting task elsewhere, which sends the value back
ELSEWHERE = (CLAIMED, LENT)

class _Local(threading.local):
    ctx: TaskContext | None = None  # a class default: reading it costs no getattr() call


_local = _Local()
_new = object.__new__
_short = reprlib.Repr()
_short.maxstring = _short.maxother = 24
_short.maxlist = _short.maxtuple = 3


def _call_repr(fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any] | None) -> str:
    parts = [_short.repr(a) for a in args] + [f"{k}={_short.repr(v)}" for k, v in (kwargs or {}).items()]
    return f"{funcname(fn)}({', '.join(parts)})"


def _record(error: BaseException, fn: Callable[..., Any], args: tuple[Any, ...], kwargs: Any) -> None:
    """Remember, innermost first, the spawned calls an error passes through (error path only)."""
    calls = error.__dict__.setdefault("_nest_calls", [])
    calls.append(_call_repr(fn, args, kwargs))


def _chain_note(error: BaseException) -> None:
    calls = error.__dict__.get("_nest_calls")
    if not calls or len(calls) < 2:
        return
    note = (f"jupyter_nest: raised {len(calls) - 1} spawn level(s) down, root first:\n  "
            + " -> ".join(reversed(calls)))
    notes = getattr(error, "__notes__", [])
    error.__notes__ = [n for n in notes if not n.startswith("jupyter_nest: raised ") or "spawn" not in n] + [note]


class _Done:
    """The handle of a child that already ran (spawned below the defer depth)."""

    __slots__ = ("value",)

    def result(self) -> Any:
        return self.value

    def done(self) -> bool:
        return True


class _Failed:
    __slots__ = ("error",)

    def result(self) -> Any:
        raise self.error

    def done(self) -> bool:
        return True


class Runtime:
    """Per worker: the task contexts running nest code, and the children offered to other slots."""

    def __init__(self, worker: Worker) -> None:
        self.worker = worker
        self.address = worker.address
        self.lock = threading.Lock()
        self.contexts: dict[Any, TaskContext] = {}
        self.offers: dict[int, Spawned] = {}
        self.seceded = 0
        self.lent = 0  # children this worker lent to tasks waiting on its work, ever (for diagnostics)
        self.gone: set[str] = set()  # workers that left the cluster
        # read once per worker: spawns, offers and waits are too frequent to parse the config each time
        self.max_seceded = config.get("forkjoin.max-seceded")
        self.defer_depth = config.get("forkjoin.defer-depth")
        self.offer_batch = config.get("forkjoin.offer-batch")
        self.borrow_poll = config.seconds("forkjoin.borrow-poll")
        self.on_work: Callable[[], None] | None = None  # set by the balancer's worker plugin
        self._ids = iter(range(1, 1 << 62))

    def client(self) -> distributed.Client:
        from .runtime import get_client

        return get_client()

    def try_secede(self) -> bool:
        """Take the one seceding permit of this process, if it is free."""
        with self.lock:
            if self.seceded >= self.max_seceded:
                return False
            self.seceded += 1
            return True

    def release_secede(self) -> None:
        with self.lock:
            self.seceded -= 1

    def claim(self, offer_id: int, key: Any, address: str) -> bool:
        """A thief starting an offered child asks for it; False when its parent took it back."""
        with self.lock:
            item = self.offers.get(offer_id)
            if item is None:
                return False
            if item.state is OFFERED:
                item.state = CLAIMED
                item.claimer, item.thief = key, address
                return True
            return item.state is CLAIMED and item.claimer == key  # Dask reran the thief

    def request(self, target: str, n: int) -> int:
        """The balancer asks for children for ``n`` idle slots on ``target``; how many tasks will look.

        Tasks with pending children are asked first; then tasks that are running,
        which can defer their next spawn and offer that. A task blocked on a child
        comes last: it spawns nothing until that child is done.
        """
        contexts = sorted(self.contexts.values(), key=lambda c: (not c.has_pending(), c.waiting))[:n]
        for ctx in contexts:
            ctx.requests.append(target)
            ctx.flag = True
        return len(contexts)

    def ask_lend(self, key: Any, to: str, waiter: Any) -> concurrent.futures.Future | None:
        """A task blocked on the child that task ``key`` runs asks for one of that task's pending children.

        The task's own thread answers at its next spawn (only it may take its
        pending children); the future's result is ``None`` when it had none.
        """
        ctx = self.contexts.get(key)
        if ctx is None or ctx.cancelled or ctx.waiting:  # a blocked thread spawns nothing, so cannot answer
            return None
        request: concurrent.futures.Future = concurrent.futures.Future()
        ctx.lends.append((request, to, waiter))
        ctx.flag = True
        return request

    def deliver(self, lend_id: int, value: Any = None, error: BaseException | None = None) -> None:
        """The value (or error) of a lent child, from the task that ran it."""
        with self.lock:
            item = self.offers.pop(lend_id, None)
        if item is not None and item.state is LENT:
            _settle(item.future, value, error)

    def worker_left(self, address: str) -> None:
        """A worker left the cluster: children lent to it will never come back."""
        with self.lock:
            self.gone.add(address)
            lent = [item for item in self.offers.values() if item.state is LENT and item.thief == address]
        for item in lent:
            _settle(item.future, None, _RunnerGone(address))

    def working(self) -> bool:
        """Whether nest tasks run here, which can offer children when asked."""
        return bool(self.contexts)

    def cancel(self, key: Any) -> None:
        ctx = self.contexts.get(key)
        if ctx is not None:
            ctx.cancelled = True
            ctx.flag = True
            # Whoever runs a lent child may be gone with the rest of this tree: stop waiting for it.
            error = FutureCancelledError(key, reason="cancelled", msg="its task was cancelled")
            for item in list(ctx.items):
                if item.state is LENT:
                    _settle(item.future, None, error)

    def inline_counts(self) -> dict[Any, int]:
        return {key: ctx.inline for key, ctx in list(self.contexts.items())}


_runtimes: weakref.WeakKeyDictionary[Worker, Runtime] = weakref.WeakKeyDictionary()
_runtimes_lock = threading.Lock()


def runtime_of(worker: Worker) -> Runtime:
    """The fork-join runtime of ``worker`` (one per worker, made on first use)."""
    with _runtimes_lock:
        rt = _runtimes.get(worker)
        if rt is None:
            rt = _runtimes[worker] = Runtime(worker)
        return rt


class TaskContext:
    """The pending children of one thread: a Dask task running nest code, or a plain call."""

    __slots__ = ("items", "flag", "depth", "defer_depth", "key", "runtime", "requests", "cancelled", "inline",
                 "waiting", "lends", "seceded")

    def __init__(self, key: Any = None, runtime: Runtime | None = None) -> None:
        self.items: list[Spawned] = []
        self.flag = False  # set when a spawn must take the slow path: cancelled, or offers wanted
        self.depth = 0
        self.defer_depth = runtime.defer_depth if runtime is not None else 0
        self.key = key
        self.runtime = runtime
        self.requests: list[str] = []
        self.cancelled = False
        self.inline = 0
        self.waiting = False  # blocked on a child that another slot runs
        self.seceded = False  # this task's thread left the pool, holding the process's permit
        self.lends: list[tuple[concurrent.futures.Future, str, Any]] = []

    def has_pending(self) -> bool:
        return any(item.state is PENDING for item in list(self.items))

    def run(self, fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any] | None) -> Any:
        """Run a call whose own spawns are deferred, then join whatever it left unjoined."""
        items = self.items
        mark = len(items)
        self.depth += 1
        try:
            value = fn(*args, **kwargs) if kwargs else fn(*args)
        except BaseException as error:
            self.depth -= 1
            self.abandon(mark)
            _record(error, fn, args, kwargs)
            raise
        self.depth -= 1
        if len(items) > mark:
            self.finish(mark)
        return value

    def finish(self, mark: int) -> None:
        """Join the children a call spawned but did not join, and drop its joined ones."""
        items = self.items
        while len(items) > mark:
            item = items[-1]
            if item.state is PENDING or item.state is OFFERED or item.state in ELSEWHERE:
                item.result()
            items.pop()

    def abandon(self, mark: int) -> None:
        """A call raised: its unjoined children will never be needed."""
        items = self.items
        while len(items) > mark:
            item = items.pop()
            if item.state is OFFERED:
                item.take_back()
            elif item.state is LENT:
                self.runtime.offers.pop(item.offer_id, None)

    def serve(self, spawned: Spawned) -> Spawned:
        """Lend and offer our oldest pending children to those who asked (in the owner thread).

        Called by a spawn while offers are wanted, with the child it just deferred:
        deep in a recursion, where spawns otherwise run at once, that child may be
        the only pending one.
        """
        if self.cancelled:
            raise FutureCancelledError(self.key, reason="cancelled", msg="its root was cancelled")
        requests, self.requests = self.requests, []
        lends, self.lends = self.lends, []
        self.flag = False
        for request, to, waiter in lends:
            if request.set_running_or_notify_cancel():  # False: the borrower stopped waiting
                item = next((i for i in self.items if i.state is PENDING), None)
                request.set_result(None if item is None else item.lend(self, to, waiter))
        pending = [i for i in self.items if i.state is PENDING]
        batch = self.runtime.offer_batch
        for n, target in enumerate(requests):
            # several per idle slot: a thief then finds its next child queued where it
            # runs, instead of waiting a round trip for it (a parent takes back what it
            # needs first, so offering too much costs nothing but the offer)
            for item in pending[n * batch:(n + 1) * batch]:
                item.offer(self, target)
        return spawned


class Spawned:
    """The handle of a spawned child: ``result()`` runs it inline, takes it back, or waits for it."""

    __slots__ = ("fn", "args", "kwargs", "state", "value", "ctx", "future", "offer_id", "claimer", "thief")

    def result(self) -> Any:
        """The child's value (or its exception), running it here if nobody else has started it."""
        state = self.state
        if state is PENDING:
            self.state = RUNNING
            try:
                value = self.ctx.run(self.fn, self.args, self.kwargs)
            except BaseException as error:
                self.state, self.value = FAILED, error
                raise
            self.state, self.value = DONE, value
            return value
        if state is DONE:
            return self.value
        if state is FAILED:
            raise self.value
        if state is OFFERED and self.take_back():
            return self.result()
        return self._wait_remote()

    def done(self) -> bool:
        return self.state is DONE or self.state is FAILED or (
            self.state in ELSEWHERE and self.future is not None and self.future.done())

    def offer(self, ctx: TaskContext, target: str) -> None:
        rt = ctx.runtime
        with rt.lock:
            self.offer_id = next(rt._ids)
            self.state = OFFERED
            rt.offers[self.offer_id] = self
        key = f"{funcname(self.fn)}-{uuid.uuid4().hex}"
        with dask.annotate(nest_parent=ctx.key):
            self.future = rt.client().submit(
                _run_offered, rt.address, self.offer_id, self.fn, self.args, self.kwargs,
                key=key, workers=[target], allow_other_workers=True, pure=False,
            )

    def lend(self, ctx: TaskContext, to: str, waiter: Any) -> ToPickle:
        """Hand this pending child to the task ``waiter`` on worker ``to``, which runs it in its thread."""
        rt = ctx.runtime
        with rt.lock:
            self.offer_id = next(rt._ids)
            rt.lent += 1
            self.state, self.claimer, self.thief = LENT, waiter, to
            self.future = concurrent.futures.Future()
            rt.offers[self.offer_id] = self
        return ToPickle((self.offer_id, self.fn, self.args, self.kwargs))

    def take_back(self) -> bool:
        """Withdraw an offer nobody claimed yet; False when a thief already runs it."""
        rt = self.ctx.runtime
        with rt.lock:
            if self.state is not OFFERED:
                return False
            self.state = PENDING
            rt.offers.pop(self.offer_id, None)
        self.future = None  # releasing the Dask task: if it starts, its claim fails
        return True

    def _wait_remote(self) -> Any:
        """The child runs in another slot: run our own pending children, then borrow the thief's, then wait."""
        ctx = self.ctx
        future = self.future
        while not future.done():
            helper = next((i for i in reversed(ctx.items) if i.state is PENDING), None)
            if helper is None:
                break
            try:
                helper.result()
            except BaseException:
                pass  # kept in the helper; raised again when its parent joins it
        rt = ctx.runtime
        in_slot = in_pool_thread()
        ctx.waiting = True
        runner_gone = False
        try:
            with holding_slot():
                if in_slot:
                    # Borrowing hands work over faster than offers through the scheduler do, and
                    # keeps this slot on the subtree we wait for; give the slot up only when the
                    # thief has nothing to lend.
                    self._borrow_while_waiting(until_none=True)
                    in_slot = in_pool_thread()  # a borrowed child's own wait may have seceded us
                    if not future.done() and in_slot and rt.try_secede():
                        # Free the slot for offers aimed here; never rejoin: rejoining
                        # would wait for a whole stolen subtree to end first. The thread
                        # lives on outside the pool until the task ends, and so does its
                        # permit: a second seceded thread would break the thread bound.
                        ctx.seceded = True
                        distributed.secede()
                    elif in_slot:
                        self._borrow_while_waiting(until_none=False)
                value = future.result()
        except _RunnerGone:
            runner_gone = True
        except BaseException as error:
            self.state, self.value = FAILED, error
            raise
        finally:
            ctx.waiting = False
            with rt.lock:
                rt.offers.pop(self.offer_id, None)
        if runner_gone:
            # Its worker died. Dask would rerun a stolen child, but perhaps in the
            # very slot this thread holds, and nobody reruns a lent one: run it here.
            self.state, self.future = PENDING, None
            return self.result()
        self.state, self.value, self.future = DONE, value, None
        return value

    def _borrow_while_waiting(self, until_none: bool) -> None:
        """Keep this slot busy with the pending children of whoever runs this child, until it is done
        (or, ``until_none``, until there is nothing to borrow)."""
        ctx, future, rt = self.ctx, self.future, self.ctx.runtime
        poll = rt.borrow_poll
        while not future.done():
            if self.thief in rt.gone:
                raise _RunnerGone(self.thief)
            lent = _borrow(self.thief, self.claimer, ctx.key, poll)
            if lent is None:
                if until_none:
                    return
                try:
                    future.result(timeout=poll)
                except Exception:
                    pass  # timed out, or raised: the caller takes the result or the error
            else:
                _run_lent(ctx, self.thief, *lent)


class _RunnerGone(Exception):
    """The worker running a stolen or lent child left the cluster."""


def _settle(future: concurrent.futures.Future, value: Any, error: BaseException | None) -> None:
    try:
        if error is None:
            future.set_result(value)
        else:
            future.set_exception(error)
    except concurrent.futures.InvalidStateError:
        pass  # settled already: cancelled, or delivered


def _borrow(thief: str, key: Any, waiter: Any, wait: float) -> tuple[Any, ...] | None:
    """One pending child of task ``key`` on worker ``thief``, for task ``waiter`` here; None if none."""
    worker = distributed.get_worker()
    if thief == worker.address:
        request = runtime_of(worker).ask_lend(key, thief, waiter)
        if request is None:
            return None
        try:
            lent = request.result(timeout=wait)
        except concurrent.futures.TimeoutError:
            if request.cancel():
                return None
            lent = request.result()
        return None if lent is None else lent.data
    try:
        return sync(worker.loop, worker.rpc(thief).nest_lend, key=key, to=worker.address, waiter=waiter, wait=wait)
    except OSError:
        return None  # unreachable now; if it left the cluster, the scheduler says so (worker_left)


def _run_lent(ctx: TaskContext, owner: str, lend_id: int, fn: Callable[..., Any], args: tuple[Any, ...],
              kwargs: dict[str, Any] | None) -> None:
    """Run a borrowed child in this thread, as a root of its own (it may be split again), and send its value back."""
    depth, ctx.depth, ctx.waiting = ctx.depth, 0, False
    try:
        reply = {"value": ctx.run(fn, args, kwargs)}
    except BaseException as error:
        reply = {"error": error}
    finally:
        ctx.depth, ctx.waiting = depth, True
    worker = distributed.get_worker()
    rt = runtime_of(worker)
    if owner == worker.address:
        rt.deliver(lend_id, **reply)
        return
    if owner in rt.gone:
        return  # its task is rerun, and spawns this child anew
    try:
        sync(worker.loop, worker.rpc(owner).nest_return, lend_id=lend_id,
             **{k: ToPickle(v) for k, v in reply.items()})
    except OSError:
        pass  # the owner is gone: its task is rerun, and spawns this child anew
    except Exception as error:  # the value (or error) does not pickle
        failure = RuntimeError(
            f"jupyter_nest: the result of {_call_repr(fn, args, kwargs)} could not be sent back: {error!r}")
        try:
            sync(worker.loop, worker.rpc(owner).nest_return, lend_id=lend_id, error=ToPickle(failure))
        except OSError:
            pass


def _enter(key: Any) -> TaskContext:
    worker = distributed.get_worker()
    rt = runtime_of(worker)
    rt.client()  # connect now, from a task thread: offers are made from here too
    ctx = TaskContext(key, rt)
    rt.contexts[key] = ctx
    _local.ctx = ctx
    if rt.on_work is not None:
        worker.loop.add_callback(rt.on_work)  # tell the balancer now, not at its next poll
    return ctx


def _leave(ctx: TaskContext) -> None:
    _local.ctx = None
    ctx.runtime.contexts.pop(ctx.key, None)
    if ctx.seceded:
        ctx.runtime.release_secede()


def _run_root(fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """The Dask task of a root spawned from the notebook."""
    ctx = _enter(thread_state.key)
    try:
        return ctx.run(fn, args, kwargs)
    except BaseException as error:
        _chain_note(error)
        raise
    finally:
        _leave(ctx)


def _run_offered(owner: str, offer_id: int, fn: Callable[..., Any], args: tuple[Any, ...],
                 kwargs: dict[str, Any]) -> Any:
    """The Dask task of an offered child: claim it from its owner, then run it here."""
    worker = distributed.get_worker()
    key = thread_state.key
    if owner == worker.address:
        claimed = runtime_of(worker).claim(offer_id, key, owner)
    else:
        try:
            claimed = sync(worker.loop, worker.rpc(owner).nest_claim, offer_id=offer_id, key=key,
                           address=worker.address)
        except OSError:
            claimed = False  # the owner is gone: its task will be rerun and spawn anew
    if not claimed:
        return None  # taken back by its parent, who no longer waits for this task
    ctx = _enter(key)
    try:
        return ctx.run(fn, args, kwargs)
    finally:
        _leave(ctx)


class Nest:
    """A function that can spawn itself (and others) as fork-join children. See :func:`nest`."""

    __slots__ = ("fn", "__wrapped__", "__dict__")

    def __init__(self, fn: Callable[..., Any]) -> None:
        self.fn = fn
        functools.update_wrapper(self, fn)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """A plain call: runs here; spawns inside it run here too unless a cluster task runs it."""
        if _local.ctx is not None:
            return self.fn(*args, **kwargs)
        ctx = TaskContext()
        _local.ctx = ctx
        try:
            return ctx.run(self.fn, args, kwargs)
        finally:
            _local.ctx = None

    def spawn(self, *args: Any, **kwargs: Any) -> Any:
        """Start ``fn(*args, **kwargs)`` as a child; call ``.result()`` on the handle to join it.

        Inside a task the child stays in this thread unless an idle slot takes it;
        in the notebook (or a plain Dask task) it becomes a Dask task and the
        handle is its :class:`distributed.Future`.
        """
        ctx = _local.ctx
        if ctx is None:
            return self._submit(args, kwargs)
        if ctx.flag:
            return ctx.serve(self._defer(ctx, args, kwargs))
        if ctx.depth >= ctx.defer_depth:
            ctx.inline += 1
            try:
                done = _new(_Done)
                done.value = self.fn(*args, **kwargs) if kwargs else self.fn(*args)
                return done
            except BaseException as error:
                _record(error, self.fn, args, kwargs)
                failed = _new(_Failed)
                failed.error = error
                return failed
        return self._defer(ctx, args, kwargs)

    def _defer(self, ctx: TaskContext, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Spawned:
        ctx.inline += 1
        item = _new(Spawned)
        item.fn, item.args, item.kwargs, item.state, item.ctx, item.future = self.fn, args, kwargs, PENDING, ctx, None
        ctx.items.append(item)
        return item

    def _submit(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Future:
        from . import cluster
        from .runtime import get_client

        if thread_state.__dict__.get("key") is None:
            cluster.require(f"{funcname(self.fn)}.spawn(...) outside a task")
        client = get_client()
        return client.submit(_run_root, self.fn, args, kwargs, key=f"{funcname(self.fn)}-{uuid.uuid4().hex}",
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
        >>> handles = nest.map(abs, [-1, -2, 3])
        >>> nest.gather(handles)
        [1, 2, 3]
        """
        return self(fn).map(iterable, **kwargs)

    def gather(self, handles: Iterable[Any]) -> list[Any]:
        """The results of spawned children (or of the futures of roots), in order."""
        handles = list(handles)
        if handles and all(isinstance(h, Future) for h in handles):
            from .runtime import get_client

            return get_client().gather(handles)
        return [h.result() for h in handles]


nest = _NestAPI()
