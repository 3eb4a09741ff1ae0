"""Deciding what a batch of changed files means for a resource: rebuild
which images, or live-update which files into the running containers and
which run() steps to execute.

Pure logic (no I/O beyond reading .dockerignore files once per target), so
the rules are unit-tested directly.

The rules follow Tilt's, with one deliberate difference: a file in a *base*
image's context is a change to the base image, so the base and every image
built on it rebuild, even when the app image's sync() covers the file. Tilt
would sync it into the app container and never rerun the base's
`RUN npm install`."""
from __future__ import annotations

import os
from typing import Iterable

from tiltpy.image.context import TargetFiles, relative_to
from tiltpy.model.live_update import FileCopy, LiveUpdatePlan, UpdatePlan
from tiltpy.model.manifest import FallBackOn, ImageTarget, Manifest, Run, Sync


def _under(path: str, root: str) -> bool:
    return relative_to(path, root) is not None


def _dependents(manifest: Manifest, refs: set[str]) -> set[str]:
    """refs plus every image in the manifest built (transitively) on them."""
    out = set(refs)
    changed = True
    while changed:
        changed = False
        for target in manifest.image_targets:
            if target.ref not in out and any(dep in out for dep in target.image_deps):
                out.add(target.ref)
                changed = True
    return out


def plan_update(manifest: Manifest, changed: Iterable[str], files: dict[str, TargetFiles],
                deleted: set[str] | None = None) -> UpdatePlan:
    """`changed` are absolute paths (created, modified or deleted); `deleted`
    the subset that no longer exists. `files` maps each target ref to its
    TargetFiles (kept by the caller so matchers are built once)."""
    changed = sorted(set(changed))
    deleted = deleted or set()
    touched: dict[str, list[str]] = {}
    for target in manifest.image_targets:
        owned = [p for p in changed if files[target.ref].owns(p)]
        if owned:
            touched[target.ref] = owned
    if not touched:
        return UpdatePlan()

    deployed = set(manifest.k8s.image_refs) if manifest.k8s else {t.ref for t in manifest.image_targets}
    rebuild: set[str] = set()
    reasons: list[str] = []
    live: list[LiveUpdatePlan] = []
    for ref, paths in touched.items():
        target = manifest.image_target(ref)
        if ref not in deployed:
            rebuild.add(ref)
            reasons.append(f"{_names(paths)} changed in the context of base image {ref}")
            continue
        if not target.live_update:
            rebuild.add(ref)
            reasons.append(f"{_names(paths)} changed and {ref} has no live_update")
            continue
        outcome = _plan_live_update(target, paths, deleted)
        if isinstance(outcome, str):
            rebuild.add(ref)
            reasons.append(outcome)
        else:
            live.append(outcome)

    if rebuild:
        order = [t.ref for t in manifest.image_targets]
        refs = _dependents(manifest, rebuild)
        # A rebuild of an image also covers its pending live update.
        return UpdatePlan(rebuild=tuple(r for r in order if r in refs), rebuild_reason="; ".join(reasons),
                          live_updates=tuple(p for p in live if p.target not in refs))
    return UpdatePlan(live_updates=tuple(live))


def _plan_live_update(target: ImageTarget, paths: list[str], deleted: set[str]) -> LiveUpdatePlan | str:
    steps = target.live_update
    for step in steps:
        if isinstance(step, FallBackOn):
            hits = [p for p in paths if any(_under(p, f) for f in step.paths)]
            if hits:
                return f"{_names(hits)} matched fall_back_on in {target.ref}"
    syncs = [s for s in steps if isinstance(s, Sync)]
    copies: list[FileCopy] = []
    deletes: list[str] = []
    unmatched: list[str] = []
    for path in paths:
        sync = _best_sync(syncs, path)
        if sync is None:
            unmatched.append(path)
            continue
        rel = relative_to(path, sync.local_path)
        remote = sync.remote_path if rel == "." else sync.remote_path.rstrip("/") + "/" + rel
        if path in deleted:
            deletes.append(remote)
        else:
            copies.append(FileCopy(path, remote))
    if unmatched:
        return f"{_names(unmatched)} not matching any sync() in {target.ref}"
    runs = tuple(step for step in steps if isinstance(step, Run)
                 and (not step.triggers or any(_under(p, t) for p in paths for t in step.triggers)))
    restart = any(type(step).__name__ == "RestartContainer" for step in steps)
    return LiveUpdatePlan(target.ref, tuple(copies), tuple(deletes), runs, restart)


def _best_sync(syncs: list[Sync], path: str) -> Sync | None:
    """The most specific sync() whose local path contains the file."""
    matching = [s for s in syncs if _under(path, s.local_path)]
    return max(matching, key=lambda s: len(s.local_path)) if matching else None


def _names(paths: list[str]) -> str:
    shown = ", ".join(os.path.basename(p) for p in paths[:3])
    return shown + (f" (+{len(paths) - 3} more)" if len(paths) > 3 else "")
