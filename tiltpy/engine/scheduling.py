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
