"""Run each tile's input tasks inside its write task: one scheduler task per tile.

dask's local schedulers spend tens of microseconds on every task; with the input's
getter or generator task and the write task, a tile cost two. dask's own fusion does not
help here: linear fusion leaves an alias task under each fused key, and a blockwise-fused
task orders its subgraph again every time it runs. Inlining the producer ``Task`` into
the consumer's arguments runs it as a plain nested call instead.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from dask._task_spec import Alias, DataNode, GraphNode, Task, TaskRef, convert_legacy_graph

MAX_DEPTH = 32


def inline_inputs(
    graph: Mapping[Any, Any], keys: Iterable[Any], consumer: Callable[[Task], bool]
) -> dict[Any, GraphNode]:
    """``graph`` with the tasks that only a ``consumer`` task needs inlined into it.

    A task is inlined when it is not one of ``keys`` and exactly one task depends on it,
    so that every block is still computed once; inlining repeats along chains of such
    tasks (a getter, then an ``astype``, then the write), ``MAX_DEPTH`` deep at most:
    nested tasks run by recursion, and Python's stack is finite.
    """
    nodes: dict[Any, GraphNode] = convert_legacy_graph(dict(graph))
    wanted = set(keys)
    dependents = Counter(dep for node in nodes.values() for dep in node.dependencies)
    inlined: set[Any] = set()

    def sole_input(key: Any, depth: int) -> GraphNode | None:
        """The node computing ``key``, with its own inputs inlined; None to keep ``key``."""
        node = nodes.get(key)
        if key in wanted or dependents[key] != 1 or depth > MAX_DEPTH:
            return None
        if isinstance(node, Alias):
            resolved = sole_input(node.target, depth)
        elif isinstance(node, Task):
            resolved = with_inputs(node, depth + 1)
        elif isinstance(node, DataNode):  # e.g. a slice of a numpy array from_array embeds
            resolved = node
        else:
            return None
        if resolved is not None:
            inlined.add(key)
        return resolved

    def with_inputs(task: Task, depth: int) -> Task:
        subs = {
            dep: node for dep in task.dependencies if (node := sole_input(dep, depth)) is not None
        }
        return _substituted(task, subs) if subs else task

    fused = {
        key: with_inputs(node, 0) if isinstance(node, Task) and consumer(node) else node
        for key, node in nodes.items()
    }
    return {key: node for key, node in fused.items() if key not in inlined}


def _substituted(task: Task, subs: dict[Any, GraphNode]) -> Task:
    """``task.substitute(subs)``, faster where every input is a plain argument."""
    args = task.args
    if not task.kwargs and sum(isinstance(a, TaskRef) and a.key in subs for a in args) == len(subs):
        new_args = (subs[a.key] if isinstance(a, TaskRef) and a.key in subs else a for a in args)
        return Task(task.key, task.func, *new_args)
    return task.substitute(subs)  # type: ignore[arg-type]
