"""Topological ordering of targets that depend on each other."""
from __future__ import annotations

from typing import Callable, Hashable, Iterable, Sequence, TypeVar

T = TypeVar("T", bound=Hashable)


class CycleError(Exception):
    def __init__(self, cycle: list) -> None:
        super().__init__("cycle: " + " -> ".join(map(str, cycle)))
        self.cycle = cycle


def topo_sort(nodes: Sequence[T], deps: Callable[[T], Iterable[T]]) -> list[T]:
    """Dependencies before dependents; otherwise the given order is kept, so
    the result is stable for the user. Raises CycleError naming the cycle."""
    order: list[T] = []
    state: dict[T, int] = {}  # 1 = visiting, 2 = done
    path: list[T] = []

    def visit(node: T) -> None:
        if state.get(node) == 2:
            return
        if state.get(node) == 1:
            raise CycleError(path[path.index(node):] + [node])
        state[node] = 1
        path.append(node)
        for dep in deps(node):
            visit(dep)
        path.pop()
        state[node] = 2
        order.append(node)

    for node in nodes:
        visit(node)
    return order
