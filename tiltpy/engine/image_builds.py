"""Building a resource's image targets: one build per ref at a time (two
resources sharing a base wait for each other instead of building it twice),
custom builds, and pushing where the cluster pulls from a registry."""
from __future__ import annotations

import asyncio
from typing import Callable

from tiltpy.engine.connections import Connections
from tiltpy.engine.resource import ResourceState
from tiltpy.image.custom_builder import CustomBuilder
from tiltpy.model.images import BuiltImage

Log = Callable[[str], None]


class ImageBuilds:
    def __init__(self, conns: Connections) -> None:
        self.conns = conns
        self.images: dict[str, BuiltImage] = {}  # the newest build of every ref, across resources
        self._locks: dict[str, asyncio.Lock] = {}

    async def build(self, res: ResourceState, ref: str, log: Log, force: bool) -> BuiltImage:
        builder = self.conns.need_builder()
        manifest = res.manifest
        target = manifest.image_target(ref)
        target_registry = self.conns.deploy_target
        async with self._locks.setdefault(ref, asyncio.Lock()):
            deps = {dep: self.images[dep] for dep in target.image_deps}
            if target.custom_build is not None:
                custom = CustomBuilder(builder.client, target_registry.registry if target_registry else "",
                                       target_registry.registry_from_cluster if target_registry else "")
                built = await asyncio.to_thread(custom.build, target, deps, log, force)
                if target.custom_build.disable_push or target.custom_build.skips_local_docker:
                    self.images[ref] = built
                    return built
            else:
                built = await asyncio.to_thread(builder.build, target, deps, log, force)
            deployed_directly = manifest.k8s is not None and ref in manifest.k8s.image_refs
            if target_registry and target_registry.registry and deployed_directly:
                built = await asyncio.to_thread(builder.push, built, target_registry.registry,
                                                target_registry.registry_from_cluster, log)
            previous = res.images.get(ref)
            if previous is None or previous.image_id != built.image_id:
                # Containers of the new image hold every file: nothing to catch up on.
                synced = res.synced.get(ref)
                if synced:
                    synced.clear()
            self.images[ref] = built
            return built
