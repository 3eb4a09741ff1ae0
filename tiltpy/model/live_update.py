"""What a live update or an update does, as plain data: planned by
engine/update_plan.py, carried out by liveupdate/updaters.py."""
from __future__ import annotations

from dataclasses import dataclass

from tiltpy.model.manifest import Run


@dataclass(frozen=True)
class FileCopy:
    local: str  # absolute path on this machine
    remote: str  # absolute path in the container


@dataclass(frozen=True)
class LiveUpdatePlan:
    target: str  # the image target whose containers are updated
    copies: tuple[FileCopy, ...] = ()
    deletes: tuple[str, ...] = ()  # container paths to remove
    runs: tuple[Run, ...] = ()
    restart: bool = False


@dataclass(frozen=True)
class UpdatePlan:
    rebuild: tuple[str, ...] = ()  # image target refs to rebuild, bases first ("" when none)
    rebuild_reason: str = ""
    live_updates: tuple[LiveUpdatePlan, ...] = ()
    deploy_only: bool = False  # no image touched, but the resource's own inputs changed

    @property
    def is_rebuild(self) -> bool:
        return bool(self.rebuild) or self.deploy_only
