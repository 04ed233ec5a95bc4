"""Where a submitted cell may run: ``--resources`` and ``--workers``, checked against the workers there are."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..errors import NestError


def parse_resources(items: list[str]) -> dict[str, float]:
    """``--resources`` items as a dict, or a :class:`NestError`.

    Examples
    --------
    >>> parse_resources(["GPU=1", "MEM=2e9"])
    {'GPU': 1.0, 'MEM': 2000000000.0}
    """
    resources: dict[str, float] = {}
    for item in items:
        key, sep, raw = item.partition("=")
        try:
            amount = float(raw)
        except ValueError:
            amount = -1.0
        if not sep or not key or amount < 0:
            raise NestError(f"--resources {item!r} is not NAME=AMOUNT: write e.g. --resources GPU=1 MEM=4e9.")
        resources[key] = amount
    return resources


def _worker_matches(entry: str, address: str, info: Mapping[str, Any]) -> bool:
    bare = address.split("://", 1)[-1]
    return entry in (address, bare, str(info.get("name")), info.get("host"), bare.rsplit(":", 1)[0])


def check_placement(client: Any, resources: Mapping[str, float] | None,
                    workers: list[str] | None) -> None:
    """Refuse ``resources``/``workers`` that no current worker satisfies, instead of waiting forever.

    Examples
    --------
    >>> check_placement(client, {"GPU": 1}, None)  # doctest: +SKIP
    Traceback (most recent call last):
    NestError: --resources GPU=1: no worker offers that (offered: no resources at all), ...
    """
    if not resources and not workers:
        return
    info = client.scheduler_info(n_workers=-1)["workers"]
    if not info:  # an adaptive cluster may still bring workers; Dask waits for them
        return
    candidates = dict(info)
    if workers:
        unknown = [w for w in workers if not any(_worker_matches(w, a, i) for a, i in info.items())]
        if unknown:
            raise NestError(
                f"--workers {' '.join(unknown)}: no such worker in this cluster. The workers are: "
                + ", ".join(sorted(info)) + ". Give addresses, host names or worker names from that list."
            )
        candidates = {a: i for a, i in info.items() if any(_worker_matches(w, a, i) for w in workers)}
    if resources:
        fits = [a for a, i in candidates.items()
                if all((i.get("resources") or {}).get(k, 0) >= v for k, v in resources.items())]
        if not fits:
            offered = sorted({f"{k}={v:g}" for i in candidates.values()
                              for k, v in (i.get("resources") or {}).items()})
            wanted = " ".join(f"{k}={v:g}" for k, v in resources.items())
            raise NestError(
                f"--resources {wanted}: no worker{' among --workers' if workers else ''} offers that "
                f"(offered: {', '.join(offered) or 'no resources at all'}), so the task would wait "
                "forever. Start workers with e.g. `dask worker ... --resources GPU=1`, or drop "
                "--resources."
            )
