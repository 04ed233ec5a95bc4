"""Children crossing between workers, from the task threads' side: claiming an offer, borrowing, returning.

The other side of each call is a handler of the balancer's worker plugin
(``_balancer.OfferPlugin``), which hands it to the owner's :class:`~._ledger.WorkerLedger`.
Between two tasks of one worker the ledger is called directly.
"""

from __future__ import annotations

import concurrent.futures
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import distributed

from .. import _dask
from .._wire import CLAIM_HANDLER, LEND_HANDLER, RETURN_HANDLER
from ._ledger import ledger_of
from ._states import call_repr

if TYPE_CHECKING:
    from ._spawn import TaskContext


def claim(owner: str, offer_id: int, key: Any) -> bool:
    """Claim offered child ``offer_id`` of worker ``owner`` for task ``key`` here; False when it was taken back."""
    worker = distributed.get_worker()
    if owner == worker.address:
        return ledger_of(worker).claim(offer_id, key, owner)
    ledger = ledger_of(worker)
    try:
        return _dask.call_from_task(worker, owner, CLAIM_HANDLER, gone=lambda: owner in ledger.gone,
                                    offer_id=offer_id, key=key, address=worker.address)
    except OSError:
        return False  # the owner is gone: its task will be rerun and spawn anew


def borrow(runner: str, key: Any, waiter: Any, wait: float) -> tuple[Any, ...] | None:
    """One pending child of task ``key`` on worker ``runner``, for task ``waiter`` here; None if none."""
    worker = distributed.get_worker()
    if runner == worker.address:
        request = ledger_of(worker).ask_lend(key, runner, waiter)
        if request is None:
            return None
        try:
            lent = request.result(timeout=wait)
        except concurrent.futures.TimeoutError:
            if request.cancel():
                return None
            lent = request.result()
        return None if lent is None else lent.data
    ledger = ledger_of(worker)
    try:
        return _dask.call_from_task(worker, runner, LEND_HANDLER, gone=lambda: runner in ledger.gone,
                                    key=key, to=worker.address, waiter=waiter, wait=wait)
    except OSError:
        return None  # unreachable now; if it left the cluster, the scheduler says so (worker_left)


def run_lent(ctx: TaskContext, owner: str, lend_id: int, fn: Callable[..., Any], args: tuple[Any, ...],
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
    ledger = ledger_of(worker)
    if owner == worker.address:
        ledger.deliver(lend_id, **reply)
        return
    if owner in ledger.gone:
        return  # its task is rerun, and spawns this child anew
    def gone() -> bool:
        return owner in ledger.gone

    try:
        _dask.call_from_task(worker, owner, RETURN_HANDLER, gone=gone, lend_id=lend_id,
                             **{k: _dask.ToPickle(v) for k, v in reply.items()})
    except OSError:
        pass  # the owner is gone: its task is rerun, and spawns this child anew
    except Exception as error:  # the value (or error) does not pickle
        failure = RuntimeError(
            f"jupyter_nest: the result of {call_repr(fn, args, kwargs)} could not be sent back: {error!r}")
        try:
            _dask.call_from_task(worker, owner, RETURN_HANDLER, gone=gone, lend_id=lend_id,
                                 error=_dask.ToPickle(failure))
        except OSError:
            pass
