"""Every name that crosses a process, and the shapes of the payloads that carry them.

Kernels, schedulers, workers, the Jupyter server and the browser agree on these
strings and dicts; a typo on one side fails silently on the other, so they are
spelt once, here. ``labextension/src/types.ts`` mirrors the payload shapes
(``tests/test_house.py`` checks the two agree).

Imports nothing of jupyter_nest's, and nothing that is not the standard library:
the modules shipped to workers by value read their names from here too.
"""

from __future__ import annotations

from typing import Any, Literal, TypedDict

# Plugins, by the name Dask registers them under (re-registering replaces them).
LINEAGE_PLUGIN = "jupyter-nest-lineage"
MONITOR_PLUGIN = "jupyter-nest-monitor"
SLOTS_PLUGIN = "jupyter-nest-slots"
RUNTIME_PLUGIN = "jupyter-nest-runtime"
OFFER_PLUGIN = "jupyter-nest-offers"
BALANCER_PLUGIN = "jupyter-nest-balancer"
OUTPUT_PLUGIN = "jupyter-nest-output"

# The name of the client each worker gives tasks that call jupyter_nest.get_client() (Dask's own is "worker").
WORKER_CLIENT_NAME = "nest-worker"
# Clients that hold keys on behalf of a task tree rather than of a user.
TREE_CLIENT_NAMES = ("worker", WORKER_CLIENT_NAME)

# Event topics (``worker.log_event`` -> scheduler plugins and subscribed clients).
SLOTS_TOPIC = "jupyter-nest-slots"
WORK_TOPIC = "jupyter-nest-work"
CELL_OUTPUT_TOPIC = "jupyter-nest-cell-output"
# A worker's slots report lists its oldest seceded tasks, this many, and counts the rest: a
# recursion holds hundreds, and every report is decoded on the scheduler's event loop.
SECEDED_REPORTED = 50

# Scheduler RPC handlers.
TREE_HANDLER = "nest_tree"
LATEST_TREE_HANDLER = "nest_latest_tree"
ERROR_CHAIN_HANDLER = "nest_error_chain"
ADOPT_HANDLER = "nest_adopt"
SNAPSHOT_HANDLER = "nest_snapshot"
# Scheduler stream handler (on a client's batched stream, so it arrives after the key's own submission).
ALSO_PARENT_HANDLER = "nest_also_parent"

# Worker RPC handlers of @nest's work sharing.
OFFER_HANDLER = "nest_offer"
CLAIM_HANDLER = "nest_claim"
LEND_HANDLER = "nest_lend"
RETURN_HANDLER = "nest_return"
WORKER_LEFT_HANDLER = "nest_worker_left"

# Task annotations.
PARENT_ANNOTATION = "nest_parent"  # the key of the task an offered @nest child belongs to
CALL_ANNOTATION = "nest_call"  # how an offered @nest child is shown: its call, e.g. "fib(17)"
CELL_ANNOTATION = "jupyter_nest_cell"  # the %%nest_submit cell a task prints into
CELL_SPAN_TAG = "jupyter-nest"  # the Dask span a submitted cell runs in

# Module paths other processes import by name.
PRELOAD_MODULE = "jupyter_nest.cluster._preload"
# Where a task's wait on a @nest child lives (the hang detector must not call it blocked),
# and the client code it waits through.
FORKJOIN_PACKAGE = "jupyter_nest.forkjoin"
RUNTIME_PACKAGE = "jupyter_nest.runtime"
# Frames Dask's traceback shortening hides (``admin.traceback.shorten``): our client's waits.
OUR_WAIT_FRAMES = r"jupyter_nest[\\\/]runtime[\\\/]"

# The Nest panel: the lab extension's name, and the server extension's route (``<base url>/jupyter-nest/...``).
LABEXTENSION_NAME = "jupyter-nest"
SERVER_ROUTE = "jupyter-nest"

# The registry of clusters kernels run: ``<runtime dir>/<REGISTRY_SUBDIR>/<kernel id>.json``.
REGISTRY_SUBDIR = "jupyter-nest"
REGISTRY_VERSION = 1
SNAPSHOT_VERSION = 1


class SlotTask(TypedDict, total=False):
    """A task in a snapshot: in a slot, seceded, or blocked."""

    key: str
    name: str
    since: float
    call: str  # the call with shortened arguments, e.g. "fib(17)"
    parent: str  # the key of the task that submitted it, when it has one
    inline: int  # @nest children this task ran in its own thread
    waiting_on: int  # seceded tasks: live children


class WorkerSlots(TypedDict):
    """One worker in a snapshot."""

    address: str
    name: str
    nthreads: int
    status: str
    memory: int
    memory_limit: int
    slots: list[SlotTask | None]
    seceded: list[SlotTask]
    seceded_more: int
    blocked: list[SlotTask]
    queued: int
    threads: int
    reported: float | None


class Totals(TypedDict):
    """Counts over the whole cluster."""

    workers: int
    threads: int
    running: int
    seceded: int
    queued: int
    waiting: int
    done: int
    erred: int


class Snapshot(TypedDict):
    """What the monitor's ``nest_snapshot`` handler returns."""

    version: int
    time: float
    scheduler: str
    workers: list[WorkerSlots]
    totals: Totals


class Hidden(TypedDict):
    """Children of a tree node that are counted, not listed."""

    tasks: int
    states: dict[str, int]
    more: bool  # the count stopped early: at least ``tasks``


class _TreeNodeBase(TypedDict):
    key: Any
    name: str
    state: str
    children: list[TreeNode]


class TreeNode(_TreeNodeBase, total=False):
    """A node of the lineage tree ``nest_tree`` and ``nest_latest_tree`` return."""

    hidden: Hidden


class ErrorLink(TypedDict):
    """One task of the chain ``nest_error_chain`` returns, root first."""

    key: Any
    call: str


RegistryState = Literal["running", "stopped"]
ClusterState = Literal["running", "stopped", "unreachable"]


class TLSFiles(TypedDict):
    ca: str
    cert: str
    key: str


class RegistryEntry(TypedDict):
    """The file a kernel writes for each cluster it opens; the Nest panel's server reads it."""

    version: int
    kernel_id: str
    connection_file: str
    pid: int
    pid_started: float
    scheduler: str
    dashboard: str | None
    kind: str
    remote: bool
    tls: TLSFiles | None
    state: RegistryState
    started: float
    stopped: float | None


class ClusterCard(TypedDict):
    """One cluster as the Nest panel's ``GET /jupyter-nest/clusters`` lists it."""

    kernel_id: str
    kernel_name: str | None
    notebook: str | None
    execution_state: str | None
    scheduler: str
    dashboard: str | None
    kind: str
    remote: bool
    state: ClusterState
    reason: str | None
    started: float
    stopped: float | None
    totals: Totals | None
    snapshot_time: float | None
