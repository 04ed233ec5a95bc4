"""Per worker: the tasks running ``@nest`` code there, and the children they offered or lent to others."""

from __future__ import annotations

import concurrent.futures
import os
import threading
import weakref
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import distributed
from distributed import Worker

from .. import _dask, config
from ..runtime import task_client
from ._states import CLAIMED, LENT, OFFERED, RunnerGone, settle

if TYPE_CHECKING:
    from ._spawn import SpawnHandle, TaskContext


def _exists(thread: threading.Thread) -> bool:
    """Whether ``thread`` is still an OS thread of this process.

    ``is_alive()`` turns False before the OS thread has exited (CPython still
    tears the thread down after it); on a busy machine that can take
    milliseconds, in which the process has one thread more than ``is_alive``
    counts. Linux lists a process's live threads in ``/proc/self/task``.
    """
    if thread.is_alive():
        return True
    return thread.native_id is not None and os.path.exists(f"/proc/self/task/{thread.native_id}")


class WorkerLedger:
    """What one worker's ``@nest`` tasks have going on, for the RPC handlers and the monitor.

    ``contexts`` holds the task contexts running nest code here, by task key;
    ``handed_out`` the children offered (as Dask tasks) or lent (to a waiting
    task) by id, until their parent gets them back; ``seceded`` holds the
    threads of this process that gave their slot up (at most ``forkjoin.max-seceded``).
    """

    def __init__(self, worker: Worker) -> None:
        self.worker = worker
        self.address = worker.address
        self.lock = threading.Lock()
        self.contexts: dict[Any, TaskContext] = {}
        self.handed_out: dict[int, SpawnHandle] = {}
        self.seceded: list[threading.Thread] = []
        self.lent = 0  # children this worker lent to tasks waiting on its work, ever (for diagnostics)
        self.gone: set[str] = set()  # workers that left the cluster
        # read once per worker: spawns, offers and waits are too frequent to parse the config each time
        self.max_seceded = config.get("forkjoin.max-seceded")
        self.defer_depth = config.get("forkjoin.defer-depth")
        self.offer_batch = config.get("forkjoin.offer-batch")
        self.borrow_poll = config.seconds("forkjoin.borrow-poll")
        self.on_work: Callable[[], None] | None = None  # set by the balancer's worker plugin
        self._ids = iter(range(1, 1 << 62))

    def next_id(self) -> int:
        """A new id for a child handed out (call under ``lock``)."""
        return next(self._ids)

    def client(self) -> distributed.Client:
        return task_client()

    def try_secede(self) -> bool:
        """Take a seceding permit of this process for the calling thread, if one is free.

        A permit comes free when the thread that held it has ended, not when its
        task has: the thread still runs Dask's code after the task, and a thread
        seceding meanwhile would make the pool start one thread too many.
        """
        with self.lock:
            self.seceded = [thread for thread in self.seceded if _exists(thread)]
            if len(self.seceded) >= self.max_seceded:
                return False
            self.seceded.append(threading.current_thread())
            return True

    def claim(self, offer_id: int, key: Any, address: str) -> bool:
        """A thief starting an offered child asks for it; False when its parent took it back."""
        with self.lock:
            item = self.handed_out.get(offer_id)
            if item is None:
                return False
            if item.state is OFFERED:
                item.state = CLAIMED
                item.runner_key, item.runner_address = key, address
                return True
            return item.state is CLAIMED and item.runner_key == key  # Dask reran the thief

    def request(self, target: str, n: int) -> int:
        """The balancer asks for children for ``n`` idle slots on ``target``; how many tasks will look.

        Tasks with pending children are asked first; then tasks that are running,
        which can defer their next spawn and offer that. A task blocked on a child
        comes last: it spawns nothing until that child is done.
        """
        contexts = sorted(self.contexts.values(), key=lambda c: (not c.has_pending(), c.waiting))[:n]
        for ctx in contexts:
            ctx.requests.append(target)
            ctx.needs_service = True
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
        ctx.needs_service = True
        return request

    def deliver(self, lend_id: int, value: Any = None, error: BaseException | None = None) -> None:
        """The value (or error) of a lent child, from the task that ran it."""
        with self.lock:
            item = self.handed_out.pop(lend_id, None)
        if item is not None and item.state is LENT:
            settle(item.future, value, error)

    def worker_left(self, address: str) -> None:
        """A worker left the cluster: children lent to it will never come back."""
        with self.lock:
            self.gone.add(address)
            lent = [item for item in self.handed_out.values()
                    if item.state is LENT and item.runner_address == address]
        for item in lent:
            settle(item.future, None, RunnerGone(address))

    def working(self) -> bool:
        """Whether nest tasks run here, which can offer children when asked."""
        return bool(self.contexts)

    def cancel(self, key: Any) -> None:
        ctx = self.contexts.get(key)
        if ctx is not None:
            ctx.cancelled = True
            ctx.needs_service = True
            # Whoever runs a lent child may be gone with the rest of this tree: stop waiting for it.
            error = _dask.FutureCancelledError(key, reason="cancelled", msg="its task was cancelled")
            for item in list(ctx.items):
                if item.state is LENT:
                    settle(item.future, None, error)

    def inline_counts(self) -> dict[Any, int]:
        """Children each nest task here ran in its own thread, by task key."""
        return {key: ctx.inline for key, ctx in list(self.contexts.items())}


_ledgers: weakref.WeakKeyDictionary[Worker, WorkerLedger] = weakref.WeakKeyDictionary()
_ledgers_lock = threading.Lock()


def ledger_of(worker: Worker) -> WorkerLedger:
    """The fork-join ledger of ``worker`` (one per worker, made on first use)."""
    with _ledgers_lock:
        ledger = _ledgers.get(worker)
        if ledger is None:
            ledger = _ledgers[worker] = WorkerLedger(worker)
        return ledger


def inline_counts(worker: Worker) -> dict[Any, int]:
    """Children each nest task on ``worker`` ran in its own thread (what the monitor shows per slot)."""
    return ledger_of(worker).inline_counts()
