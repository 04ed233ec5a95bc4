"""A task tree as the lineage plugin reports it: nested dicts, with text and HTML views."""

from __future__ import annotations

import html
from collections import Counter
from collections.abc import Iterator
from typing import Any


class TaskTree:
    """The tasks a root task spawned, directly or not.

    Each node is a dict with ``key``, ``name``, ``state`` and ``children``; a
    node whose children were too many to list has ``hidden``, with the count of
    tasks left out and their states.

    Examples
    --------
    >>> tree = TaskTree({"key": "fib-1", "name": "fib", "state": "finished", "children": []})
    >>> tree.size()
    1
    """

    def __init__(self, root: dict[str, Any]) -> None:
        self.root = root

    def nodes(self) -> Iterator[dict[str, Any]]:
        """Every listed node, depth first."""
        stack = [self.root]
        while stack:
            node = stack.pop()
            yield node
            stack.extend(reversed(node["children"]))

    def size(self) -> int:
        """How many tasks the tree holds, listed or summarised (a lower bound past 20,000 summarised)."""
        return sum(1 + n.get("hidden", {}).get("tasks", 0) for n in self.nodes())

    def states(self) -> Counter[str]:
        """Tasks by state, listed or summarised."""
        counts: Counter[str] = Counter()
        for node in self.nodes():
            counts[node["state"]] += 1
            counts.update(node.get("hidden", {}).get("states", {}))
        return counts

    def depth(self) -> int:
        def depth(node: dict[str, Any]) -> int:
            return 1 + max((depth(c) for c in node["children"]), default=0)

        return depth(self.root)

    def lines(self, max_lines: int = 60) -> list[str]:
        out: list[str] = []

        def walk(node: dict[str, Any], indent: int) -> None:
            if len(out) >= max_lines:
                return
            out.append(f"{'  ' * indent}{node['name']} [{node['state']}] {node['key']}")
            for child in node["children"]:
                walk(child, indent + 1)
            hidden = node.get("hidden")
            if hidden and len(out) < max_lines:
                states = ", ".join(f"{n} {s}" for s, n in sorted(hidden["states"].items()))
                at_least = "at least " if hidden.get("more") else ""
                out.append(f"{'  ' * (indent + 1)}... {at_least}{hidden['tasks']} more ({states})")

        walk(self.root, 0)
        if len(out) >= max_lines:
            out.append(f"... ({self.size()} tasks in all)")
        return out

    def __repr__(self) -> str:
        return f"<TaskTree {self.root['name']}: {self.size()} tasks, depth {self.depth()}>"

    def _repr_pretty_(self, p: Any, cycle: bool) -> None:
        p.text("\n".join(self.lines()))

    def _repr_html_(self) -> str:
        return "<pre>" + html.escape("\n".join(self.lines())) + "</pre>"
