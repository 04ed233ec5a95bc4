"""Run a coroutine to completion from synchronous code, inside a kernel too.

A kernel's main thread already runs an event loop, so ``asyncio.run`` refuses to
start there; a short-lived thread with its own loop works everywhere.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


def run(coroutine: Coroutine[Any, Any, T], timeout: float) -> T:
    """The coroutine's result, or ``TimeoutError`` after ``timeout`` seconds."""
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, asyncio.wait_for(coroutine, timeout)).result(timeout + 1)
