"""The clusters the Nest panel lists: registry entries of live kernels, joined with their snapshots."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable, Iterable
from pathlib import Path
from typing import Any

import psutil

from .._wire import REGISTRY_VERSION, ClusterCard, Snapshot, TreeNode

SnapshotReader = Callable[..., Awaitable[Snapshot]]

# A pid's start time as psutil reports it can differ by a rounding step between reads.
_START_TIME_SLACK = 1.0


def _seconds(name: str) -> float:
    # jupyter_nest.config reads dask.config: imported on the first request, not when the server loads us
    from .. import config

    return config.seconds(name)


def read_entries(folder: Path) -> list[dict[str, Any]]:
    """Every readable entry in ``folder``, with ``path`` added; half-written or foreign files are skipped."""
    entries = []
    for path in sorted(folder.glob("*.json")):
        try:
            entry = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        if isinstance(entry, dict) and entry.get("version") == REGISTRY_VERSION and "kernel_id" in entry:
            entries.append({**entry, "path": path})
    return entries


def process_alive(entry: dict[str, Any]) -> bool:
    """Whether the kernel process that wrote ``entry`` still runs (and is not a reuse of its pid)."""
    try:
        proc = psutil.Process(entry["pid"])
        if proc.status() == psutil.STATUS_ZOMBIE:
            return False
        return abs(proc.create_time() - entry["pid_started"]) < _START_TIME_SLACK
    except (psutil.Error, KeyError, TypeError):
        return False


def remove_ghost(entry: dict[str, Any]) -> None:
    """Delete a dead kernel's file, unless a new kernel rewrote it since it was read."""
    path: Path = entry["path"]
    try:
        if json.loads(path.read_text()).get("pid") == entry["pid"]:
            path.unlink()
    except (OSError, ValueError):
        pass


def security_for(entry: dict[str, Any]) -> Any:
    """The ``distributed.Security`` a ``tls://`` entry needs, from the files the kernel used."""
    tls = entry.get("tls")
    if not tls:
        return None
    from distributed import Security

    return Security(tls_ca_file=tls["ca"], tls_client_cert=tls["cert"], tls_client_key=tls["key"],
                    require_encryption=True)


def default_snapshot() -> SnapshotReader:
    from ..monitor import snapshot_async

    return snapshot_async


async def probe(entry: dict[str, Any], snapshot: SnapshotReader | None = None) -> Snapshot | None:
    """The scheduler's snapshot for a running entry, or ``None`` with ``reason`` set when it does not answer."""
    snapshot = snapshot or default_snapshot()
    timeout = _seconds("lab.snapshot-timeout")
    try:
        return await snapshot(entry["scheduler"], security=security_for(entry), timeout=timeout)
    except (OSError, TimeoutError, asyncio.TimeoutError) as e:
        entry["reason"] = (
            f"The scheduler at {entry['scheduler']} does not answer ({type(e).__name__}): "
            "the cluster has stopped or crashed. Stop it from the notebook with `%nest_cluster stop`."
        )
    except Exception as e:  # an answer, but not a snapshot: e.g. a scheduler without our plugin
        entry["reason"] = (
            f"The scheduler at {entry['scheduler']} answers but sends no snapshot "
            f"({type(e).__name__}: {e}): jupyter_nest's monitor is not installed there. "
            "`%nest_cluster status` in the notebook still describes the cluster."
        )
    return None


async def latest_tree(entry: dict[str, Any], max_nodes: int = 300) -> TreeNode | None:
    """The lineage tree of the newest task that spawned others, as the notebook widget draws it.

    ``None`` when nothing spawned yet, or the scheduler has no lineage plugin or does not answer:
    the tree is an extra, and the slots still show.
    """
    from ..runtime import latest_tree_async

    try:
        return await latest_tree_async(entry["scheduler"], security_for(entry), _seconds("lab.snapshot-timeout"),
                                       max_nodes=max_nodes)
    except Exception:
        return None


def describe(entry: dict[str, Any], kernels: dict[str, dict[str, Any]],
             snap: Snapshot | None) -> ClusterCard:
    """What the panel shows of one cluster."""
    kernel = kernels.get(entry["kernel_id"], {})
    state = entry.get("state", "running")
    if state == "running" and snap is None:
        state = "unreachable"
    return {
        "kernel_id": entry["kernel_id"],
        "kernel_name": kernel.get("name"),
        "notebook": kernel.get("path"),
        "execution_state": kernel.get("execution_state"),
        "scheduler": entry["scheduler"],
        "dashboard": entry.get("dashboard"),
        "kind": entry["kind"],
        "remote": entry.get("remote", False),
        "state": state,
        "reason": entry.get("reason"),
        "started": entry["started"],
        "stopped": entry.get("stopped"),
        "totals": snap["totals"] if snap else None,
        "snapshot_time": snap["time"] if snap else None,
    }


def live_entries(folder: Path, kernel_ids: Iterable[str]) -> list[dict[str, Any]]:
    """Entries of kernels this server runs whose process lives; ghosts of dead kernels are deleted.

    Stopped entries are kept for ``jupyter-nest.lab.stopped-linger`` so the panel can say so.
    """
    now = time.time()
    linger = _seconds("lab.stopped-linger")
    kernel_ids = set(kernel_ids)
    out = []
    for entry in read_entries(folder):
        if not process_alive(entry):
            remove_ghost(entry)
            continue
        if entry["kernel_id"] not in kernel_ids:
            continue
        if entry.get("state") == "stopped" and now - (entry.get("stopped") or now) > linger:
            continue
        out.append(entry)
    return out


async def listing(
    folder: Path,
    kernels: dict[str, dict[str, Any]],
    snapshot: SnapshotReader | None = None,
) -> list[ClusterCard]:
    """Every cluster the kernels in ``kernels`` (id -> name, path, execution_state) opened, with totals.

    Examples
    --------
    >>> import asyncio, pathlib
    >>> asyncio.run(listing(pathlib.Path("/nonexistent"), {}))
    []
    """
    async def one(entry: dict[str, Any]) -> ClusterCard:
        snap = await probe(entry, snapshot) if entry.get("state") == "running" else None
        return describe(entry, kernels, snap)

    return list(await asyncio.gather(*(one(e) for e in live_entries(folder, kernels))))


def find(folder: Path, kernels: dict[str, dict[str, Any]], kernel_id: str) -> dict[str, Any] | None:
    """The live entry of one kernel, or ``None``."""
    for entry in live_entries(folder, kernels):
        if entry["kernel_id"] == kernel_id:
            return entry
    return None
