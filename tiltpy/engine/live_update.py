"""Carrying out live updates for a resource: find the containers running
each image, push the planned changes into them, and keep every container —
including ones that start later — in step with what was synced since the
image was built."""
from __future__ import annotations

import os
from typing import Callable

from tiltpy.engine.resource import ResourceState, SyncedChanges
from tiltpy.model.live_update import FileCopy, LiveUpdatePlan
from tiltpy.liveupdate.updaters import ContainerRef, ContainerUpdater
from tiltpy.model.manifest import Run

Log = Callable[[str], None]


def containers_for(res: ResourceState, target_ref: str) -> list[ContainerRef]:
    built = res.images.get(target_ref)
    if res.monitor is None or built is None:
        return []
    return [ContainerRef(*c) for c in res.monitor.running_containers(built.cluster_ref)]


def _remember(synced: SyncedChanges, plan: LiveUpdatePlan) -> None:
    for copy in plan.copies:
        synced.files[copy.remote] = copy.local
        synced.local_paths.add(copy.local)
    for remote in plan.deletes:
        synced.files[remote] = None


async def apply_live_update(res: ResourceState, plan: LiveUpdatePlan, updater: ContainerUpdater, log: Log) -> int:
    """Returns how many containers were updated (0: none running yet; the
    change is remembered and reaches them when they start)."""
    synced = res.synced.setdefault(plan.target, SyncedChanges())
    _remember(synced, plan)
    containers = containers_for(res, plan.target)
    if not containers:
        log(f"No running container for {plan.target} yet; the change will be synced when one starts")
        return 0
    for container in containers:
        log(f"Updating container {container.container} of pod {container.pod}: "
            f"{len(plan.copies)} file(s) copied, {len(plan.deletes)} removed, {len(plan.runs)} run step(s)")
        await updater.update(container, plan, log)
        synced.containers.add(container.container_id)
    return len(containers)


def catch_up_plans(res: ResourceState) -> list[tuple[ContainerRef, LiveUpdatePlan]]:
    """For containers that started after changes were synced, a plan that
    brings them up to date: every file synced since the image was built (as
    it is now on disk), and the run() steps those files trigger."""
    plans = []
    for target_ref, synced in res.synced.items():
        if not synced.files:
            continue
        target = res.manifest.image_target(target_ref)
        copies, deletes = [], []
        for remote, local in sorted(synced.files.items()):
            if local is not None and os.path.lexists(local):
                copies.append(FileCopy(local, remote))
            else:
                deletes.append(remote)
        runs = tuple(step for step in target.live_update if isinstance(step, Run) and (
            not step.triggers or any(p == t or p.startswith(t.rstrip("/") + "/")
                                     for p in synced.local_paths for t in step.triggers)))
        restart = False
        plan = LiveUpdatePlan(target_ref, tuple(copies), tuple(deletes), runs, restart)
        for container in containers_for(res, target_ref):
            if container.container_id not in synced.containers:
                plans.append((container, plan))
    return plans

