"""Ordering image targets by their dependencies."""
from __future__ import annotations

import pytest

from tiltpy.image.graph import CycleError, topo_sort


def test_dependencies_come_first_and_order_is_otherwise_stable() -> None:
    deps = {"app": ["base"], "base": ["os"], "os": [], "tool": [], "other": ["base"]}
    assert topo_sort(["tool", "app", "other", "base", "os"], deps.__getitem__) == ["tool", "os", "base", "app", "other"]


def test_diamond() -> None:
    deps = {"top": ["left", "right"], "left": ["bottom"], "right": ["bottom"], "bottom": []}
    order = topo_sort(["top", "left", "right", "bottom"], deps.__getitem__)
    assert order.index("bottom") < order.index("left") < order.index("top")
    assert order.index("right") < order.index("top")


def test_cycle_names_members() -> None:
    deps = {"a": ["b"], "b": ["c"], "c": ["a"], "d": []}
    with pytest.raises(CycleError) as info:
        topo_sort(["d", "a", "b", "c"], deps.__getitem__)
    assert info.value.cycle == ["a", "b", "c", "a"]


def test_self_cycle() -> None:
    with pytest.raises(CycleError):
        topo_sort(["a"], {"a": ["a"]}.__getitem__)
