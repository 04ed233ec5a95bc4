"""The task tree as an icicle: each task a box as wide as its share of the tasks below it."""

from __future__ import annotations

from typing import Any

from .._wire import TreeNode
from ._style import TREE_COLORS

_TREE_COLUMNS = ("x0", "x1", "y", "color", "label", "text", "key", "state", "tasks")


def _weight(node: TreeNode, weights: dict[int, int]) -> int:
    """Tasks in a subtree, listed or summarised (memoised by node identity)."""
    total = 1 + sum(_weight(c, weights) for c in node["children"]) + node.get("hidden", {}).get("tasks", 0)
    weights[id(node)] = total
    return total


def tree_columns(tree: TreeNode | None, max_nodes: int = 400) -> dict[str, dict[str, list[Any]]]:
    """An icicle of a lineage tree (as ``jupyter_nest.task_tree(...).root``): depth down, width by task count.

    As in a flame graph (speedscope, Perfetto), each task is a box as wide as the tasks below it,
    so a tree of 100k tasks or 20 levels stays one readable picture; the lineage plugin sends
    large subtrees summarised, drawn as one grey box per summary.

    Examples
    --------
    >>> tree = {"key": "f-1", "name": "f", "state": "finished", "children": [
    ...     {"key": "f-2", "name": "f", "state": "processing", "children": []}]}
    >>> tree_columns(tree)["nest-tree-nodes"]["y"]
    [0, -1]
    """
    nodes: dict[str, list[Any]] = {name: [] for name in _TREE_COLUMNS}
    if tree is None:
        return {"nest-tree-nodes": nodes}
    weights: dict[int, int] = {}
    total = _weight(tree, weights)

    def add(x0: float, x1: float, depth: int, state: str, color: str, label: str, key: str, tasks: int) -> None:
        text = label if x1 - x0 >= 0.008 * len(label) else ""  # only where it fits
        for name, value in zip(_TREE_COLUMNS, (x0, x1, -depth, color, label, text, key, state, tasks), strict=True):
            nodes[name].append(value)

    def place(node: TreeNode, x0: float, depth: int) -> None:
        width = weights[id(node)] / total
        add(x0, x0 + width, depth, node["state"], TREE_COLORS.get(node["state"], "#cccccc"), node["name"],
            str(node["key"]), weights[id(node)])
        x = x0
        for child in node["children"]:
            if len(nodes["x0"]) >= max_nodes:
                break
            place(child, x, depth + 1)
            x += weights[id(child)] / total
        hidden = node.get("hidden")
        if hidden and hidden["tasks"]:
            states = ", ".join(f"{n} {s}" for s, n in sorted(hidden["states"].items()))
            add(x, x + hidden["tasks"] / total, depth + 1, states, TREE_COLORS["hidden"],
                f"+{hidden['tasks']:,}{'+' if hidden.get('more') else ''}", "", hidden["tasks"])

    place(tree, 0.0, 0)
    return {"nest-tree-nodes": nodes}
