"""Answers of our RPC handlers as the handler built them."""

from __future__ import annotations

from typing import Any


def plain(value: Any) -> Any:
    """An RPC answer with msgpack's tuples turned back into lists, as the handler built it."""
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    return value
