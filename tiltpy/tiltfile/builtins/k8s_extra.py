"""More Kubernetes builtins: filter_yaml, k8s_kind (and the older
k8s_image_json_path), k8s_custom_deploy, workload_to_resource_function,
helm and kustomize; plus what assembly needs from them (kinds that are
workloads, images found by JSONPath, resource names, custom deploys, secrets).

starlark-pyo3 cannot hand a Starlark function to Python, so
workload_to_resource_function is a prelude wrapper: it keeps the function in
the calling file's module and tells Python which file; after evaluation,
assembly calls the exported `tiltpy_internal_w2r(ids)` of that frozen module."""
from __future__ import annotations

import base64
import os
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from tiltpy.image.dockerfile import ref_matches
from tiltpy.k8s.objects import YamlError, object_id, parse_yaml_stream
from tiltpy.model.manifest import ImageLocator, ImageTarget, K8sCustomDeploy
from tiltpy.tiltfile.builtins._common import (
    abs_path,
    area,
    command_dir,
    command_display,
    env_dict,
    go_quote,
)
from tiltpy.tiltfile.errors import TiltfileError, arg_error
from tiltpy.tiltfile.values import as_bool, as_command, as_str, as_str_list, type_name
from tiltpy.tiltfile.yaml_cache import PARSED_YAML

if TYPE_CHECKING:
    from tiltpy.tiltfile.loader import FileContext
    from tiltpy.tiltfile.state import TiltfileState


# --- state ------------------------------------------------------------------

@dataclass
class KindInfo:
    """k8s_kind(): which objects are workloads, where their images are, how pods are ready."""

    kind: str  # case-insensitive regexp (partial match), as given
    api_version: str = ""
    locators: list[ImageLocator] = field(default_factory=list)
    pod_readiness: str = ""

    def matches(self, obj: dict[str, Any]) -> bool:
        try:
            return bool(re.search(self.kind, str(obj.get("kind", "")), re.I)) and \
                bool(re.search(self.api_version, str(obj.get("apiVersion", "")), re.I))
        except re.error:
            return False


@dataclass
class CustomDeployCall:
    """One k8s_custom_deploy() call."""

    name: str
    deploy: K8sCustomDeploy
    live_update_ref: str  # the live-update-only ImageTarget's ref, or ""
    where: str


@dataclass
class K8sExtra:
    """The k8s_kind()s and k8s_custom_deploy()s of a load."""

    # Tilt's initial kinds: Jobs are ready when they succeed, CronJobs never wait.
    kinds: list[KindInfo] = field(default_factory=lambda: [
        KindInfo("Job", "batch/v1", pod_readiness="succeeded"),
        KindInfo("CronJob", "batch/v1", pod_readiness="ignore"),
    ])
    namer_file: str = ""  # the file whose module holds the workload_to_resource_function
    custom_deploys: list[CustomDeployCall] = field(default_factory=list)


def extra(state: TiltfileState) -> K8sExtra:
    return area(state, "k8s_extra", K8sExtra)


def _regexp(builtin: str, param: str, value: str) -> str:
    try:
        re.compile(value)
    except re.error as err:
        raise arg_error(builtin, param, f"error parsing {param} regexp: {err}") from None
    return value


# --- filter_yaml ----------------------------------------------------------------

def _yaml_objects(ctx: FileContext, builtin: str, value: Any) -> list[dict[str, Any]]:
    from tiltpy.tiltfile.builtins.k8s import _yaml_text

    items = value if isinstance(value, (list, tuple)) else ([] if value is None else [value])
    objects: list[dict[str, Any]] = []
    for item in items:
        if not isinstance(item, str):
            raise arg_error(builtin, "yaml", f"got {type_name(item)}, want a path, a list of paths or a blob")
        text, source = _yaml_text(ctx, item)
        try:
            objects.extend(parse_yaml_stream(text, PARSED_YAML.documents))
        except YamlError as err:
            raise TiltfileError(f"{builtin}: {source}: {err}") from None
    return objects


def serialize_objects(objects: list[dict[str, Any]]) -> str:
    """Tilt's SerializeSpecYAML: documents joined by a `---` line."""
    import yaml

    return "\n---\n".join(yaml.safe_dump(o, sort_keys=False, default_flow_style=False, width=1 << 30).rstrip("\n")
                          for o in objects) + ("\n" if objects else "")


def _namespace(obj: dict[str, Any]) -> str:
    return str((obj.get("metadata") or {}).get("namespace") or "default")


def filter_yaml(ctx: FileContext, yaml: Any, labels: Any = None, name: Any = None,  # noqa: A002
                namespace: Any = None, kind: Any = None, api_version: Any = None) -> tuple[str, str]:
    fn = "filter_yaml"
    objects = _yaml_objects(ctx, fn, yaml)
    wanted_labels: dict[str, str] = {}
    if labels is not None:
        if not isinstance(labels, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in labels.items()):
            raise arg_error(fn, "labels", f"got {type_name(labels)}, want dict of string to string")
        wanted_labels = dict(labels)
    patterns = {
        param: _regexp(fn, param, as_str(fn, param, value))
        for param, value in (("name", name), ("namespace", namespace), ("kind", kind), ("api_version", api_version))
    }

    def selected(obj: dict[str, Any]) -> bool:
        meta = obj.get("metadata") or {}
        fields = {"name": str(meta.get("name", "")), "namespace": _namespace(obj), "kind": str(obj.get("kind", "")),
                  "api_version": str(obj.get("apiVersion", ""))}
        if not all(re.search(p, fields[param], re.I) for param, p in patterns.items() if p):
            return False
        obj_labels = meta.get("labels") or {}
        return all(obj_labels.get(k) == v for k, v in wanted_labels.items())

    match = [o for o in objects if selected(o)]
    rest = [o for o in objects if not selected(o)]
    return ctx.state.blob(serialize_objects(match)), ctx.state.blob(serialize_objects(rest))


# --- k8s_kind ---------------------------------------------------------------------

def _locators_from_paths(builtin: str, kind: str, api_version: str, value: Any) -> list[ImageLocator]:
    from tiltpy.k8s.jsonpath import JSONPathError, parse as parse_jsonpath

    paths = value if isinstance(value, (list, tuple)) else ([] if value is None else [value])
    out = []
    for path in paths:
        if not isinstance(path, str):
            raise arg_error(builtin, "image_json_path", f"Expected string, got: {path!r}")
        try:
            parse_jsonpath(path)
        except JSONPathError as err:
            raise arg_error(builtin, "image_json_path", str(err)) from None
        out.append(ImageLocator(kind=kind, api_version=api_version, json_path=path))
    return out


def _object_locator(builtin: str, kind: str, api_version: str, value: Any) -> ImageLocator | None:
    from tiltpy.k8s.jsonpath import JSONPathError, parse as parse_jsonpath

    if value is None or value == {}:
        return None
    shape = "Expected dict of the form {'json_path': str, 'repo_field': str, 'tag_field': str}"
    if not isinstance(value, dict):
        raise arg_error(builtin, "image_object", f"{shape}. Actual: {value!r}")
    for key, item in value.items():
        if key not in ("json_path", "repo_field", "tag_field"):
            raise arg_error(builtin, "image_object", f"{shape}: Unexpected key: {key}")
        if not isinstance(item, str):
            raise arg_error(builtin, "image_object", f'{shape}: Expected string at key "{key}". Got: {type_name(item)}')
    if len(value) != 3:
        raise arg_error(builtin, "image_object", f"{shape}: Missing keys. Actual keys: {sorted(value)}")
    try:
        parse_jsonpath(value["json_path"])
    except JSONPathError as err:
        raise arg_error(builtin, "image_object", str(err)) from None
    return ImageLocator(kind=kind, api_version=api_version, json_path=value["json_path"],
                        repo_field=value["repo_field"], tag_field=value["tag_field"])


def _kind_info(state: TiltfileState, kind: str, api_version: str) -> KindInfo:
    for info in extra(state).kinds:
        if info.kind == kind and info.api_version == api_version:
            return info
    info = KindInfo(kind, api_version)
    extra(state).kinds.append(info)
    return info


def k8s_kind(ctx: FileContext, kind: Any, *, api_version: Any = None, image_json_path: Any = None,
             image_object: Any = None, pod_readiness: Any = "") -> None:
    """Only `kind` may be positional (Tilt: "got 2 arguments, want at most 1")."""
    fn = "k8s_kind"
    kind = _regexp(fn, "kind", as_str(fn, "kind", kind, allow_none=False))
    api_version = _regexp(fn, "api_version", as_str(fn, "api_version", api_version))
    readiness = as_str(fn, "pod_readiness", pod_readiness)
    if readiness not in ("", "wait", "ignore", "succeeded"):
        raise arg_error(fn, "pod_readiness", f"Invalid value. Allowed: {{ignore, wait}}. Got: {readiness}")
    paths = _locators_from_paths(fn, kind, api_version, image_json_path)
    obj_locator = _object_locator(fn, kind, api_version, image_object)
    if paths and obj_locator:
        raise TiltfileError("Cannot specify both image_json_path and image_object")
    info = _kind_info(ctx.state, kind, api_version)
    if paths:
        info.locators = paths
    elif obj_locator:
        info.locators = [obj_locator]
    if readiness:
        info.pod_readiness = readiness


def k8s_image_json_path(ctx: FileContext, paths: Any, api_version: Any = "", kind: Any = "", name: Any = "",
                        namespace: Any = "") -> None:
    """Deprecated form of k8s_kind(image_json_path=...); name/namespace are
    accepted but only kind and api_version select objects here."""
    fn = "k8s_image_json_path"
    kind, api_version = as_str(fn, "kind", kind), as_str(fn, "api_version", api_version)
    name, namespace = as_str(fn, "name", name), as_str(fn, "namespace", namespace)
    if not kind and not name and not namespace:
        raise TiltfileError("at least one of kind, name, or namespace must be specified")
    info = _kind_info(ctx.state, _regexp(fn, "kind", kind), _regexp(fn, "api_version", api_version))
    info.locators = _locators_from_paths(fn, kind, api_version, paths)


# --- workload_to_resource_function --------------------------------------------------

def workload_to_resource_function(ctx: FileContext, described: Any = "") -> None:
    """Registered as `_workload_to_resource_function`; the prelude's wrapper
    keeps the function in this file's module."""
    extra(ctx.state).namer_file = ctx.path


def resource_names(state: TiltfileState, workloads: list[dict[str, Any]], default: Any) -> list[str]:
    """Names for workload resources: the user's function when one was given
    (names must be unique), else Tilt's unique names."""
    namer = extra(state).namer_file
    if not namer:
        return default(workloads)
    module = state.loader.cache.get(namer) if state.loader is not None else None
    if module is None:
        return default(workloads)
    ids = []
    for obj in workloads:
        oid = object_id(obj)
        ids.append({"name": oid.name, "kind": oid.kind, "namespace": oid.namespace or "default",
                    "group": oid.api_group})
    names = module.call("tiltpy_internal_w2r", ids)
    taken: dict[str, str] = {}
    out = []
    for oid, name in zip(ids, names):
        label = f"{oid['name']}:{oid['kind']}:{oid['namespace']}:{oid['group']}".lower()
        if not isinstance(name, str):
            raise TiltfileError(f"workload_to_resource_function: error determining resource name for '{label}': "
                                f"invalid return value. wanted: string. got: {type_name(name)}")
        if name in taken:
            raise TiltfileError(f"workload_to_resource_function: both '{label}' and '{taken[name]}' mapped to "
                                f"resource name '{name}'")
        taken[name] = label
        out.append(name)
    return out


# --- k8s_custom_deploy ----------------------------------------------------------------

def k8s_custom_deploy(ctx: FileContext, name: Any, apply_cmd: Any, delete_cmd: Any, deps: Any,
                      image_selector: Any = "", live_update: Any = None, apply_dir: Any = "", apply_env: Any = None,
                      apply_cmd_bat: Any = "", delete_dir: Any = "", delete_env: Any = None,
                      delete_cmd_bat: Any = "", container_selector: Any = "", image_deps: Any = None) -> None:
    from tiltpy.tiltfile.builtins.docker import validate_ref
    from tiltpy.tiltfile.builtins.live_update import validate_steps

    fn = "k8s_custom_deploy"
    name = as_str(fn, "name", name, allow_none=False)
    if not name:
        raise arg_error(fn, "name", "must not be empty")
    apply_argv = as_command(fn, "apply_cmd", apply_cmd)
    as_command(fn, "apply_cmd_bat", apply_cmd_bat)
    if not apply_argv:
        raise TiltfileError("k8s_custom_deploy: apply_cmd cannot be empty")
    delete_argv = as_command(fn, "delete_cmd", delete_cmd)
    as_command(fn, "delete_cmd_bat", delete_cmd_bat)
    if not delete_argv:
        raise TiltfileError("k8s_custom_deploy: delete_cmd cannot be empty")
    dep_paths = [abs_path(ctx, p) for p in _path_list(fn, "deps", deps)]
    steps = validate_steps(fn, live_update or [], ctx)
    image_selector = as_str(fn, "image_selector", image_selector)
    container_selector = as_str(fn, "container_selector", container_selector)
    image_dep_refs = [validate_ref(fn, r) for r in as_str_list(fn, "image_deps", image_deps)]
    state = ctx.state
    if any(c.name == name for c in extra(state).custom_deploys):
        raise TiltfileError(f'error making resource for {name}: k8s_resource named "{name}" already exists')

    live_ref = ""
    if steps:
        if image_selector and container_selector:
            raise TiltfileError("k8s_custom_deploy: cannot specify more than one Live Update selector")
        if not image_selector and not container_selector:
            raise TiltfileError("k8s_custom_deploy: no Live Update selector specified")
        live_ref = validate_ref(fn, image_selector) if image_selector else f"k8s_custom_deploy:{name}"
        if state.has_image_target(live_ref):
            raise TiltfileError(f'{fn}: image for ref "{live_ref}" has already been defined')
        state.add_image_target(ImageTarget(
            ref=live_ref, context="-", dockerfile_path="", dockerfile_contents="", live_update=steps,
            live_update_only=True, container_selector=container_selector,
        ))
    deploy = K8sCustomDeploy(
        apply_cmd=tuple(apply_argv), delete_cmd=tuple(delete_argv), deps=tuple(dep_paths),
        apply_dir=command_dir(ctx, fn, "apply_dir", apply_dir),
        apply_env=tuple(sorted(env_dict(fn, "apply_env", apply_env).items())),
        delete_dir=command_dir(ctx, fn, "delete_dir", delete_dir),
        delete_env=tuple(sorted(env_dict(fn, "delete_env", delete_env).items())),
        image_deps=tuple(image_dep_refs), image_selector=image_selector, container_selector=container_selector,
    )
    extra(state).custom_deploys.append(CustomDeployCall(name, deploy, live_ref, ctx.path))


def _path_list(builtin: str, param: str, value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            if not isinstance(item, str):
                raise arg_error(builtin, param, f"unpacking list item at index {i}: expected path | string. "
                                f"Actual type: {type_name(item)}")
        return list(value)
    raise arg_error(builtin, param, f"value should be a string or List or Tuple of strings, but is of type "
                    f"{type_name(value)}")


def custom_deploy_image_refs(state: TiltfileState, call: CustomDeployCall, targets: list[ImageTarget]) -> list[str]:
    """The image target refs a custom deploy depends on (image_deps, then its
    live-update-only target); a missing image_dep is an error, as in Tilt."""
    refs: list[str] = []
    for dep in call.deploy.image_deps:
        target = next((t for t in targets if ref_matches(t.ref, dep)), None)
        if target is None:
            raise TiltfileError(f'resource "{call.name}": image build "{dep}" not found')
        refs.append(target.ref)
    if call.live_update_ref:
        refs.append(call.live_update_ref)
    return list(dict.fromkeys(refs))


def resolved_custom_deploy(call: CustomDeployCall, refs: list[str]) -> K8sCustomDeploy:
    """The deploy with image_deps resolved to ImageTarget refs (build order as written)."""
    from dataclasses import replace

    resolved = [r for r in refs if r != call.live_update_ref]
    return replace(call.deploy, image_deps=tuple(resolved))


# --- assembly helpers -----------------------------------------------------------------

def is_kind_workload(state: TiltfileState, obj: dict[str, Any]) -> bool:
    """Objects of a kind given to k8s_kind() (or Job/CronJob) are workloads."""
    return any(info.matches(obj) for info in extra(state).kinds)


def all_locators(state: TiltfileState) -> list[ImageLocator]:
    return [loc for info in extra(state).kinds for loc in info.locators]


def locator_images(state: TiltfileState, obj: dict[str, Any]) -> list[str]:
    locators = all_locators(state)
    if not locators:  # most Tiltfiles: no JSONPath module to import
        return []
    from tiltpy.k8s.jsonpath import find_images

    return find_images(obj, locators)


def locators_for(state: TiltfileState, objects: list[dict[str, Any]]) -> tuple[ImageLocator, ...]:
    locators = all_locators(state)
    if not locators:
        return ()
    from tiltpy.k8s.jsonpath import locator_applies

    return tuple(loc for loc in locators if any(locator_applies(loc, o) for o in objects))


def kind_readiness(state: TiltfileState, objects: list[dict[str, Any]]) -> str:
    """The pod readiness the kinds of these objects ask for: wait, then
    ignore, then succeeded win (Tilt's order)."""
    modes = {info.pod_readiness for o in objects for info in extra(state).kinds
             if info.pod_readiness and info.matches(o)}
    for mode in ("wait", "ignore", "succeeded"):
        if mode in modes:
            return mode
    return ""


def secrets_of(state: TiltfileState) -> tuple[list[str], dict[str, str]]:
    """Values of every Secret declared with k8s_yaml (data decoded, and
    stringData), plus their base64 forms; Tilt skips values under 5 bytes."""
    values: list[str] = []
    replacements: dict[str, str] = {}
    for obj in state.k8s_objects:
        if obj.get("kind") != "Secret" or str(obj.get("apiVersion", "")) != "v1":
            continue
        name = str((obj.get("metadata") or {}).get("name", ""))
        pairs: list[tuple[str, bytes]] = []
        for key, data in (obj.get("data") or {}).items():
            try:
                pairs.append((str(key), base64.b64decode(str(data), validate=False)))
            except (ValueError, TypeError):
                continue
        for key, data in (obj.get("stringData") or {}).items():
            pairs.append((str(key), str(data).encode()))
        for key, raw in pairs:
            if len(raw) < 5:
                continue
            replacement = f"[redacted secret {name}:{key}]"
            for text in (raw.decode("utf-8", errors="replace"), base64.b64encode(raw).decode()):
                if text not in replacements:
                    values.append(text)
                replacements[text] = replacement
    return values, replacements


# --- helm and kustomize -----------------------------------------------------------------

def _which(program: str) -> str | None:
    import shutil  # with its compression modules, only when helm() or kustomize() runs

    return shutil.which(program)


def _run_tool(ctx: FileContext, argv: list[str], cwd: str, log_command: bool = True, prefix: str = "Running:") -> str:
    shown = command_display(argv)
    if log_command:
        ctx.state.log(f"{prefix} {shown}")
    import subprocess

    from tiltpy import children  # its thread pool and logging only when a command runs

    try:
        proc = children.run(argv, cwd=cwd, capture_output=True, text=True, errors="replace",
                            stdin=subprocess.DEVNULL)
    except (OSError, children.Stopping) as err:
        raise TiltfileError(f"command {go_quote(shown)} failed.\nerror: {err}") from None
    if proc.returncode != 0:
        raise TiltfileError(f"command {go_quote(shown)} failed.\nerror: exit status {proc.returncode}"
                            f"\nstdout:\n{proc.stdout}\nstderr:\n{proc.stderr}\n")
    return proc.stdout


_HELM_TEST = re.compile(r"^# Source: .*/tests/", re.M)


def _helm_version(ctx: FileContext) -> str:
    """'3.0' or '3.1+' (Tilt's two cases); other versions are an error."""
    out = _run_tool(ctx, ["helm", "version", "--short"], ctx.dir, log_command=False)
    lines = out.strip().split("\n")
    version = lines[-1] if len(lines) > 1 else out
    if version.startswith("v3.0."):
        return "3.0"
    if version.startswith(("v3.", "3.", "v4.")):
        return "3.1+"
    raise TiltfileError(f"could not parse Helm version from string: {go_quote(out)}")


def _local_subcharts(chart: str) -> list[str]:
    import yaml

    path = os.path.join(chart, "requirements.yaml")
    try:
        with open(path, encoding="utf-8") as f:
            data = yaml.safe_load(f) or {}
    except FileNotFoundError:
        return []
    except yaml.YAMLError as err:
        raise TiltfileError(f"helm: reading subchart deps: {err}") from None
    out = []
    for dep in data.get("dependencies") or []:
        repo = str((dep or {}).get("repository", ""))
        if repo.startswith("file://"):
            out.append(repo[len("file://"):])
    return out


def helm(ctx: FileContext, pathToChartDir: Any, name: Any = "", namespace: Any = "", values: Any = None,  # noqa: N803
         set: Any = None, kube_version: Any = "", skip_crds: Any = False) -> str:  # noqa: A002
    fn = "helm"
    chart = abs_path(ctx, as_str(fn, "paths", pathToChartDir, allow_none=False))
    name = as_str(fn, "name", name)
    namespace = as_str(fn, "namespace", namespace)
    value_files = as_str_list(fn, "values", values)
    set_values = as_str_list(fn, "set", set)
    kube_version = as_str(fn, "kube_version", kube_version)
    skip_crds = as_bool(fn, "skip_crds", skip_crds)
    if not os.path.exists(chart):
        raise TiltfileError(f'Could not read Helm chart directory "{chart}": does not exist')
    if not os.path.isdir(chart):
        raise TiltfileError(f'helm() may only be called on directories with Chart.yaml: "{chart}"')
    ctx.state.watch(chart)
    for dep in _local_subcharts(chart):
        ctx.state.watch(abs_path(ctx, dep))
    if _which("helm") is None:
        raise TiltfileError("Unable to find Helm installation. Make sure `helm` is on your $PATH.")
    version = _helm_version(ctx)
    argv = ["helm", "template", name or "chart", chart]
    if namespace:
        argv += ["--namespace", namespace]
    if kube_version:
        argv += ["--kube-version", kube_version]
    if not skip_crds and version == "3.1+":
        argv.append("--include-crds")
    for value_file in value_files:
        argv += ["--values", value_file]
        ctx.state.watch(abs_path(ctx, value_file))
    for item in set_values:
        argv += ["--set", item]
    out = _run_tool(ctx, argv, ctx.dir)
    text = "---\n".join(part for part in out.split("---\n") if not _HELM_TEST.search(part))
    if version == "3.0":
        crds = []
        for root, _dirs, files in os.walk(os.path.join(chart, "crds")):
            for fname in sorted(files):
                if fname.lower().endswith((".yaml", ".yml")):
                    with open(os.path.join(root, fname), encoding="utf-8") as f:
                        crds.append(f.read())
        text = "\n---\n".join([text, *crds])
    if namespace:
        try:
            objects = parse_yaml_stream(text, PARSED_YAML.documents)
        except YamlError as err:
            raise TiltfileError(f"helm: {err}") from None
        for obj in objects:
            meta = obj.setdefault("metadata", {})
            if not meta.get("namespace"):
                meta["namespace"] = namespace
        text = serialize_objects(objects)
    return ctx.state.blob(text)


_KUSTOMIZATION_FILES = ("kustomization.yaml", "kustomization.yml", "Kustomization")


def _kustomize_deps(path: str, seen: set[str] | None = None) -> list[str]:
    """The files a kustomization reads (recursively): watched like Tilt's kustomize.Deps."""
    seen = set() if seen is None else seen
    if path in seen:
        return []
    seen.add(path)
    if os.path.isfile(path):
        return [path]
    kfile = next((os.path.join(path, n) for n in _KUSTOMIZATION_FILES if os.path.isfile(os.path.join(path, n))), None)
    if kfile is None:
        return []
    import yaml

    deps = [kfile]
    try:
        with open(kfile, encoding="utf-8") as f:
            data = yaml.safe_load(f) or {}
    except (OSError, yaml.YAMLError):
        return deps
    if not isinstance(data, dict):
        return deps
    refs: list[str] = []
    for key in ("resources", "bases", "components", "crds", "patchesStrategicMerge", "configurations",
                "transformers", "generators", "validators"):
        refs += [r for r in data.get(key) or [] if isinstance(r, str)]
    for key in ("patches", "patchesJson6902", "replacements"):
        refs += [p.get("path") for p in data.get(key) or [] if isinstance(p, dict) and isinstance(p.get("path"), str)]
    for key in ("configMapGenerator", "secretGenerator"):
        for gen in data.get(key) or []:
            if not isinstance(gen, dict):
                continue
            for item in (gen.get("files") or []) + (gen.get("envs") or []) + ([gen["env"]] if gen.get("env") else []):
                if isinstance(item, str):
                    refs.append(item.split("=", 1)[-1])
    for ref in refs:
        if "://" in ref or ref.startswith("github.com/"):
            continue
        deps += _kustomize_deps(os.path.normpath(os.path.join(path, ref)), seen)
    return deps


def kustomize(ctx: FileContext, pathToDir: Any, kustomize_bin: Any = None, flags: Any = None) -> str:  # noqa: N803
    fn = "kustomize"
    path = abs_path(ctx, as_str(fn, "paths", pathToDir, allow_none=False))
    flag_list = as_str_list(fn, "flags", flags)
    binary = abs_path(ctx, as_str(fn, "kustomize_bin", kustomize_bin)) if kustomize_bin else ""
    if binary:
        if not (os.path.isfile(binary) and os.access(binary, os.X_OK)):
            raise TiltfileError(f'kustomize: exec: "{binary}": executable file not found')
        argv = [binary, "build"]
    elif _which("kustomize"):
        argv = ["kustomize", "build"]
    else:
        ctx.state.log("Falling back to `kubectl kustomize` since `kustomize` was not found in PATH")
        if _which("kubectl") is None:
            raise TiltfileError("kustomize: neither `kustomize` nor `kubectl` was found in PATH")
        argv = ["kubectl", "kustomize"]
    rel = os.path.relpath(path, ctx.dir)
    out = _run_tool(ctx, argv + flag_list + [rel], ctx.dir)
    ctx.state.watch(path)
    for dep in _kustomize_deps(path):
        ctx.state.watch(dep)
    return ctx.state.blob(out)


BUILTINS = {
    "filter_yaml": filter_yaml,
    "k8s_kind": k8s_kind,
    "k8s_image_json_path": k8s_image_json_path,
    "_workload_to_resource_function": workload_to_resource_function,
    "k8s_custom_deploy": k8s_custom_deploy,
    "helm": helm,
    "kustomize": kustomize,
}

PRELUDE = """
_w2r_fns = []
def workload_to_resource_function(func):
    if type(func) != "function":
        fail("workload_to_resource_function: for parameter \\"func\\": got %s, want function" % type(func))
    _w2r_fns.append(func)
    _workload_to_resource_function(str(func))
def tiltpy_internal_w2r(ids):
    func = _w2r_fns[-1]
    return [func(struct(name = i["name"], kind = i["kind"], namespace = i["namespace"], group = i["group"])) for i in ids]
"""
