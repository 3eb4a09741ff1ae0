"""A built image, as the builders report it and the deployers use it."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class BuiltImage:
    target_ref: str  # the docker_build ref (selector)
    image_id: str  # sha256:...
    local_ref: str  # name:tilt-<16 hex>, tagged in the local engine
    cluster_ref: str  # the ref the cluster pulls (registry-qualified after a push)
    inputs: str  # digest of everything that went into the build
    reused: bool = False
    context_files: frozenset[str] = frozenset()  # absolute paths of the files the image was built from
