"""What builtins record while a Tiltfile runs, before assembly into manifests."""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

from tiltpy.model.manifest import TRIGGER_MODE_AUTO, TRIGGER_MODE_MANUAL, ImageTarget


BLOB = "blob"
# Tilt's trigger modes are values of type TriggerMode whose str() is their name.
TRIGGER_MODE_NAMES = {TRIGGER_MODE_AUTO: "TRIGGER_MODE_AUTO", TRIGGER_MODE_MANUAL: "TRIGGER_MODE_MANUAL"}


@dataclass(frozen=True)
class TiltValue:
    """A value of one of Tilt's own Starlark types (sync step, port_forward, probe, ...)."""

    type_name: str  # what type() says in Tilt, e.g. "live_update_sync_step"
    payload: Any = None  # the model value it stands for (Sync, PortForward, ...)


class TiltValues:
    """Values of Tilt's own Starlark types handed to Starlark as strings.

    starlark-pyo3 cannot define Starlark types, and its opaque Python objects
    print as `<opaque python object>`. Tilt's blob, live-update steps,
    port_forward and trigger modes have no attributes, only a type() and a
    str(); so we hand Starlark their str() (exactly Tilt's text, so `str()`,
    `%s` and `print` match) and remember here what each text stands for. The
    prelude's type() asks this registry. A string typed in the Tiltfile that
    equals such a text is taken for the value; an empty blob stays a plain
    string (it would make every "" a blob)."""

    def __init__(self) -> None:
        self._by_text: dict[str, TiltValue] = {}
        for mode, name in TRIGGER_MODE_NAMES.items():
            self.add(name, "TriggerMode", mode)

    def add(self, text: str, type_name: str, payload: Any = None) -> str:
        self._by_text[text] = TiltValue(type_name, payload)
        return text

    def get(self, value: Any) -> TiltValue | None:
        return self._by_text.get(value) if isinstance(value, str) else None

    def type_of(self, text: str) -> str:
        found = self._by_text.get(text)
        return found.type_name if found else "string"

    def payload(self, value: Any, kind: type | tuple[type, ...]) -> Any:
        """The model value a string stands for, when it is of `kind`."""
        found = self.get(value)
        if found is not None and isinstance(found.payload, kind):
            return found.payload
        return None


@dataclass
class K8sResourceCall:
    """One k8s_resource() call, applied to the workloads at assembly."""

    workload: str
    new_name: str
    port_forwards: list[Any] | None
    extra_pod_selectors: list[dict[str, str]] | None
    trigger_mode: int | None
    resource_deps: list[str] | None
    objects: list[str] | None
    auto_init: bool | None
    pod_readiness: str
    links: list[Any] | None
    labels: list[str] | None
    where: str  # file that made the call, for error messages
    discovery_strategy: str = ""  # "" | "default" | "selectors-only"


@dataclass
class LocalResourceCall:
    """One local_resource() call."""

    name: str
    target: Any  # LocalTarget
    trigger_mode: int | None
    resource_deps: list[str]
    auto_init: bool
    links: list[Any]
    labels: list[str]


@dataclass
class ComposeCall:
    """One docker_compose() call."""

    project: Any  # tiltpy.compose.config.ComposeProject
    env_file: str
    profiles: list[str]
    wait: bool


@dataclass
class DcResourceCall:
    """One dc_resource() call, applied to the Compose services at assembly."""

    name: str
    trigger_mode: int | None
    resource_deps: list[str] | None
    links: list[Any] | None
    labels: list[str] | None
    auto_init: bool | None
    project_name: str
    new_name: str
    infer_links: bool | None
    image: str = ""  # the image this service runs, when the compose file can't tell (Tilt's `image` arg)


@dataclass
class LoadOptions:
    """Facts about the environment the Tiltfile may ask about."""

    k8s_context: str = ""
    k8s_namespace: str = "default"
    subcommand: str = "up"
    args: list[str] = field(default_factory=list)


@dataclass
class TiltfileState:
    """Everything one Tiltfile load has declared so far; assembly turns it into manifests."""

    tiltfile: str
    options: LoadOptions
    image_targets: list[ImageTarget] = field(default_factory=list)  # add with add_image_target()
    image_target_refs: set[str] = field(default_factory=set)  # their refs: the duplicate check
    k8s_objects: list[dict[str, Any]] = field(default_factory=list)
    k8s_object_ids: set[Any] = field(default_factory=set)  # ObjectIDs of k8s_objects: the duplicate check
    k8s_resource_calls: list[K8sResourceCall] = field(default_factory=list)
    local_resources: list[LocalResourceCall] = field(default_factory=list)
    compose_calls: list[ComposeCall] = field(default_factory=list)
    dc_resource_calls: list[DcResourceCall] = field(default_factory=list)
    watched_files: list[str] = field(default_factory=list)
    watched_set: set[str] = field(default_factory=set)  # the same paths, for the membership test
    logs: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    allowed_k8s_contexts: list[str] = field(default_factory=list)
    default_registry: str = ""
    default_registry_from_cluster: str = ""
    default_registry_single_name: str = ""
    default_trigger_mode: int = TRIGGER_MODE_AUTO
    watch_ignores: list[str] = field(default_factory=list)
    max_parallel_updates: int = 3
    k8s_upsert_timeout_secs: int = 30
    # Tilt's own value types (blob, live-update steps, port_forward, ...) as
    # strings Starlark can print and format exactly as Tilt does; see TiltValues.
    values: TiltValues = field(default_factory=lambda: TiltValues())
    # Per-area state of the builtins in builtins/{config,settings,k8s_extra,
    # custom_build,extensions}.py, keyed by area; each area owns its value's type.
    extra: dict[str, Any] = field(default_factory=dict)
    loader: Any = None  # the loader's evaluator: include(), load_dynamic(), hooks run after evaluation

    def add_image_target(self, target: ImageTarget) -> None:
        self.image_targets.append(target)
        self.image_target_refs.add(target.ref)

    def has_image_target(self, ref: object) -> bool:
        return isinstance(ref, str) and ref in self.image_target_refs

    def watch(self, path: str) -> None:
        path = os.path.abspath(path)
        if path not in self.watched_set:
            self.watched_files.append(path)
            self.watched_set.add(path)
            if os.path.isdir(path):
                self._watch_tree(path)

    def _watch_tree(self, root: str, limit: int = 500) -> None:
        """A directory is watched recursively (watch_file(dir), listdir(recursive=True),
        helm, kustomize): its files are listed too, so editing one reloads the Tiltfile."""
        known = self.watched_set
        added = 0
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames[:] = sorted(d for d in dirnames if d != ".git")
            for name in sorted(filenames):
                if added >= limit:
                    return
                file_path = os.path.join(dirpath, name)
                if file_path not in known:
                    self.watched_files.append(file_path)
                    known.add(file_path)
                    added += 1

    def log(self, line: str) -> None:
        self.logs.append(line)

    def blob(self, text: str) -> str:
        """Tilt's Blob: a string whose type() is 'blob' (k8s_yaml(blob) is YAML,
        k8s_yaml(string) a path)."""
        return self.values.add(text, BLOB) if text else text

    def is_blob(self, text: str) -> bool:
        return self.values.type_of(text) == BLOB
