"""Who spawned whom: a scheduler plugin recording the parent of every task submitted from inside a task.

Dask's client sends the key of the submitting task with every graph
(``submitting_task``) but the scheduler keeps it only for priorities. This
plugin keeps it, which gives, for any client (ours or Dask's own
``get_client()``):

- ``nest_tree``: the tree of descendants of a task, with states;
- ``nest_error_chain``: the chain of tasks from a root to the one that raised;
- cancellation of descendants: when a task is cancelled or fails, every
  descendant still pending or running that no live task also asked for is
  cancelled, and anything the task submits afterwards is cancelled on arrival.
  A task merely let go of (released before it finished) keeps its children:
  its thread still holds them, and lets them go when it ends.

It also bounds what the scheduler remembers of finished work: Dask keeps every
span for the scheduler's life, so the plugin drops the oldest finished ones,
keeping as many as Dask keeps computations.
"""

from __future__ import annotations

import asyncio
import contextvars
import time
from collections import OrderedDict
from typing import Any

import dask.config
from dask.utils import key_split
from distributed.diagnostics.plugin import SchedulerPlugin

from .. import _dask
from .._wire import (
    ADOPT_HANDLER,
    ALSO_PARENT_HANDLER,
    ERROR_CHAIN_HANDLER,
    LATEST_TREE_HANDLER,
    LINEAGE_PLUGIN,
    PARENT_ANNOTATION,
    TREE_CLIENT_NAMES,
    TREE_HANDLER,
    ErrorLink,
    Hidden,
    TreeNode,
)

# Seconds between looks for finished spans to drop, and how long ago a span must have stopped: a
# worker's metrics heartbeat (every 0.5-5 s) may still name it until then.
SPANS_CHECK_INTERVAL = 10.0
SPANS_MIN_AGE = 60.0

_submitting_task: contextvars.ContextVar[Any] = contextvars.ContextVar("nest_submitting_task", default=None)
class LineagePlugin(SchedulerPlugin):
    """Record parents, answer tree and error-chain queries, cancel descendants of dead tasks.

    Parameters
    ----------
    max_tasks : int
        How many finished tasks to remember; the oldest are forgotten first.
    max_trees : int
        How many trees to remember once they finish, the newest: older
        finished trees are forgotten whole. A task with no parent and no
        children is a tree of one, remembered among as many others.

    Examples
    --------
    >>> client.register_plugin(LineagePlugin())  # doctest: +SKIP
    """

    name = LINEAGE_PLUGIN
    idempotent = True

    def __init__(self, max_tasks: int = 200_000, max_trees: int = 100) -> None:
        self.max_tasks = max_tasks
        self.max_trees = max_trees
        self.parent: dict[Any, Any] = {}
        # Pure keys are shared: two tasks (of one worker's client, so Dask cannot tell them apart) may
        # submit the same child. Its later parents, kept so it lives while any of them does.
        self.more_parents: dict[Any, set[Any]] = {}
        self.owner: dict[Any, str] = {}  # the client that submitted each child
        self.children: dict[Any, list[Any]] = {}
        # How tasks ended: ``outcome`` while the scheduler still holds them,
        # ``final`` (bounded, oldest dropped first) once it has forgotten them.
        self.outcome: dict[Any, str] = {}
        self.final: OrderedDict[Any, str] = OrderedDict()
        self.lone: OrderedDict[Any, str] = OrderedDict()  # how tasks with no lineage ended, newest last
        self.calls: dict[Any, str] = {}
        self.roots: OrderedDict[Any, None] = OrderedDict()  # tasks with children and no parent, newest last
        self.scheduler: Any = None
        self._unhook: Any = None
        self._spans_checked = 0.0

    async def start(self, scheduler: Any) -> None:
        self.scheduler = scheduler
        self._unhook = _dask.hook_update_graph(scheduler, _submitting_task)
        scheduler.handlers.update({
            TREE_HANDLER: self.tree,
            ERROR_CHAIN_HANDLER: self.error_chain,
            ADOPT_HANDLER: self.adopt,
            LATEST_TREE_HANDLER: self.latest_tree,
        })
        scheduler.stream_handlers[ALSO_PARENT_HANDLER] = self.also_parent

    async def close(self) -> None:
        if self._unhook is not None:
            self._unhook()

    def update_graph(self, scheduler: Any, *, client: str, tasks: list[Any],
                     annotations: dict[str, dict[Any, Any]], **kwargs: Any) -> None:
        # Work offered by @nest is submitted off the task's thread and names its parent itself.
        named = annotations.get(PARENT_ANNOTATION, {})
        parent = _submitting_task.get() or next(iter(named.values()), None)
        if parent is None:
            return
        if parent in self.lone:  # its submissions arrived after it was forgotten: a tree after all
            self.final[parent] = self.lone.pop(parent)
        if parent not in self.parent:
            self.roots[parent] = None
            self.roots.move_to_end(parent)
            while len(self.roots) > self.max_trees:
                self._forget_tree(self.roots.popitem(last=False)[0])
        siblings = self.children.setdefault(parent, [])
        # A graph also names keys that exist already: ones a client outside the tree holds (the
        # task resubmitted them, or depends on them). Those are not the task's to own or cancel.
        owned = [k for k in tasks if k != parent and not _dask.held_outside(scheduler, k, client, TREE_CLIENT_NAMES)]
        for key in owned:
            if key not in self.parent:
                self.parent[key] = parent
                self.owner[key] = client
                siblings.append(key)
            else:
                self.also_parent(key, parent)
        # A task's submissions may arrive after it finished (they travel on another connection),
        # so only a parent that was cancelled or failed disowns them.
        if self.state(parent) in ("cancelled", "erred"):
            asyncio.get_running_loop().call_soon(self._cancel, owned, parent)

    def also_parent(self, key: Any, parent: Any, client: str | None = None) -> None:
        """Task ``parent`` also submitted ``key``, which an earlier task submitted first."""
        first = self.parent.get(key)
        if first is None or first == parent or parent in self.more_parents.get(key, ()):
            return
        self.more_parents.setdefault(key, set()).add(parent)
        self.children.setdefault(parent, []).append(key)

    def transition(self, key: Any, start: str, finish: str, *args: Any, **kwargs: Any) -> None:
        if finish == "erred":
            ts = self.scheduler.tasks.get(key)
            if ts is not None:
                self.calls[key] = _dask.task_call(ts, key_split(key))
            self.outcome[key] = "erred"
            self._cancel(self.children.get(key, ()), key)
        elif finish == "memory":
            self.outcome[key] = "finished"
        elif finish == "forgotten":
            outcome = self.outcome.pop(key, None)
            if outcome is None:
                outcome = self._unfinished(key, str(kwargs.get("stimulus_id", "")))
                # Only a cancel disowns the children. A task let go of (its holder left, as a dead worker's
                # client does) still runs in its thread, which holds its children and lets them go when it
                # ends; and another task of its worker may hold their pure keys through the same client
                # (chaos: 32 of 100 recursions over shared keys were cancelled under worker loss).
                if outcome == "cancelled":
                    self._cancel(self.children.get(key, ()), key)
            if key not in self.parent and key not in self.children:
                self._remember_lone(key, outcome)
            else:
                self.final[key] = outcome
                if self._unheld(key):
                    self._forget_tree(key)
            self._evict()
            self._forget_old_spans()

    def _unfinished(self, key: Any, stimulus_id: str) -> str:
        """How a task forgotten before it finished ended, for trees: only a cancel is ``cancelled``.

        ``inline``: a child ``@nest`` offered to other slots and then took back to run in its parent's
        thread (the parent released it); ``released``: any other task its client let go of.
        """
        if stimulus_id.startswith("cancel"):
            return "cancelled"
        ts = self.scheduler.tasks.get(key)  # Dask puts a forgotten task back while plugins look at it
        if ts is not None and PARENT_ANNOTATION in (ts.annotations or {}):
            return "inline"
        return "released"

    def _unheld(self, key: Any) -> bool:
        """No remembered tree holds ``key``: a root no longer among the newest, or a task whose
        tree was forgotten while it still lived (a future held past its parent's end)."""
        parent = self.parent.get(key)
        return key not in self.roots if parent is None else parent not in self.children

    def _remember_lone(self, key: Any, outcome: str) -> None:
        self.lone[key] = outcome
        self.lone.move_to_end(key)
        while len(self.lone) > self.max_trees:
            self.calls.pop(self.lone.popitem(last=False)[0], None)

    def _evict(self) -> None:
        while len(self.final) > self.max_tasks:
            key, _ = self.final.popitem(last=False)
            self._drop(key)

    def _drop(self, key: Any) -> list[Any]:
        """Forget the lineage of a key the scheduler forgot; returns its children."""
        self.parent.pop(key, None)
        self.more_parents.pop(key, None)
        self.owner.pop(key, None)
        self.calls.pop(key, None)
        return self.children.pop(key, [])

    def _forget_tree(self, root: Any) -> None:
        """Forget the finished part of a tree no longer among the newest roots.

        A kernel running many small recursions keeps only its last ``max_trees`` trees, not
        ``max_tasks`` tasks' worth of old ones. Keys the scheduler still holds stay until it forgets
        them; a key other trees asked for too (a pure key, as ``fib(8)`` in every run of ``fib(10)``)
        stays until the last of those trees goes.
        """
        stack: list[tuple[Any, Any]] = [(root, None)]
        while stack:
            key, via = stack.pop()
            if key in self.more_parents:
                if via is not None:
                    self._unlink(key, via)
                continue  # another tree asked for it too: it goes with the last of them
            if key not in self.final:
                continue  # the scheduler still holds it: it goes when the scheduler forgets it
            del self.final[key]
            stack.extend((child, key) for child in self._drop(key))

    def _unlink(self, key: Any, parent: Any) -> None:
        """Forget that ``parent`` asked for ``key``, which other parents asked for too."""
        others = self.more_parents[key]
        if self.parent.get(key) == parent:
            self.parent[key] = others.pop()
        else:
            others.discard(parent)
        if not others:
            del self.more_parents[key]

    def _forget_old_spans(self) -> None:
        now = time.monotonic()
        if now - self._spans_checked < SPANS_CHECK_INTERVAL:
            return
        self._spans_checked = now
        keep = int(dask.config.get("distributed.diagnostics.computations.max-history", 100))
        _dask.forget_finished_spans(self.scheduler, keep=max(keep, 1), older_than=SPANS_MIN_AGE)

    async def adopt(self, keys: list[Any], client: str, timeout: float = 10.0) -> list[Any]:
        """Make ``client`` hold ``keys``, waiting for them to arrive first.

        A task's submissions travel on its worker's client connection, so a
        future it returns can reach the notebook before its task reaches the
        scheduler; a plain "client desires keys" would then be ignored.
        Returns the keys that never arrived.
        """
        deadline = time.monotonic() + timeout
        while any(k not in self.scheduler.tasks for k in keys) and time.monotonic() < deadline:
            await asyncio.sleep(0.005)
        known = [k for k in keys if k in self.scheduler.tasks]
        _dask.desire_keys(self.scheduler, known, client)
        return [k for k in keys if k not in self.scheduler.tasks]

    def latest_tree(self, max_nodes: int = 300) -> TreeNode | None:
        """The tree of the most recent task that spawned others without being spawned itself."""
        latest = next(reversed(self.roots), None)
        return None if latest is None else self.tree(latest, max_nodes=max_nodes)

    def live_children(self, key: Any) -> int:
        """How many children of ``key`` have not ended yet (what a seceded task waits on)."""
        tasks = self.scheduler.tasks
        return sum(1 for c in self.children.get(key, ()) if c in tasks and tasks[c].state in _dask.LIVE_STATES)

    def orphans(self, keys: Any, because: Any) -> list[Any]:
        """``keys`` and their descendants, except those another parent still running needs."""
        tasks = self.scheduler.tasks
        if because in tasks and tasks[because].state in _dask.LIVE_STATES:
            return []  # submitted again (a pure key, by a rerun of its parent): it needs its children again
        dying, out, stack = {because}, [], list(keys)
        while stack:
            key = stack.pop()
            if key in dying:
                continue
            others = self.more_parents.get(key)
            if others and any(p not in dying and p in tasks and tasks[p].state in _dask.LIVE_STATES
                              for p in (*others, self.parent.get(key))):
                continue
            dying.add(key)
            out.append(key)
            stack.extend(self.children.get(key, ()))
        return out

    def _cancel(self, keys: Any, because: Any, patience: int = 100) -> None:
        if patience and _dask.clients_leaving(self.scheduler):
            # wait for the dead clients to be removed; who the orphans are is decided then
            asyncio.get_running_loop().call_later(0.02, self._cancel, list(keys), because, patience - 1)
            return
        _dask.cancel_for_their_clients(
            self.scheduler,
            self.orphans(keys, because),
            self.owner,
            TREE_CLIENT_NAMES,
            reason="parent-cancelled",
            msg=f"its parent task {because!r} ended without a result (jupyter_nest cancels orphans)",
        )

    def state(self, key: Any) -> str:
        """The scheduler's state of ``key``; how it ended once forgotten; ``pending`` before it arrives.

        A key neither held nor remembered has not reached the scheduler yet (a future submitted a
        moment ago), or was forgotten long ago: its tree is older than the newest ``max_trees``, or
        more than ``max_tasks`` tasks ended after it.
        """
        ts = self.scheduler.tasks.get(key)
        if ts is not None:
            return "finished" if ts.state == "memory" else ts.state
        return self.final.get(key) or self.lone.get(key, "pending")

    def tree(self, key: Any, max_nodes: int = 2000, max_children: int = 50, max_depth: int = 100,
             max_summary: int = 20_000) -> TreeNode:
        """The descendants of ``key`` as nested dicts; large or deep subtrees are summarised, not listed.

        A key two tasks asked for (a pure key) is listed and counted once, where it is met first.
        """
        budget = [max_nodes]
        seen = {key}

        def summary(keys: list[Any]) -> Hidden:
            # Counted on the scheduler's event loop: stop at max_summary tasks, say so.
            states: dict[str, int] = {}
            total = 0
            stack = list(keys)
            while stack and total < max_summary:
                k = stack.pop()
                if k in seen:
                    continue
                seen.add(k)
                stack.extend(self.children.get(k, ()))
                s = self.state(k)
                states[s] = states.get(s, 0) + 1
                total += 1
            return {"tasks": total, "states": states, "more": bool(stack)}

        def node(k: Any, depth: int) -> TreeNode:
            budget[0] -= 1
            kids = [c for c in self.children.get(k, ()) if c not in seen]
            out: TreeNode = {"key": k, "name": key_split(k), "state": self.state(k), "children": []}
            listed = 0
            if depth < max_depth:
                for child in kids[:max_children]:
                    if budget[0] <= 0:
                        break
                    listed += 1
                    if child not in seen:  # else met in an earlier sibling's subtree
                        seen.add(child)
                        out["children"].append(node(child, depth + 1))
            hidden = [c for c in kids[listed:] if c not in seen]
            if hidden:
                out["hidden"] = summary(hidden)
            return out

        return node(key, 0)

    def error_chain(self, key: Any) -> list[ErrorLink]:
        """The tasks from ``key`` down to the one that raised, following erred children."""
        chain: list[ErrorLink] = []
        seen = set()
        while key is not None and key not in seen:
            seen.add(key)
            chain.append({"key": key, "call": self.calls.get(key, f"{key_split(key)}(...)")})
            key = next((c for c in self.children.get(key, ()) if self.state(c) == "erred"), None)
        return chain
