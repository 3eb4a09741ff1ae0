"""The engine's state for one resource. Only the engine's event loop touches it."""
from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from tiltpy.model.images import BuiltImage
from tiltpy.engine.forwards import ResourceForwards
from tiltpy.engine.pod_monitor import PodMonitor  # or ComposeMonitor / ServeProcess: same shape
from tiltpy.model.manifest import TRIGGER_MODE_MANUAL, Manifest


@dataclass
class BuildRecord:
    started: float
    finished: float = 0.0
    error: str = ""
    reason: str = ""
    kind: str = "build"  # build | live-update
    span_id: str = ""  # "build:N", N counting the resource's updates from 1
    warnings_before: int = 0  # the resource's build warnings logged before it started
    warning_count: int = 0  # build warnings it printed
    last_warning_seq: int = 0  # log sequence number of the last of them


@dataclass
class SyncedChanges:
    """Everything live-updated into one image target's containers since its
    image was built: a container that starts later (crash, `kubectl delete
    pod`) must get all of it, or it would run stale files."""

    files: dict[str, str | None] = field(default_factory=dict)  # container path -> local path (None: deleted)
    local_paths: set[str] = field(default_factory=set)  # for run() triggers
    containers: set[str] = field(default_factory=set)  # container IDs that have all of the above

    def clear(self) -> None:
        self.files.clear()
        self.local_paths.clear()
        self.containers.clear()


@dataclass
class ResourceState:
    manifest: Manifest
    update_status: str = "pending"  # pending | in_progress | ok | error | none
    update_error: str = ""
    waiting_reason: str = ""
    builds: list[BuildRecord] = field(default_factory=list)
    images: dict[str, BuiltImage] = field(default_factory=dict)
    monitor: PodMonitor | Any | None = None
    forwards: ResourceForwards | None = None  # a Kubernetes resource's port-forwards, open from its start
    ready_once: bool = False
    first_update_done: bool = False
    # Work queued for the resource's loop.
    pending_files: set[str] = field(default_factory=set)
    trigger_requested: bool = False
    definition_changed: bool = False
    containers_changed: bool = False
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    synced: dict[str, SyncedChanges] = field(default_factory=dict)
    task: asyncio.Task[None] | None = None
    enabled: bool = True
    trigger_mode: int = -1  # -1: the manifest's; set by the UI/CLI override
    waiting_for_slot: bool = False  # an update waits for max_parallel_updates
    updates_started: int = 0
    runtime_warnings_before: int = 0  # runtime warnings logged before the latest full update

    def effective_trigger_mode(self) -> int:
        return self.manifest.trigger_mode if self.trigger_mode < 0 else self.trigger_mode

    @property
    def name(self) -> str:
        return self.manifest.name

    @property
    def runtime_status(self) -> str:
        if not self.enabled:
            return "disabled"
        if self.manifest.compose is not None:
            return self.monitor.state.status if self.monitor else "pending"
        if self.manifest.local is not None:
            if not self.manifest.local.serve_cmd:
                return "not_applicable"
            return self.monitor.state.status if self.monitor else "pending"
        k8s = self.manifest.k8s
        if k8s is None or not k8s.has_pods():
            return "not_applicable"
        if self.monitor is None:
            return "pending"
        return self.monitor.state.status

    @property
    def queued(self) -> bool:
        """An update will start without anything else happening (Tilt's
        `queued`): triggered, waiting for a slot, or changes that apply by
        themselves once the current update is done."""
        if self.waiting_for_slot or self.trigger_requested:
            return True
        if not self.first_update_done:
            return False
        auto = self.effective_trigger_mode() != TRIGGER_MODE_MANUAL
        return self.definition_changed or bool(self.pending_files) and auto

    def is_ready(self) -> bool:
        return self.update_status == "ok" and self.runtime_status in ("ok", "not_applicable")

    def record(self, record: BuildRecord) -> None:
        self.builds = (self.builds + [record])[-10:]
