"""What a new Tiltfile load changes: which resources are new, which are gone,
which changed their definition. Resources whose manifests are equal keep
running untouched (manifests are plain, comparable values)."""
from __future__ import annotations

from dataclasses import dataclass, field

from tiltpy.model.manifest import Manifest


@dataclass(frozen=True)
class ReloadDiff:
    added: list[Manifest] = field(default_factory=list)
    changed: list[Manifest] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    order: list[str] = field(default_factory=list)  # the new resources, in Tiltfile order


def diff_resources(current: dict[str, Manifest], new: list[Manifest]) -> ReloadDiff:
    names = {m.name for m in new}
    return ReloadDiff(
        added=[m for m in new if m.name not in current],
        changed=[m for m in new if m.name in current and current[m.name] != m],
        removed=[name for name in current if name not in names],
        order=[m.name for m in new],
    )


def enabled_manifests(manifests: list[Manifest], selected: list[str] | None) -> list[Manifest]:
    """What the Tiltfile selected (command-line resource names are Tiltfile
    args; config.parse, set_enabled_resources), deps already included; None: all."""
    if selected is None:
        return list(manifests)
    wanted = set(selected)
    return [m for m in manifests if m.name in wanted]
