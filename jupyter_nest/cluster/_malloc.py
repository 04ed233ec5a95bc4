"""Keep a kernel that hosts a scheduler from growing in steps: pin glibc's mmap threshold.

glibc serves a block of at least its mmap threshold straight from the OS and returns it whole when it is freed. The
threshold starts at 128 KiB and rises to the size of every such block freed, so once a table of a few MB has been
freed and made again (a long-lived process does that to its big tables now and then), the next ones are carved from
the heap. A new table is made while the old one still lives, so it cannot go where the old one was; small blocks
settle in the space the old one leaves, and the heap grows by a table's size each time no hole fits: a soak of
recursions saw the kernel's RSS step up 3.7 MB every ~7,000 recursions while the memory in use stayed flat. A
threshold set with ``mallopt`` never rises.
"""

from __future__ import annotations

import ctypes
import sys

from dask.utils import parse_bytes

from .. import config
from ..errors import NestError

_M_MMAP_THRESHOLD = -3
# glibc refuses more on 64-bit machines (HEAP_MAX_SIZE / 2)
_GLIBC_MAX = 32 * 2**20


def pin_mmap_threshold() -> int | None:
    """Set glibc's mmap threshold of this process to ``jupyter-nest.malloc-mmap-threshold``.

    Returns the threshold set, or ``None`` where there is nothing to set: the setting is null, the process does not
    run on glibc (macOS, Windows, musl) or glibc refused.
    """
    setting = config.get("malloc-mmap-threshold")
    if setting is None:
        return None
    try:
        size = parse_bytes(setting)
    except (TypeError, ValueError):
        size = -1
    if not 0 < size <= _GLIBC_MAX:
        raise NestError(
            f"jupyter-nest.malloc-mmap-threshold is {setting!r}: give an amount of memory from 1 B to 32 MiB, "
            "e.g. 1 MiB, or null to leave glibc's own threshold."
        )
    if not sys.platform.startswith("linux"):
        return None
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return None
    # glibc answers 1; musl's mallopt is a stub that answers 0 and does nothing
    return size if mallopt(_M_MMAP_THRESHOLD, size) == 1 else None
