"""Sends idle slots work: the scheduler and worker halves of ``@nest``'s work sharing.

- :class:`OfferPlugin` (worker): tells the scheduler whether fork-join tasks run
  on this worker (when one starts, and on change every
  ``forkjoin.report-interval`` while any do); answers the balancer's requests by
  asking its task threads to offer their oldest children to an idle slot; lets
  thieves claim offers, and tasks blocked on a stolen child borrow the thief's
  pending children and send their values back; and stops the fork-join code of
  a task the scheduler cancelled.
- :class:`BalancerPlugin` (scheduler): whenever a slot frees up (and every
  50 ms), asks a worker running fork-join tasks to offer children to each idle
  slot; tells the workers when one leaves.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from distributed.diagnostics.plugin import SchedulerPlugin, WorkerPlugin
from tornado.ioloop import PeriodicCallback

from .. import _dask, config
from .._wire import (
    BALANCER_PLUGIN,
    CLAIM_HANDLER,
    LEND_HANDLER,
    OFFER_HANDLER,
    OFFER_PLUGIN,
    RETURN_HANDLER,
    WORK_TOPIC,
    WORKER_LEFT_HANDLER,
)
from ._ledger import ledger_of


class OfferPlugin(WorkerPlugin):
    """Worker half of work sharing."""

    name = OFFER_PLUGIN
    idempotent = True

    def setup(self, worker: Any) -> None:
        self.worker = worker
        self.ledger = ledger_of(worker)
        self.reported = False
        self.ledger.on_work = self._wake
        worker.handlers.update({
            OFFER_HANDLER: self.offer,
            CLAIM_HANDLER: self.claim,
            LEND_HANDLER: self.lend,
            RETURN_HANDLER: self.deliver,
            WORKER_LEFT_HANDLER: self.worker_left,
        })
        # Polls only while fork-join tasks run here: other work pays nothing for it.
        self._callback = PeriodicCallback(self._report, config.seconds("forkjoin.report-interval") * 1000)

    def teardown(self, worker: Any) -> None:
        self._callback.stop()

    def _wake(self) -> None:
        """A fork-join task started here: report now, and keep watching until none is left."""
        if not self._callback.is_running():
            self._callback.start()
        self._report()

    def _report(self) -> None:
        working = self.ledger.working()
        if working != self.reported:
            self.reported = working
            self.worker.log_event(WORK_TOPIC, {"address": self.worker.address, "working": working})
        if not working:
            self._callback.stop()

    def offer(self, target: str, n: int) -> int:
        return self.ledger.request(target, n)

    def claim(self, offer_id: int, key: Any, address: str) -> bool:
        return self.ledger.claim(offer_id, key, address)

    async def lend(self, key: Any, to: str, waiter: Any, wait: float) -> _dask.ToPickle | None:
        request = self.ledger.ask_lend(key, to, waiter)
        if request is None:
            return None
        answer = asyncio.wrap_future(request)
        try:
            return await asyncio.wait_for(asyncio.shield(answer), wait)
        except asyncio.TimeoutError:
            if request.cancel():  # not started: the task's thread will skip it
                return None
            return await answer  # its thread is lending now: the borrower must get what it lent

    def deliver(self, lend_id: int, value: Any = None, error: BaseException | None = None) -> None:
        self.ledger.deliver(lend_id, value, error)

    def worker_left(self, address: str) -> None:
        self.ledger.worker_left(address)

    def transition(self, key: Any, start: str, finish: str, **kwargs: Any) -> None:
        if _dask.was_cancelled(self.worker, key, start):
            self.ledger.cancel(key)
        elif start == "executing" and finish == "long-running" and key in self.ledger.contexts:
            # A nest task gave up its slot to wait for a child running elsewhere. The
            # scheduler has no hook for that, so say it: this slot wants work now.
            self.worker.log_event(WORK_TOPIC, {"address": self.worker.address, "working": True, "hungry": 1})


class BalancerPlugin(SchedulerPlugin):
    """Scheduler half of work sharing."""

    name = BALANCER_PLUGIN
    idempotent = True

    def __init__(self) -> None:
        self.donors: set[str] = set()
        self.asked: dict[str, float] = {}
        self._queued = False
        self._sending: set[asyncio.Future] = set()  # kept until done: the loop holds tasks only weakly

    async def start(self, scheduler: Any) -> None:
        self.scheduler = scheduler
        self._callback = PeriodicCallback(self._balance, 50)
        self._callback.start()

    async def close(self) -> None:
        self._callback.stop()

    def log_event(self, topic: str, msg: Any) -> None:
        if topic != WORK_TOPIC:
            return
        if msg.get("hungry"):
            self._ask_for(msg["address"], msg["hungry"], time.monotonic())
        elif msg["working"]:
            self.donors.add(msg["address"])
            self.asked.clear()  # new work: idle slots asked before may get some now
            self._poke()
        else:
            self.donors.discard(msg["address"])

    def remove_worker(self, scheduler: Any, worker: str, **kwargs: Any) -> None:
        self.donors.discard(worker)
        self.asked.pop(worker, None)
        if scheduler.status == _dask.Status.running:
            # Workers cannot see each other leave: a task may wait for a child the leaver ran,
            # or be about to claim one the leaver offered (one message per worker, per worker leaving).
            self._send(self._tell_left(worker, list(scheduler.workers)))

    def transition(self, key: Any, start: str, finish: str, *args: Any, **kwargs: Any) -> None:
        if start == "processing" and self.donors:
            self.asked.clear()  # a slot came free: ask for it now, however recently it was asked for
            self._poke()

    async def _tell_left(self, left: str, workers: list[str]) -> None:
        # return_exceptions: a worker that leaves too will not be waiting for anything
        await asyncio.gather(*(_dask.call(self.scheduler, address, WORKER_LEFT_HANDLER, address=left)
                               for address in workers), return_exceptions=True)

    def _poke(self) -> None:
        if not self._queued:
            self._queued = True
            asyncio.get_running_loop().call_soon(self._balance)

    def _balance(self) -> None:
        self._queued = False
        if not self.donors:
            return
        now = time.monotonic()
        for address, ws in self.scheduler.workers.items():
            free = _dask.free_slots(ws)
            if free <= 0:
                self.asked.pop(address, None)
            else:
                self._ask_for(address, free, now)

    def _ask_for(self, target: str, n: int, now: float) -> None:
        """Ask a worker running nest tasks (another one, if any) for children for ``n`` slots on ``target``."""
        if now - self.asked.get(target, 0) < 0.05:
            return
        donor = next(iter(self.donors - {target} or self.donors), None)
        if donor is None:
            return
        self.asked[target] = now
        self._send(self._ask(donor, target, n))

    def _send(self, call: Any) -> None:
        task = asyncio.ensure_future(call)
        self._sending.add(task)
        task.add_done_callback(self._sending.discard)

    async def _ask(self, donor: str, target: str, n: int) -> None:
        try:
            await _dask.call(self.scheduler, donor, OFFER_HANDLER, target=target, n=n)
        except (OSError, asyncio.TimeoutError):
            self.donors.discard(donor)
