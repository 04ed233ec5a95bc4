"""The monitor: what every worker's task slots hold right now, as compact snapshots.

Data flows one way: :class:`SlotsPlugin` on each worker reports its slots as
events; :class:`MonitorPlugin` on the scheduler keeps the latest report of each
worker and answers ``nest_snapshot``; :func:`snapshot` fetches one, from a client
or from a bare scheduler address (the Jupyter server uses that); the hang
detector (:class:`HangWatcher`) reads snapshots and warns once per deadlock.

Polling the scheduler for snapshots was chosen over pushing them to clients:
see ``benchmarks/bench_monitor.py`` for the measured cost and latency.
"""

from ._hangs import HangWatcher, diagnose
from ._read import snapshot, snapshot_async
from ._scheduler import MonitorPlugin
from ._worker import SlotsPlugin

__all__ = ["HangWatcher", "MonitorPlugin", "SlotsPlugin", "diagnose", "snapshot", "snapshot_async"]
