"""Run each tile's input tasks inside the task that writes it.

dask's schedulers spend tens of microseconds (local) to a millisecond (distributed) on
every task, and on a cluster a block computed by one task moves to the worker that
writes it. The input tasks that only one tile needs (a getter, then an ``astype``, ...)
are therefore handed to the write task as plain nodes, which it calls itself when it
writes that tile: one tile's blocks at a time, and no block crosses the network. dask's
own fusion does not serve: linear fusion leaves an alias task under each fused key, and
a blockwise-fused task orders its subgraph again every time it runs.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any

from dask._task_spec import (
    Alias,
    DataNode,
    GraphNode,
    Task,
    TaskRef,
    convert_legacy_task,
)

MAX_DEPTH = 32


class Inliner:
    """The input graph ``graph`` (culled to what the write needs), from which the write's
    tasks take the nodes computing their blocks.

    A node is inlined where nothing else needs its result: a block of an array the
    write reads in one place only (``uses``: how many places read each array, by name)
    that no input task depends on, and down its chain the tasks only it depends on,
    ``MAX_DEPTH`` deep at most (inlined nodes run by recursion, and Python's stack is
    finite). Every block is still computed once.
    """

    def __init__(self, graph: Mapping[Any, Any], uses: Mapping[str, int]) -> None:
        self._nodes = dict(graph)
        self._uses = uses
        self._dependents: Counter[Any] = Counter()
        for key, value in self._nodes.items():
            if not isinstance(value, GraphNode) and _may_refer(value):
                value = self._nodes[key] = self._converted(key, value)
            if isinstance(value, GraphNode):
                self._dependents.update(value.dependencies)
        self._inlined: set[Any] = set()

    def source(self, key: Any) -> GraphNode | TaskRef:
        """What a write task holds for block ``key``: the node computing it, its sole
        inputs inlined; or a reference, where ``key`` stays a task of its own."""
        if self._uses.get(_name(key), 0) != 1 or self._dependents[key]:
            return TaskRef(key)
        node = self._inline(key, 0)
        return TaskRef(key) if node is None else node

    def remaining(self, needed: Iterable[Any]) -> dict[Any, Any]:
        """The input tasks not inlined that the write's tasks need (``needed``), with
        all they need in turn."""
        kept: dict[Any, Any] = {}
        stack = [key for key in needed if key not in self._inlined]
        while stack:
            key = stack.pop()
            if key in kept or key not in self._nodes:
                continue
            node = kept[key] = self._nodes[key]
            if isinstance(node, GraphNode):
                stack.extend(node.dependencies)
        return kept

    def _inline(self, key: Any, depth: int) -> GraphNode | None:
        value = self._nodes.get(key)
        if value is None or depth > MAX_DEPTH:
            return None
        node = value if isinstance(value, GraphNode) else self._converted(key, value)
        if isinstance(node, Alias):
            resolved = self._sole_input(node.target, depth)
        elif isinstance(node, Task):
            resolved = self._with_inputs(node, depth + 1)
        elif isinstance(node, DataNode):  # e.g. a slice of a numpy array from_array embeds
            resolved = node
        else:
            return None
        if resolved is not None:
            self._inlined.add(key)
        return resolved

    def _sole_input(self, key: Any, depth: int) -> GraphNode | None:
        if self._dependents[key] != 1 or _name(key) in self._uses:  # the write reads it too
            return None
        return self._inline(key, depth)

    def _with_inputs(self, task: Task, depth: int) -> Task:
        subs = {
            dep: node for dep in task.dependencies
            if (node := self._sole_input(dep, depth)) is not None
        }
        return _substituted(task, subs) if subs else task

    def _converted(self, key: Any, value: Any) -> GraphNode:
        """A legacy graph's value as a node, as ``convert_legacy_graph`` makes it."""
        node = convert_legacy_task(key, value, self._nodes)
        return node if isinstance(node, GraphNode) else DataNode(key, node)


def _name(key: Any) -> Any:
    return key[0] if isinstance(key, tuple) else key


def _may_refer(value: Any) -> bool:
    """Whether a legacy value may be a task or refer to keys (a plain array may not)."""
    return isinstance(value, (tuple, list, dict, set, frozenset, str, int, float))


def _substituted(task: Task, subs: dict[Any, GraphNode]) -> Task:
    """``task.substitute(subs)``, faster where every input is a plain argument."""
    args = task.args
    if not task.kwargs and sum(isinstance(a, TaskRef) and a.key in subs for a in args) == len(subs):
        new_args = (subs[a.key] if isinstance(a, TaskRef) and a.key in subs else a for a in args)
        return Task(task.key, task.func, *new_args)
    return task.substitute(subs)  # type: ignore[arg-type]
