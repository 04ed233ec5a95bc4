"""The spawn state machine: a thread's pending children (:class:`TaskContext`), their handles, and the
Dask tasks that run nest code (a root spawned from the notebook, an offered child).

See ``_states`` for the states a :class:`SpawnHandle` moves through.
"""

from __future__ import annotations

import concurrent.futures
import threading
import uuid
from collections.abc import Callable
from typing import Any, cast

import dask
import distributed
from dask.utils import funcname

from .. import _dask
from .._wire import CALL_ANNOTATION, PARENT_ANNOTATION
from ..runtime import holding_slot
from ._ledger import WorkerLedger, ledger_of
from ._lending import borrow, claim, run_lent
from ._states import (
    DONE,
    ELSEWHERE,
    FAILED,
    LENT,
    OFFERED,
    PENDING,
    RUNNING,
    RunnerGone,
    chain_note,
    record,
)


class TaskContext:
    """The pending children of one thread: a Dask task running nest code, or a plain call."""

    __slots__ = (
        "cancelled",
        "defer_depth",
        "depth",
        "inline",
        "items",
        "key",
        "ledger",
        "lends",
        "needs_service",
        "requests",
        "waiting",
    )

    def __init__(self, key: Any = None, ledger: WorkerLedger | None = None) -> None:
        self.items: list[SpawnHandle] = []
        # Only a plain call (no task, no worker) has no ledger; it never serves, offers or lends.
        self.ledger = cast(WorkerLedger, ledger)
        # The next spawn must take the slow path (serve): cancelled, or offers or lends wanted.
        self.needs_service = False
        self.depth = 0
        self.defer_depth = ledger.defer_depth if ledger is not None else 0
        self.key = key
        self.requests: list[str] = []  # idle slots (worker addresses) asking for children
        self.cancelled = False
        self.inline = 0
        self.waiting = False  # blocked on a child that another slot runs
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
            record(error, fn, args, kwargs)
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
                self.ledger.handed_out.pop(item.offer_id, None)

    def serve(self, spawned: SpawnHandle) -> SpawnHandle:
        """Lend and offer our oldest pending children to those who asked (in the owner thread).

        Called by a spawn while offers are wanted, with the child it just deferred:
        deep in a recursion, where spawns otherwise run at once, that child may be
        the only pending one.
        """
        if self.cancelled:
            raise _dask.FutureCancelledError(self.key, reason="cancelled", msg="its root was cancelled")
        requests, self.requests = self.requests, []
        lends, self.lends = self.lends, []
        self.needs_service = False
        for request, to, waiter in lends:
            if request.set_running_or_notify_cancel():  # False: the borrower stopped waiting
                item = next((i for i in self.items if i.state is PENDING), None)
                request.set_result(None if item is None else item.lend(self, to, waiter))
        pending = [i for i in self.items if i.state is PENDING]
        batch = self.ledger.offer_batch
        for n, target in enumerate(requests):
            # several per idle slot: a thief then finds its next child queued where it
            # runs, instead of waiting a round trip for it (a parent takes back what it
            # needs first, so offering too much costs nothing but the offer)
            for item in pending[n * batch:(n + 1) * batch]:
                item.offer(self, target)
        return spawned


class SpawnHandle:
    """The handle of a spawned child: ``result()`` runs it inline, takes it back, or waits for it.

    ``runner_key`` and ``runner_address`` name the task and worker running it
    elsewhere (CLAIMED or LENT); ``offer_id`` is its id in its ledger's ``handed_out``.
    """

    __slots__ = (
        "args",
        "ctx",
        "fn",
        "future",
        "kwargs",
        "offer_id",
        "runner_address",
        "runner_key",
        "state",
        "value",
    )
    fn: Callable[..., Any]
    args: tuple[Any, ...]
    kwargs: dict[str, Any]
    state: str
    value: Any
    ctx: TaskContext
    future: Any  # a distributed.Future (offered, claimed) or a concurrent.futures.Future (lent)
    offer_id: int
    runner_key: Any
    runner_address: str

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
        """Submit this pending child as a Dask task aimed at an idle slot of worker ``target``."""
        ledger = ctx.ledger
        with ledger.lock:
            self.offer_id = ledger.next_id()
            self.state = OFFERED
            ledger.handed_out[self.offer_id] = self
        key = f"{funcname(self.fn)}-{uuid.uuid4().hex}"
        call = _dask.short_call(funcname(self.fn), self.args, self.kwargs)  # not run_offered(...)
        with dask.annotate(**{PARENT_ANNOTATION: ctx.key, CALL_ANNOTATION: call}):
            self.future = ledger.client().submit(
                run_offered, ledger.address, self.offer_id, self.fn, self.args, self.kwargs,
                key=key, workers=[target], allow_other_workers=True, pure=False,
            )

    def lend(self, ctx: TaskContext, to: str, waiter: Any) -> _dask.ToPickle:
        """Hand this pending child to the task ``waiter`` on worker ``to``, which runs it in its thread."""
        ledger = ctx.ledger
        with ledger.lock:
            self.offer_id = ledger.next_id()
            ledger.lent += 1
            self.state, self.runner_key, self.runner_address = LENT, waiter, to
            self.future = concurrent.futures.Future()
            ledger.handed_out[self.offer_id] = self
        return _dask.ToPickle((self.offer_id, self.fn, self.args, self.kwargs))

    def take_back(self) -> bool:
        """Withdraw an offer nobody claimed yet; False when a thief already runs it."""
        ledger = self.ctx.ledger
        with ledger.lock:
            if self.state is not OFFERED:
                return False
            self.state = PENDING
            ledger.handed_out.pop(self.offer_id, None)
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
        ledger = ctx.ledger
        in_slot = _dask.in_pool_thread()
        ctx.waiting = True
        runner_gone = False
        try:
            with holding_slot():
                if in_slot:
                    # Borrowing hands work over faster than offers through the scheduler do, and
                    # keeps this slot on the subtree we wait for; give the slot up only when the
                    # thief has nothing to lend.
                    self._borrow_while_waiting(until_none=True)
                    in_slot = _dask.in_pool_thread()  # a borrowed child's own wait may have seceded us
                    if not future.done() and in_slot and ledger.try_secede():
                        # Free the slot for offers aimed here; never rejoin: rejoining
                        # would wait for a whole stolen subtree to end first. The thread
                        # lives on outside the pool until the task ends, and its permit
                        # until the thread ends: a second seceded thread would break the
                        # thread bound.
                        distributed.secede()
                    elif in_slot:
                        self._borrow_while_waiting(until_none=False)
                value = future.result()
        except RunnerGone:
            runner_gone = True
        except BaseException as error:
            self.state, self.value = FAILED, error
            raise
        finally:
            ctx.waiting = False
            with ledger.lock:
                ledger.handed_out.pop(self.offer_id, None)
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
        ctx, future, ledger = self.ctx, self.future, self.ctx.ledger
        poll = ledger.borrow_poll
        while not future.done():
            if self.runner_address in ledger.gone:
                raise RunnerGone(self.runner_address)
            lent = borrow(self.runner_address, self.runner_key, ctx.key, poll)
            if lent is None:
                if until_none:
                    return
                try:
                    future.result(timeout=poll)
                except Exception:
                    pass  # timed out, or raised: the caller takes the result or the error
            else:
                run_lent(ctx, self.runner_address, *lent)



class _Local(threading.local):
    ctx: TaskContext | None = None  # a class default: reading it costs no getattr() call


local = _Local()  # the TaskContext of the calling thread, while it runs nest code


def enter(key: Any) -> TaskContext:
    """Start the context of the Dask task ``key`` in this thread."""
    worker = distributed.get_worker()
    ledger = ledger_of(worker)
    ledger.client()  # connect now, from a task thread: offers are made from here too
    ctx = TaskContext(key, ledger)
    ledger.contexts[key] = ctx
    local.ctx = ctx
    if ledger.on_work is not None:
        worker.loop.add_callback(ledger.on_work)  # tell the balancer now, not at its next poll
    return ctx


def leave(ctx: TaskContext) -> None:
    local.ctx = None
    ctx.ledger.contexts.pop(ctx.key, None)


def run_root(fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """The Dask task of a root spawned from the notebook."""
    ctx = enter(_dask.task_key())
    try:
        return ctx.run(fn, args, kwargs)
    except BaseException as error:
        chain_note(error)
        raise
    finally:
        leave(ctx)


def run_offered(owner: str, offer_id: int, fn: Callable[..., Any], args: tuple[Any, ...],
                kwargs: dict[str, Any]) -> Any:
    """The Dask task of an offered child: claim it from its owner, then run it here."""
    key = _dask.task_key()
    if not claim(owner, offer_id, key):
        return None  # taken back by its parent, who no longer waits for this task
    ctx = enter(key)
    try:
        return ctx.run(fn, args, kwargs)
    finally:
        leave(ctx)
