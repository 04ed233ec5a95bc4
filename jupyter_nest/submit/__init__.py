"""``%%nest_submit`` and ``submit_cell``: a notebook cell run on the cluster as one Dask task.

- ``_api``: check a cell, send it, wait for it (``prepare``, ``send``, ``wait_for``, ``submit_cell``);
- ``_globals``: which notebook globals a cell reads; ``_ship``: pickling them, or saying why not;
- ``_placement``: ``--resources`` and ``--workers`` checked against the cluster;
- ``_output``: what the cell's tasks print, into the cell that submitted it;
- ``_status``: the live status line of a cell submitted without ``--wait``;
- ``_traceback``: a failed cell's traceback told from the cell's own lines;
- ``_shipped``: what runs on the workers, shipped by value.
"""

from ._api import (
    Cell,
    Submission,
    cancel,
    check_label,
    check_name,
    execution_count,
    prepare,
    send,
    submit_cell,
    wait_for,
)
from ._placement import check_placement, parse_resources
from ._status import StatusLine

__all__ = [
    "Cell",
    "StatusLine",
    "Submission",
    "cancel",
    "check_label",
    "check_name",
    "check_placement",
    "execution_count",
    "parse_resources",
    "prepare",
    "send",
    "submit_cell",
    "wait_for",
]
