"""``@nest``: fork-join recursion that never deadlocks, keeps threads bounded and runs near native speed.

A spawn inside a task does not become a Dask task. It becomes a small object in
the spawning thread's list of pending children (lazy task creation, Mohr, Kranz
& Halstead 1991), and the parent runs it inline when it asks for its result
(Cilk's work-first principle). Below ``jupyter-nest.forkjoin.defer-depth``
levels a spawn runs at once, so the bulk of a recursion costs little more than
plain calls. Only when a slot somewhere in the cluster is idle does a child
leave its thread: the balancer asks a worker with pending children to *offer*
its oldest one (the biggest subtree) as a Dask task aimed at the idle slot. The
thief claims the offer when it starts; a parent that needs a child still
unclaimed takes it back and runs it inline. A parent that must wait for a
stolen child borrows the oldest pending children of the thief's task and runs
them in its own thread, sending each value back (leapfrogging, as in Wagner &
Calder 1993 and Java's ForkJoinPool): its slot keeps working on the very
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

The parts:

- ``_states``: the states of a spawn handle (with its state diagram), finished handles, error notes;
- ``_ledger``: per worker, the nest tasks running there and the children they handed out;
- ``_lending``: claiming, borrowing and returning children across workers, from task threads;
- ``_spawn``: the spawn state machine (task contexts, spawn handles) and the Dask tasks that run nest code;
- ``_balancer``: the scheduler and worker plugins that send idle slots work;
- ``_api``: ``@nest``, ``spawn``, ``nest.map``, ``nest.gather``.
"""

from .._compat import renamed
from ._api import Nest, nest
from ._balancer import BalancerPlugin, OfferPlugin
from ._ledger import WorkerLedger, inline_counts, ledger_of

__all__ = ["BalancerPlugin", "Nest", "OfferPlugin", "WorkerLedger", "inline_counts", "ledger_of", "nest"]

__getattr__ = renamed(__name__, {"runtime_of": "ledger_of", "Runtime": "WorkerLedger"})
