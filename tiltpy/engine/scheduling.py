"""Scheduling rules that do not depend on live state."""
from __future__ import annotations

from tiltpy.model.manifest import UNCATEGORIZED, Manifest


def first_build_rank(manifest: Manifest) -> int:
    """Tilt's order among resources that have not built yet: local resources,
    then uncategorized YAML, then Kubernetes resources that build nothing,
    then the rest; Tiltfile order within each group."""
    if manifest.local is not None:
        return 0
    if manifest.name == UNCATEGORIZED:
        return 1
    if manifest.k8s is not None and not manifest.image_targets:
        return 2
    return 3


def first_build_order(manifests: list[Manifest]) -> list[Manifest]:
    indexed = list(enumerate(manifests))
    return [m for _, m in sorted(indexed, key=lambda im: (first_build_rank(im[1]), im[0]))]


def enabled_with_deps(manifests: list[Manifest], only: list[str]) -> list[Manifest]:
    """`tiltpy up a b` enables a, b and everything they depend on."""
    if not only:
        return list(manifests)
    by_name = {m.name: m for m in manifests}
    unknown = [n for n in only if n not in by_name]
    if unknown:
        raise KeyError(f"no such resource: {', '.join(unknown)} (known: {', '.join(by_name)})")
    wanted: set[str] = set()
    stack = list(only)
    while stack:
        name = stack.pop()
        if name not in wanted:
            wanted.add(name)
            stack.extend(d for d in by_name[name].resource_deps if d in by_name)
    return [m for m in manifests if m.name in wanted]
