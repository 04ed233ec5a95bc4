"""The one place that touches Dask's internals: private modules, private attributes, undocumented hooks.

Everything else in jupyter_nest reaches them through the names here, so when a
Dask release changes one, this package is what moves (and ``tests/_dask``
says which). It imports nothing else of jupyter_nest's.

- ``_threads``: what a worker thread runs and whether it holds a pool slot;
- ``_client``: the Client's wait coroutines and error reports, futures inside results;
- ``_worker``: worker state, worker-to-worker and kernel-to-scheduler RPC;
- ``_scheduler``: graph updates, task arguments, cancels on the scheduler;
- ``_deploy``: the SSH process classes, comm connect, sizing helpers.
"""

from ._client import (
    FutureCancelledError,
    HookedClient,
    ToPickle,
    announce_futures,
    awaited_futures,
    become_worker_client,
    close_on_loop,
    scheduler_address,
    tell_scheduler,
    unbound_futures,
    unpickle,
    users_default_client,
    wait_unless_stopped,
    wait_was_cancelled,
)
from ._deploy import (
    NannyKeepingLocalCluster,
    SpecCluster,
    SSHProcess,
    SSHScheduler,
    SSHWorker,
    Status,
    close_cluster,
    connect_comm,
    format_dashboard_link,
    nprocesses_nthreads,
    ssh_logger,
)
from ._scheduler import (
    LIVE_STATES,
    cancel_for_their_clients,
    clients_leaving,
    desire_keys,
    forget_finished_spans,
    free_slots,
    held_outside,
    hook_update_graph,
    is_reference,
    literal,
    short_call,
    task_arguments,
    task_call,
    worker_memory,
)
from ._threads import (
    current_frames,
    in_pool_thread,
    in_task,
    pool_thread_idents,
    task_key,
    task_threads,
    waits_on_futures,
)
from ._worker import (
    call,
    call_from_task,
    forget_removed_workers_in_client,
    nthreads,
    queued,
    scheduler_rpc,
    task_state,
    was_cancelled,
)

__all__ = [
    "LIVE_STATES",
    "FutureCancelledError",
    "HookedClient",
    "NannyKeepingLocalCluster",
    "SSHProcess",
    "SSHScheduler",
    "SSHWorker",
    "SpecCluster",
    "Status",
    "ToPickle",
    "announce_futures",
    "awaited_futures",
    "become_worker_client",
    "call",
    "call_from_task",
    "cancel_for_their_clients",
    "clients_leaving",
    "close_cluster",
    "close_on_loop",
    "connect_comm",
    "current_frames",
    "desire_keys",
    "forget_finished_spans",
    "forget_removed_workers_in_client",
    "format_dashboard_link",
    "free_slots",
    "held_outside",
    "hook_update_graph",
    "in_pool_thread",
    "in_task",
    "is_reference",
    "literal",
    "nprocesses_nthreads",
    "nthreads",
    "pool_thread_idents",
    "queued",
    "scheduler_address",
    "scheduler_rpc",
    "short_call",
    "ssh_logger",
    "task_arguments",
    "task_call",
    "task_key",
    "task_state",
    "task_threads",
    "tell_scheduler",
    "unbound_futures",
    "unpickle",
    "users_default_client",
    "wait_unless_stopped",
    "wait_was_cancelled",
    "waits_on_futures",
    "was_cancelled",
    "worker_memory",
]
