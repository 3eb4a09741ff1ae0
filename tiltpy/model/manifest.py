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
    """A local port forwarded to a container port (k8s_resource port_forwards)."""

    local_port: int
    container_port: int | None = None  # None: same as local_port
    host: str = ""  # "" means the --host of `up` (localhost by default)
    name: str = ""
    link_path: str = ""


@dataclass(frozen=True)
class Link:
    """A URL shown with the resource (links=)."""

    url: str
    name: str = ""


# Live update steps, in the order Tilt requires them.
@dataclass(frozen=True)
class InitialSync:
    """initial_sync(): sync the whole context when the container first starts."""


@dataclass(frozen=True)
class FallBackOn:
    """fall_back_on(): a change to these paths rebuilds instead of live-updating."""

    paths: tuple[str, ...]  # absolute


@dataclass(frozen=True)
class Sync:
    """sync(): copy changed files under local_path to remote_path in the container."""

    local_path: str  # absolute
    remote_path: str


@dataclass(frozen=True)
class Run:
    """run(): a command run in the container after syncing, if a trigger changed (or always)."""

    command: tuple[str, ...]  # argv; a string command becomes ("sh", "-c", cmd)
    triggers: tuple[str, ...] = ()  # absolute paths
    echo_off: bool = False


@dataclass(frozen=True)
class RestartContainer:
    """restart_container(): restart the container after the update (Docker Compose only)."""


LiveUpdateStep = InitialSync | FallBackOn | Sync | Run | RestartContainer


@dataclass(frozen=True)
class CustomBuild:
    """custom_build(): the user's command builds the image (see image/custom_builder.py)."""

    command: tuple[str, ...]  # argv; a string command becomes ("sh", "-c", cmd)
    deps: tuple[str, ...] = ()  # absolute files/directories: watched, and a change rebuilds
    workdir: str = ""  # absolute; the directory of the Tiltfile that called custom_build by default
    env: tuple[tuple[str, str], ...] = ()  # added to the command's environment (over os.environ)
    tag: str = ""  # the command builds EXPECTED_REF=<name>:<tag> instead of a Tilt-chosen tag
    disable_push: bool = False  # the command pushes (or needn't): never push
    skips_local_docker: bool = False  # the image is not in the local Docker: don't inspect/tag/push
    outputs_image_ref_to: str = ""  # absolute file the command writes the built ref to
    image_deps: tuple[str, ...] = ()  # refs, as written; resolved into ImageTarget.image_deps


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
    # BuildKit only: `docker build --secret` / `--ssh` specs (relative paths made
    # absolute against the Tiltfile's directory), and `--add-host` entries.
    secrets: tuple[str, ...] = ()
    ssh: tuple[str, ...] = ()
    extra_hosts: tuple[str, ...] = ()
    # custom_build(): when set, build with image/custom_builder.py instead of a
    # Dockerfile (context is "-", dockerfile_* are empty; watch custom_build.deps).
    custom_build: CustomBuild | None = None
    # k8s_custom_deploy(live_update=...): never built; only live-updates the
    # containers selected by image (ref) or by container name.
    live_update_only: bool = False
    container_selector: str = ""
    # docker_build_with_restart (ext://restart_process): the image's ENTRYPOINT runs
    # the process under a restart wrapper watching this file (also in `entrypoint`).
    restart_file: str = ""


@dataclass(frozen=True)
class ImageLocator:
    """k8s_kind(image_json_path=/image_object=): where objects of a kind name an image.
    Regexps are case-insensitive and match anywhere (Tilt's partial-match selector)."""

    kind: str  # regexp on kind
    api_version: str = ""  # regexp on apiVersion ("" matches all)
    json_path: str = ""  # k8s JSONPath template, e.g. "{.spec.image}"
    repo_field: str = ""  # image_object: the ref's name goes in <json_path>.<repo_field>
    tag_field: str = ""  # ... and its tag in <json_path>.<tag_field>


@dataclass(frozen=True)
class K8sCustomDeploy:
    """k8s_custom_deploy(): apply/delete commands instead of YAML."""

    apply_cmd: tuple[str, ...]
    delete_cmd: tuple[str, ...]
    deps: tuple[str, ...] = ()  # absolute; a change re-runs apply_cmd
    apply_dir: str = ""
    apply_env: tuple[tuple[str, str], ...] = ()
    delete_dir: str = ""
    delete_env: tuple[tuple[str, str], ...] = ()
    image_deps: tuple[str, ...] = ()  # image refs whose builds are injected as TILT_IMAGE_i
    image_selector: str = ""
    container_selector: str = ""


@dataclass(frozen=True)
class K8sTarget:
    """The Kubernetes objects of one resource, before refs are injected."""

    objects: tuple[dict[str, Any], ...]
    image_refs: tuple[str, ...] = ()  # ImageTarget refs injected into these objects
    port_forwards: tuple[PortForward, ...] = ()
    pod_readiness: str = "wait"  # wait | ignore | succeeded
    extra_pod_selectors: tuple[tuple[tuple[str, str], ...], ...] = ()
    image_locators: tuple[ImageLocator, ...] = ()  # k8s_kind() locators matching these objects
    custom_deploy: K8sCustomDeploy | None = None  # k8s_custom_deploy(): objects is empty
    discovery_strategy: str = ""  # "" / "default" / "selectors-only"

    def has_pods(self) -> bool:
        return any(_pod_template_holder(o) for o in self.objects)


def _pod_template_holder(obj: dict[str, Any]) -> bool:
    kind = obj.get("kind", "")
    return kind == "Pod" or bool((obj.get("spec") or {}).get("template")) or kind == "CronJob"


@dataclass(frozen=True)
class ExecAction:
    """A readiness probe that runs a command (probe(exec=))."""

    command: tuple[str, ...]


@dataclass(frozen=True)
class HTTPGetAction:
    """A readiness probe that GETs a URL (probe(http_get=))."""

    port: int
    host: str = "localhost"
    scheme: str = "http"
    path: str = ""


@dataclass(frozen=True)
class TCPSocketAction:
    """A readiness probe that opens a TCP connection (probe(tcp_socket=))."""

    port: int
    host: str = "localhost"


@dataclass(frozen=True)
class Probe:
    """A readiness probe for a local serve_cmd, with Kubernetes' semantics."""

    action: ExecAction | HTTPGetAction | TCPSocketAction
    initial_delay_secs: int = 0
    timeout_secs: int = 1
    period_secs: int = 10
    success_threshold: int = 1
    failure_threshold: int = 3


@dataclass(frozen=True)
class LocalTarget:
    """local_resource: a command run on this machine when its deps change,
    and/or a long-running serve command restarted after it."""

    cmd: tuple[str, ...] = ()
    serve_cmd: tuple[str, ...] = ()
    workdir: str = ""
    serve_workdir: str = ""
    env: tuple[tuple[str, str], ...] = ()
    serve_env: tuple[tuple[str, str], ...] = ()
    deps: tuple[str, ...] = ()  # absolute files or directories
    ignore: tuple[str, ...] = ()  # dockerignore-style patterns, relative to the Tiltfile's directory
    allow_parallel: bool = False
    readiness_probe: Probe | None = None


@dataclass(frozen=True)
class DockerComposeTarget:
    """One service of a Docker Compose project."""

    service: str
    project_name: str
    config_paths: tuple[str, ...]  # absolute
    project_dir: str
    env_file: str = ""
    profiles: tuple[str, ...] = ()
    wait: bool = False
    image: str = ""  # the service's image: name (what a tiltpy-built image is tagged as)
    image_refs: tuple[str, ...] = ()  # docker_build refs built by tiltpy for this service
    has_build: bool = False  # compose builds it (build: and no docker_build)
    published_ports: tuple[int, ...] = ()
    bind_mounts: tuple[str, ...] = ()  # host dirs bind-mounted into the service (not watched for builds)


@dataclass(frozen=True)
class Manifest:
    """A resource: what the user sees as one row in the UI."""

    name: str
    image_targets: tuple[ImageTarget, ...] = ()  # topologically sorted: bases first
    k8s: K8sTarget | None = None
    local: LocalTarget | None = None
    compose: DockerComposeTarget | None = None
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


@dataclass(frozen=True)
class DockerPruneSettings:
    """docker_prune_settings(): when old tiltpy-built images are removed."""

    enabled: bool = True
    max_age_mins: int = 360
    num_builds: int = 0  # prune after this many builds; 0: every interval_hrs instead
    interval_hrs: int = 1
    keep_recent: int = 2


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
    k8s_grace_period_secs: float = 0.0  # ci_settings(k8s_grace_period=)
    # Resources to run (config.set_enabled_resources, or args after `--` when
    # config.parse() was not called, plus their resource_deps); None: all.
    enabled_resources: list[str] | None = None
    secrets: list[str] = field(default_factory=list)  # values to scrub from logs (empty: secret_settings(disable_scrub=True))
    secret_replacements: dict[str, str] = field(default_factory=dict)  # value -> "[redacted secret name:key]"
    docker_prune: DockerPruneSettings = field(default_factory=lambda: DockerPruneSettings())
    k8s_server_side_apply: str = "auto"  # update_settings(k8s_server_side_apply=)
    version_check_updates: bool = True
    features: dict[str, bool] = field(default_factory=dict)  # enable_feature/disable_feature/disable_snapshots
    analytics_enabled: bool | None = None
    team_id: str = ""
    config_values: dict[str, Any] = field(default_factory=dict)  # what config.parse() returned
    # Tilt's API objects registered by the Tiltfile (v1alpha1.ui_button, cmd, file_watch,
    # config_map, extension, extension_repo, kubernetes_apply, kubernetes_discovery) and the
    # Extension/ExtensionRepo objects ext:// loads create: plain JSON-shaped dicts
    # {apiVersion: "tilt.dev/v1alpha1", kind, metadata: {name, labels?, annotations?},
    #  spec (ConfigMap: data)}, field names as Tilt's API (camelCase), kind by kind in
    # registration order. The engine makes them act (see docs/ARCHITECTURE.md).
    api_objects: list[dict[str, Any]] = field(default_factory=list)

    def manifest(self, name: str) -> Manifest:
        for manifest in self.manifests:
            if manifest.name == name:
                return manifest
        raise KeyError(name)


_STEP_TYPES = (InitialSync, FallBackOn, Sync, Run, RestartContainer, ExecAction, HTTPGetAction, TCPSocketAction)
_JSON_FIELDS: dict[type, tuple[tuple[str, str], ...]] = {}  # per dataclass: (attribute, JSON key)


def _json_fields(cls: type) -> tuple[tuple[str, str], ...]:
    fields = _JSON_FIELDS.get(cls)
    if fields is None:
        fields = _JSON_FIELDS[cls] = tuple(
            (f.name, "".join(part.capitalize() for part in f.name.split("_"))) for f in dataclasses.fields(cls))
    return fields


def json_default(value: Any) -> Any:
    """The `default` of orjson.dumps(..., option=OPT_PASSTHROUGH_DATACLASS) for
    `alpha tiltfile-result`: a dataclass becomes a dict with Tilt-like
    capitalised keys, its values left to orjson (which comes back here for
    nested dataclasses, so the Kubernetes objects inside are never walked in
    Python); anything else JSON lacks, its str()."""
    cls = type(value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        out: dict[str, Any] = {"Step": cls.__name__} if isinstance(value, _STEP_TYPES) else {}
        for name, key in _json_fields(cls):
            out[key] = getattr(value, name)
        return out
    return str(value)
