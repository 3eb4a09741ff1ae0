"""Plain data describing what a Tiltfile asked for.

The Tiltfile layer produces these; the engine, builders and deployers consume
them. Nothing here performs I/O, so a manifest can be compared, printed as
JSON and diffed between Tiltfile loads.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

TRIGGER_MODE_AUTO = 0
TRIGGER_MODE_MANUAL = 1

UNCATEGORIZED = "uncategorized"


@dataclass(frozen=True)
class PortForward:
    local_port: int
    container_port: int | None = None  # None: same as local_port
    host: str = ""  # "" means the --host of `up` (localhost by default)
    name: str = ""
    link_path: str = ""


@dataclass(frozen=True)
class Link:
    url: str
    name: str = ""


# Live update steps, in the order Tilt requires them.
@dataclass(frozen=True)
class InitialSync:
    pass


@dataclass(frozen=True)
class FallBackOn:
    paths: tuple[str, ...]  # absolute


@dataclass(frozen=True)
class Sync:
    local_path: str  # absolute
    remote_path: str


@dataclass(frozen=True)
class Run:
    command: tuple[str, ...]  # argv; a string command becomes ("sh", "-c", cmd)
    triggers: tuple[str, ...] = ()  # absolute paths
    echo_off: bool = False


@dataclass(frozen=True)
class RestartContainer:
    pass


LiveUpdateStep = InitialSync | FallBackOn | Sync | Run | RestartContainer


@dataclass(frozen=True)
class ImageTarget:
    """One docker_build: how to build an image and which images it builds on."""

    ref: str  # the selector as written in the Tiltfile, e.g. "nodejs-express-app-image"
    context: str  # absolute directory, or "-" for an empty context
    dockerfile_path: str  # absolute; "" when dockerfile_contents was given inline
    dockerfile_contents: str
    build_args: tuple[tuple[str, str], ...] = ()
    target: str = ""
    entrypoint: tuple[str, ...] = ()
    container_args: tuple[str, ...] | None = None
    ignore: tuple[str, ...] = ()
    only: tuple[str, ...] = ()
    match_in_env_vars: bool = False
    live_update: tuple[LiveUpdateStep, ...] = ()
    image_deps: tuple[str, ...] = ()  # refs of other ImageTargets this one is built FROM
    extra_tags: tuple[str, ...] = ()
    network: str = ""
    pull: bool = False
    cache_from: tuple[str, ...] = ()
    platform: str = ""


@dataclass(frozen=True)
class K8sTarget:
    """The Kubernetes objects of one resource, before refs are injected."""

    objects: tuple[dict[str, Any], ...]
    image_refs: tuple[str, ...] = ()  # ImageTarget refs injected into these objects
    port_forwards: tuple[PortForward, ...] = ()
    pod_readiness: str = "wait"  # wait | ignore | succeeded
    extra_pod_selectors: tuple[tuple[tuple[str, str], ...], ...] = ()

    def has_pods(self) -> bool:
        return any(_pod_template_holder(o) for o in self.objects)


def _pod_template_holder(obj: dict[str, Any]) -> bool:
    kind = obj.get("kind", "")
    return kind == "Pod" or bool((obj.get("spec") or {}).get("template")) or kind == "CronJob"


@dataclass(frozen=True)
class Manifest:
    """A resource: what the user sees as one row in the UI."""

    name: str
    image_targets: tuple[ImageTarget, ...] = ()  # topologically sorted: bases first
    k8s: K8sTarget | None = None
    resource_deps: tuple[str, ...] = ()
    labels: tuple[str, ...] = ()
    links: tuple[Link, ...] = ()
    trigger_mode: int = TRIGGER_MODE_AUTO
    auto_init: bool = True
    source_order: int = 0  # position in the Tiltfile, for first-build ordering

    def image_target(self, ref: str) -> ImageTarget:
        for target in self.image_targets:
            if target.ref == ref:
                return target
        raise KeyError(ref)


@dataclass
class TiltfileResult:
    """Everything one Tiltfile load produced. A failed load still has its
    watched files, so `up` can wait for the user to fix the Tiltfile."""

    tiltfile: str
    manifests: list[Manifest] = field(default_factory=list)
    watched_files: list[str] = field(default_factory=list)
    error: str = ""
    warnings: list[str] = field(default_factory=list)
    logs: list[str] = field(default_factory=list)
    allowed_k8s_contexts: list[str] = field(default_factory=list)
    default_registry: str = ""
    default_registry_from_cluster: str = ""
    default_registry_single_name: str = ""
    watch_ignores: list[str] = field(default_factory=list)
    max_parallel_updates: int = 3
    k8s_upsert_timeout_secs: int = 30
    ci_timeout_secs: float = 30 * 60
    readiness_timeout_secs: float = 5 * 60

    def manifest(self, name: str) -> Manifest:
        for manifest in self.manifests:
            if manifest.name == name:
                return manifest
        raise KeyError(name)


def to_jsonable(value: Any) -> Any:
    """Dataclasses to dicts with Tilt-like capitalised keys, for `alpha tiltfile-result`."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        out: dict[str, Any] = {}
        if isinstance(value, (InitialSync, FallBackOn, Sync, Run, RestartContainer)):
            out["Step"] = type(value).__name__
        for f in dataclasses.fields(value):
            key = "".join(part.capitalize() for part in f.name.split("_"))
            out[key] = to_jsonable(getattr(value, f.name))
        return out
    if isinstance(value, (list, tuple)):
        return [to_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {k: to_jsonable(v) for k, v in value.items()}
    return value
