"""The `v1alpha1` module: Tilt's API objects (cmd, config_map, extension,
extension_repo, file_watch, kubernetes_apply, kubernetes_discovery,
ui_button) and the helpers that build their specs (ui_text_input_spec,
start_on_spec, probe, ...), as Tilt v0.32.4 registers them.

As in Tilt, a helper returns a plain dict of the arguments it was given (after
checking them: a dict is accepted wherever a helper's value is), and a
constructor checks its arguments, validates the object and records it; it
returns None. The recorded objects are plain JSON-shaped data in Tilt's API
shape ({apiVersion, kind, metadata, spec}, camelCase fields, Go's omitempty)
that the engine makes act (TiltfileResult.api_objects)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from tiltpy.tiltfile.builtins._common import abs_path, area, go_quote, parse_go_duration
from tiltpy.tiltfile.errors import TiltfileError
from tiltpy.tiltfile.values import type_name

if TYPE_CHECKING:
    from tiltpy.tiltfile.loader import FileContext
    from tiltpy.tiltfile.state import TiltfileState

API_VERSION = "tilt.dev/v1alpha1"
ANNOTATION_MANAGED_BY = "tilt.dev/managed-by"


# --- the schema -------------------------------------------------------------------
#
# Field kinds: "str", "int32", "bool", "strlist", "strmap", "path" (made absolute
# against the file executing), "pathlist", "duration", "time", a spec type name
# (a nested object), or "[]" + a spec type name (a list of them).

@dataclass(frozen=True)
class Field:
    """One spec field of a v1alpha1 object: its Starlark parameter and JSON name."""

    key: str  # the Starlark name (helper parameter / dict key)
    json: str  # the JSON name
    kind: str
    omitempty: bool = True
    pointer: bool = False  # Go *T: absent -> omitted; present -> kept even when zero


def _f(key: str, json: str, kind: str, omitempty: bool = True, pointer: bool = False) -> Field:
    return Field(key, json, kind, omitempty, pointer)


# Spec types: their fields (in Go's order) as Tilt's dict unpacking accepts them.
SPEC_TYPES: dict[str, tuple[Field, ...]] = {
    "ConfigMapDisableSource": (_f("name", "name", "str", False), _f("key", "key", "str", False)),
    "DisableSource": (_f("config_map", "configMap", "ConfigMapDisableSource", pointer=True),
                      _f("every_config_map", "everyConfigMap", "[]ConfigMapDisableSource")),
    "ExecAction": (_f("command", "command", "strlist"),),
    "Forward": (_f("local_port", "localPort", "int32"), _f("container_port", "containerPort", "int32", False),
                _f("host", "host", "str", False), _f("name", "name", "str"), _f("path", "path", "str")),
    "HTTPGetAction": (_f("path", "path", "str"), _f("port", "port", "int32", False), _f("host", "host", "str"),
                      _f("scheme", "scheme", "str"), _f("http_headers", "httpHeaders", "[]HTTPHeader")),
    "HTTPHeader": (_f("name", "name", "str", False), _f("value", "value", "str", False)),
    "Handler": (_f("exec", "exec", "ExecAction", pointer=True), _f("http_get", "httpGet", "HTTPGetAction", pointer=True),
                _f("tcp_socket", "tcpSocket", "TCPSocketAction", pointer=True)),
    "IgnoreDef": (_f("base_path", "basePath", "path", False), _f("patterns", "patterns", "strlist")),
    "KubernetesApplyCmd": (_f("args", "args", "strlist", False), _f("dir", "dir", "path", False),
                           _f("env", "env", "strlist", False)),
    "KubernetesDiscoveryTemplateSpec": (_f("extra_selectors", "extraSelectors", "[]LabelSelector"),),
    "KubernetesImageLocator": (_f("object_selector", "objectSelector", "ObjectSelector", False),
                               _f("path", "path", "str", False),
                               _f("object", "object", "KubernetesImageObjectDescriptor", pointer=True)),
    "KubernetesImageObjectDescriptor": (_f("repo_field", "repoField", "str", False),
                                        _f("tag_field", "tagField", "str", False)),
    "KubernetesWatchRef": (_f("uid", "uid", "str"), _f("namespace", "namespace", "str", False),
                           _f("name", "name", "str")),
    "LabelSelector": (_f("match_labels", "matchLabels", "strmap"),
                      _f("match_expressions", "matchExpressions", "[]LabelSelectorRequirement")),
    "LabelSelectorRequirement": (_f("key", "key", "str", False), _f("operator", "operator", "str", False),
                                 _f("values", "values", "strlist")),
    "ObjectSelector": (_f("api_version_regexp", "apiVersionRegexp", "str"), _f("kind_regexp", "kindRegexp", "str"),
                       _f("name_regexp", "nameRegexp", "str"), _f("namespace_regexp", "namespaceRegexp", "str")),
    "PodLogStreamTemplateSpec": (_f("only_containers", "onlyContainers", "strlist"),
                                 _f("ignore_containers", "ignoreContainers", "strlist")),
    "PortForwardTemplateSpec": (_f("forwards", "forwards", "[]Forward", False),),
    # Handler is inline in Probe: its fields come first in the JSON.
    "Probe": (_f("exec", "exec", "ExecAction", pointer=True), _f("http_get", "httpGet", "HTTPGetAction", pointer=True),
              _f("tcp_socket", "tcpSocket", "TCPSocketAction", pointer=True),
              _f("initial_delay_seconds", "initialDelaySeconds", "int32"),
              _f("timeout_seconds", "timeoutSeconds", "int32"), _f("period_seconds", "periodSeconds", "int32"),
              _f("success_threshold", "successThreshold", "int32"),
              _f("failure_threshold", "failureThreshold", "int32")),
    "RestartOnSpec": (_f("file_watches", "fileWatches", "strlist"), _f("ui_buttons", "uiButtons", "strlist")),
    "StartOnSpec": (_f("ui_buttons", "uiButtons", "strlist", False),),
    "TCPSocketAction": (_f("port", "port", "int32", False), _f("host", "host", "str")),
    "UIBoolInputSpec": (_f("default_value", "defaultValue", "bool"), _f("true_string", "trueString", "str", pointer=True),
                        _f("false_string", "falseString", "str", pointer=True)),
    "UIChoiceInputSpec": (_f("choices", "choices", "strlist", False),),
    "UIComponentLocation": (_f("component_id", "componentID", "str", False),
                            _f("component_type", "componentType", "str", False)),
    "UIHiddenInputSpec": (_f("value", "value", "str", False),),
    "UIInputSpec": (_f("name", "name", "str", False), _f("label", "label", "str", False),
                    _f("text", "text", "UITextInputSpec", pointer=True), _f("bool", "bool", "UIBoolInputSpec", pointer=True),
                    _f("hidden", "hidden", "UIHiddenInputSpec", pointer=True),
                    _f("choice", "choice", "UIChoiceInputSpec", pointer=True)),
    "UITextInputSpec": (_f("default_value", "defaultValue", "str"), _f("placeholder", "placeholder", "str")),
}

# Go fields the dict unpacking does not know (so a helper given them fails, as in Tilt).
_JSON_ONLY: dict[str, tuple[Field, ...]] = {
    "StartOnSpec": (_f("start_after", "startAfter", "time"),),
    "PodLogStreamTemplateSpec": (_f("since_time", "sinceTime", "time", pointer=True),),
}

def _json_fields(spec_type: str) -> tuple[Field, ...]:
    """All the Go fields of a spec type, in Go's order (the JSON-only ones come first)."""
    return _JSON_ONLY.get(spec_type, ()) + SPEC_TYPES[spec_type]


# Helpers: v1alpha1.<name>(params...) -> a dict checked as the spec type. Some
# take a parameter their type's unpacking then refuses (probe's handler,
# start_on_spec's start_after...): Tilt v0.32.4 behaves so.
HELPERS: dict[str, tuple[str, tuple[str, ...]]] = {
    "config_map_disable_source": ("ConfigMapDisableSource", ("name", "key")),
    "disable_source": ("DisableSource", ("config_map", "every_config_map")),
    "exec_action": ("ExecAction", ("command",)),
    "forward": ("Forward", ("local_port", "container_port", "host", "name", "path")),
    "http_get_action": ("HTTPGetAction", ("path", "port", "host", "scheme", "http_headers")),
    "http_header": ("HTTPHeader", ("name", "value")),
    "handler": ("Handler", ("exec", "http_get", "tcp_socket")),
    "ignore_def": ("IgnoreDef", ("base_path", "patterns")),
    "kubernetes_apply_cmd": ("KubernetesApplyCmd", ("args", "dir", "env")),
    "kubernetes_discovery_template_spec": ("KubernetesDiscoveryTemplateSpec", ("extra_selectors",)),
    "kubernetes_image_locator": ("KubernetesImageLocator", ("object_selector", "path", "object")),
    "kubernetes_image_object_descriptor": ("KubernetesImageObjectDescriptor", ("repo_field", "tag_field")),
    "kubernetes_watch_ref": ("KubernetesWatchRef", ("uid", "namespace", "name")),
    "label_selector": ("LabelSelector", ("match_labels", "match_expressions")),
    "label_selector_requirement": ("LabelSelectorRequirement", ("key", "operator", "values")),
    "object_selector": ("ObjectSelector", ("api_version_regexp", "kind_regexp", "name_regexp", "namespace_regexp")),
    "pod_log_stream_template_spec": ("PodLogStreamTemplateSpec", ("since_time", "only_containers", "ignore_containers")),
    "port_forward_template_spec": ("PortForwardTemplateSpec", ("forwards",)),
    "probe": ("Probe", ("handler", "initial_delay_seconds", "timeout_seconds", "period_seconds", "success_threshold",
                        "failure_threshold")),
    "restart_on_spec": ("RestartOnSpec", ("file_watches", "ui_buttons")),
    "start_on_spec": ("StartOnSpec", ("start_after", "ui_buttons")),
    "tcp_socket_action": ("TCPSocketAction", ("port", "host")),
    "ui_bool_input_spec": ("UIBoolInputSpec", ("default_value", "true_string", "false_string")),
    "ui_choice_input_spec": ("UIChoiceInputSpec", ("choices",)),
    "ui_component_location": ("UIComponentLocation", ("component_id", "component_type")),
    "ui_hidden_input_spec": ("UIHiddenInputSpec", ("value",)),
    "ui_input_spec": ("UIInputSpec", ("name", "label", "text", "bool", "hidden", "choice")),
    "ui_text_input_spec": ("UITextInputSpec", ("default_value", "placeholder")),
}


@dataclass(frozen=True)
class Kind:
    """A v1alpha1 kind the Tiltfile may create, and the fields of its spec."""

    kind: str
    resource: str  # the API resource name, in "already registered" errors
    spec: tuple[Field, ...]  # the constructor's parameters after name/labels/annotations
    top_level: str = "spec"  # the JSON key holding the fields (ConfigMap: "data")


KINDS: dict[str, Kind] = {
    "cmd": Kind("Cmd", "cmds", (
        _f("args", "args", "strlist"), _f("dir", "dir", "path"), _f("env", "env", "strlist"),
        _f("readiness_probe", "readinessProbe", "Probe", pointer=True),
        _f("restart_on", "restartOn", "RestartOnSpec", pointer=True),
        _f("start_on", "startOn", "StartOnSpec", pointer=True),
        _f("disable_source", "disableSource", "DisableSource", pointer=True))),
    "config_map": Kind("ConfigMap", "configmaps", (_f("data", "data", "strmap"),), top_level="data"),
    "extension": Kind("Extension", "extensions", (
        _f("repo_name", "repoName", "str", False), _f("repo_path", "repoPath", "str", False),
        _f("args", "args", "strlist"))),
    "extension_repo": Kind("ExtensionRepo", "extensionrepos", (
        _f("url", "url", "str", False), _f("ref", "ref", "str"))),
    "file_watch": Kind("FileWatch", "filewatches", (
        _f("watched_paths", "watchedPaths", "pathlist", False), _f("ignores", "ignores", "[]IgnoreDef"),
        _f("disable_source", "disableSource", "DisableSource", pointer=True))),
    "kubernetes_apply": Kind("KubernetesApply", "kubernetesapplys", (
        _f("yaml", "yaml", "str"), _f("image_maps", "imageMaps", "strlist"),
        _f("image_locators", "imageLocators", "[]KubernetesImageLocator"), _f("timeout", "timeout", "duration"),
        _f("kubernetes_discovery_template_spec", "kubernetesDiscoveryTemplateSpec", "KubernetesDiscoveryTemplateSpec",
           pointer=True),
        _f("port_forward_template_spec", "portForwardTemplateSpec", "PortForwardTemplateSpec", pointer=True),
        _f("pod_log_stream_template_spec", "podLogStreamTemplateSpec", "PodLogStreamTemplateSpec", pointer=True),
        _f("discovery_strategy", "discoveryStrategy", "str"),
        _f("disable_source", "disableSource", "DisableSource", pointer=True),
        _f("apply_cmd", "applyCmd", "KubernetesApplyCmd", pointer=True),
        _f("restart_on", "restartOn", "RestartOnSpec", pointer=True),
        _f("delete_cmd", "deleteCmd", "KubernetesApplyCmd", pointer=True),
        _f("cluster", "cluster", "str", False))),
    "kubernetes_discovery": Kind("KubernetesDiscovery", "kubernetesdiscoveries", (
        _f("watches", "watches", "[]KubernetesWatchRef", False),
        _f("extra_selectors", "extraSelectors", "[]LabelSelector"),
        _f("port_forward_template_spec", "portForwardTemplateSpec", "PortForwardTemplateSpec", pointer=True),
        _f("pod_log_stream_template_spec", "podLogStreamTemplateSpec", "PodLogStreamTemplateSpec", pointer=True),
        _f("cluster", "cluster", "str", False))),
    "ui_button": Kind("UIButton", "uibuttons", (
        _f("location", "location", "UIComponentLocation", False), _f("text", "text", "str", False),
        _f("icon_name", "iconName", "str"), _f("icon_svg", "iconSVG", "str"), _f("disabled", "disabled", "bool"),
        _f("requires_confirmation", "requiresConfirmation", "bool"), _f("inputs", "inputs", "[]UIInputSpec"))),
}


# --- Go's values and messages -------------------------------------------------------

_GO_TYPE = {"string": "starlark.String", "int": "starlark.Int", "bool": "starlark.Bool", "list": "*starlark.List",
            "dict": "*starlark.Dict", "NoneType": "starlark.NoneType", "float": "starlark.Float",
            "tuple": "starlark.Tuple"}


class _Unpack(Exception):
    """An unpacking error; the caller decides the prefix ("for parameter x: ...")."""


def _go_type(value: Any) -> str:
    return _GO_TYPE.get(type_name(value), type_name(value))


def _repr(value: Any) -> str:
    from tiltpy.tiltfile.builtins.dialect import go_repr

    return go_repr(value)


def _str(value: Any, default_unpack: bool) -> str:
    if isinstance(value, str):
        return value
    if default_unpack:
        raise _Unpack(f"got {type_name(value)}, want string")
    raise _Unpack(f"Expected string, actual: {type_name(value)}")


def _int32(value: Any, default_unpack: bool) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise _Unpack(f"got {type_name(value)}, want int" if default_unpack
                      else f"Expected int, got: got {type_name(value)}, want int")
    if not -(2 ** 31) <= value < 2 ** 31:
        raise _Unpack(f"{value} out of range (want value in signed 32-bit range)")
    return value


def _bool(value: Any, default_unpack: bool) -> bool:
    if not isinstance(value, bool):
        raise _Unpack(f"got {type_name(value)}, want bool" if default_unpack
                      else f"Expected bool, got: {type_name(value)}")
    return value


def _strlist(value: Any) -> list[str] | None:
    if value is None:
        return None
    if not isinstance(value, (list, tuple)):
        raise _Unpack(f"value should be a List or Tuple of strings, but is of type {type_name(value)}")
    out = []
    for item in value:
        if not isinstance(item, str):
            raise _Unpack(f"value should contain only strings, but element {go_quote(_repr(item))} was of type "
                          f"{type_name(item)}")
        out.append(item)
    return out or None


def _strmap(value: Any) -> dict[str, str] | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise _Unpack(f"expected dict, got {_go_type(value)}")
    for k, v in value.items():
        if not isinstance(k, str):
            raise _Unpack(f"key is not a string: {_go_type(k)} ({_repr(k)})")
        if not isinstance(v, str):
            raise _Unpack(f"value is not a string: {_go_type(v)} ({_repr(v)})")
    return dict(value) or None


def _path(ctx: FileContext, value: Any) -> str:
    if not isinstance(value, str):
        raise _Unpack(f"expected path | string. Actual type: {_go_type(value)}")
    return abs_path(ctx, value)


def _pathlist(ctx: FileContext, value: Any) -> list[str] | None:
    if isinstance(value, str):
        return [_path(ctx, value)]
    if value is None:
        return None
    if not isinstance(value, (list, tuple)):
        raise _Unpack(f"value should be a string or List or Tuple of strings, but is of type {type_name(value)}")
    out = []
    for i, item in enumerate(value):
        try:
            out.append(_path(ctx, item))
        except _Unpack as err:
            raise _Unpack(f"unpacking list item at index {i}: {err}") from None
    return out


def parse_duration(text: str) -> int:
    """Go's time.ParseDuration, in nanoseconds."""
    try:
        return parse_go_duration(text)
    except ValueError as err:
        raise _Unpack(str(err)) from None


def go_duration(ns: int) -> str:
    """Go's time.Duration.String()."""
    if ns == 0:
        return "0s"
    sign = "-" if ns < 0 else ""
    ns = abs(ns)
    if ns < 10 ** 9:
        for unit, size in (("ms", 10 ** 6), ("µs", 10 ** 3), ("ns", 1)):
            if ns >= size:
                return sign + _trim(ns / size) + unit
    hours, rest = divmod(ns, 3600 * 10 ** 9)
    minutes, rest = divmod(rest, 60 * 10 ** 9)
    seconds = _trim(rest / 10 ** 9) + "s"
    if hours:
        return f"{sign}{hours}h{minutes}m{seconds}"
    if minutes:
        return f"{sign}{minutes}m{seconds}"
    return sign + seconds


def _trim(number: float) -> str:
    return f"{number:.9f}".rstrip("0").rstrip(".")


def _zero(f: Field) -> Any:
    if f.pointer or f.kind in ("strlist", "strmap", "pathlist", "time") or f.kind.startswith("[]"):
        return None
    if f.kind in ("str", "path"):
        return ""
    if f.kind == "int32":
        return 0
    if f.kind == "bool":
        return False
    if f.kind == "duration":
        return 0
    return {g.json: _zero(g) for g in _json_fields(f.kind)}


def _value(ctx: FileContext, f: Field, value: Any, default_unpack: bool) -> Any:
    """One field's value (Go's view of it) from what the Tiltfile gave."""
    kind = f.kind
    if kind == "str":
        return _str(value, default_unpack)
    if kind == "int32":
        return _int32(value, default_unpack)
    if kind == "bool":
        return _bool(value, default_unpack)
    if kind == "strlist":
        return _strlist(value)
    if kind == "strmap":
        return _strmap(value)
    if kind == "path":
        return _path(ctx, value)
    if kind == "pathlist":
        return _pathlist(ctx, value)
    if kind == "duration":
        if not isinstance(value, str):
            raise _Unpack(f"Expected string. Got: {type_name(value)}")
        return parse_duration(value)
    if kind.startswith("[]"):
        item_kind = kind[2:]
        if not isinstance(value, list):
            raise _Unpack(f"expected list, actual: {type_name(value)}")
        out = []
        for i, item in enumerate(value):
            try:
                out.append(unpack_spec(ctx, item_kind, item))
            except _Unpack as err:
                raise _Unpack(f"at index {i}: {err}") from None
        return out
    return unpack_spec(ctx, kind, value)


def unpack_spec(ctx: FileContext, type_name_: str, value: Any) -> dict[str, Any]:
    """Tilt's generated Unpack: a dict of known keys -> the Go struct (as
    {json name: value}, zero values for the rest)."""
    if not isinstance(value, dict):
        raise _Unpack(f"expected dict, actual: {type_name(value)}")
    fields = {f.key: f for f in SPEC_TYPES[type_name_]}
    out = _zero(Field("", "", type_name_, pointer=False))
    for key, item in value.items():
        if not isinstance(key, str):
            raise _Unpack(f"key must be string. Got: {type_name(key)}")
        f = fields.get(key)
        if f is None:
            raise _Unpack(f"Unexpected attribute name: {key}")
        try:
            out[f.json] = _value(ctx, f, item, default_unpack=False)
        except _Unpack as err:
            if f.kind in ("str", "int32", "bool"):
                raise
            raise _Unpack(f"unpacking {key}: {err}") from None
    return out


def to_json(type_fields: tuple[Field, ...], struct: dict[str, Any]) -> dict[str, Any]:
    """Go's encoding/json of a struct: omitempty fields left out when zero,
    nested structs encoded the same way."""
    out: dict[str, Any] = {}
    for f in type_fields:
        value = struct.get(f.json)
        if f.kind == "duration":
            out[f.json] = go_duration(value or 0)  # metav1.Duration is a struct: never omitted
            continue
        if f.kind == "time":
            if not f.pointer or value is not None:
                out[f.json] = value  # a zero metav1.Time encodes as null
            continue
        if f.pointer and value is None:
            continue
        if not f.pointer and f.omitempty and f.kind not in SPEC_TYPES and not value:
            continue  # Go leaves out an empty string, 0, false, nil or empty list/map (never a struct)
        out[f.json] = _encode(f.kind, value)
    return out


def _encode(kind: str, value: Any) -> Any:
    if value is None:
        return None
    if kind.startswith("[]"):
        return [_encode(kind[2:], v) for v in value]
    if kind in SPEC_TYPES:
        return to_json(_json_fields(kind), value)
    return value


# --- state ---------------------------------------------------------------------------

@dataclass
class ApiObjects:
    """What v1alpha1 constructors (and ext:// loads) registered, by kind then name."""

    by_kind: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)

    def get(self, kind: str, name: str) -> dict[str, Any] | None:
        return self.by_kind.get(kind, {}).get(name)

    def put(self, obj: dict[str, Any]) -> None:
        self.by_kind.setdefault(obj["kind"], {})[obj["metadata"]["name"]] = obj

    def all(self) -> list[dict[str, Any]]:
        return [obj for objects in self.by_kind.values() for obj in objects.values()]


def api_objects(state: TiltfileState) -> ApiObjects:
    return area(state, "v1alpha1", ApiObjects)


def new_object(kind: str, name: str, spec: dict[str, Any] | None, labels: dict[str, str] | None = None,
               annotations: dict[str, str] | None = None, top_level: str = "spec") -> dict[str, Any]:
    metadata: dict[str, Any] = {"name": name}
    if labels:
        metadata["labels"] = dict(labels)
    if annotations:
        metadata["annotations"] = dict(annotations)
    obj = {"apiVersion": API_VERSION, "kind": kind, "metadata": metadata}
    if spec is not None:
        obj[top_level] = spec
    return obj


def _as_declared(obj: dict[str, Any]) -> dict[str, Any]:
    """The object without what loading extensions added (managed-by, status)."""
    annotations = dict(obj["metadata"].get("annotations") or {})
    annotations.pop(ANNOTATION_MANAGED_BY, None)
    metadata = {k: v for k, v in obj["metadata"].items() if k != "annotations"}
    if annotations:
        metadata["annotations"] = annotations
    return {**{k: v for k, v in obj.items() if k != "status"}, "metadata": metadata}


def register(state: TiltfileState, builtin: str, resource: str, obj: dict[str, Any]) -> None:
    """Tilt's register: the same name twice is fine only with the same object
    (teams register their extension repo in every Tiltfile)."""
    objects = api_objects(state)
    name = obj["metadata"]["name"]
    existing = objects.get(obj["kind"], name)
    if existing is not None:
        if _as_declared(existing) != _as_declared(obj):
            raise TiltfileError(f'{builtin}: {resource} "{name}" already registered')
        return
    objects.put(obj)


# --- validation (the API types' Validate) ------------------------------------------------

def _aggregate(errors: list[str]) -> str:
    return errors[0] if len(errors) == 1 else "[" + ", ".join(errors) + "]"


def _validate(kind: str, spec: dict[str, Any]) -> list[str]:
    errors: list[str] = []
    if kind == "UIButton":
        if not spec["text"]:
            errors.append("spec.text: Required value: Button text cannot be empty")
        if not spec["location"]["componentID"]:
            errors.append("spec.location.componentID: Required value: Parent component ID is required")
        if not spec["location"]["componentType"]:
            errors.append("spec.location.componentType: Required value: Parent component type is required")
        if spec["iconSVG"] and "<svg" not in spec["iconSVG"]:
            errors.append(f"spec.iconSVG: Invalid value: {go_quote(spec['iconSVG'])}: Invalid <svg> element")
        seen: set[str] = set()
        for i, item in enumerate(spec["inputs"] or []):
            if item["name"] in seen:
                errors.append(f"spec.inputs[{i}].id: Duplicate value: {go_quote(item['name'])}")
            seen.add(item["name"])
            kinds = [k for k in ("text", "bool", "hidden", "choice") if item[k] is not None]
            if item["choice"] is not None and not item["choice"]["choices"]:
                errors.append(f"spec: Invalid value: {go_quote(item['name'])}: must specify choices if input type "
                              "is choice")
            if len(kinds) != 1:
                errors.append(f"spec: Invalid value: {go_quote(item['name'])}: must specify exactly one input type")
    elif kind == "ExtensionRepo":
        url = spec["url"]
        # tiltpy also takes a bare absolute path (used in place, like file://).
        if not url.startswith(("https://", "http://", "file://", "/")):
            errors.append(f"spec.url: Invalid value: {go_quote(url)}: URLs must start with http(s):// or file://")
        elif url.startswith("file://") and not url[len("file://"):].startswith("/"):
            errors.append(f"spec.url: Invalid value: {go_quote(url)}: file:// URLs must be absolute "
                          "(e.g., file:///home/user/repo)")
    elif kind == "KubernetesApply":
        strategy = spec["discoveryStrategy"]
        if strategy not in ("", "default", "selectors-only"):
            errors.append(f'spec.discoveryStrategy: Unsupported value: {go_quote(strategy)}: supported values: '
                          '"default", "selectors-only"')
        if spec["yaml"]:
            if spec["applyCmd"] is not None:
                errors.append("spec.applyCmd: Invalid value: v1alpha1.KubernetesApplyCmd{...}: must specify exactly "
                              "ONE of .spec.yaml or .spec.applyCmd")
        elif spec["applyCmd"] is not None:
            if not spec["applyCmd"]["args"]:
                errors.append("spec.applyCmd.args: Required value: args cannot be empty")
        else:
            errors.append("spec.yaml: Required value: must specify exactly ONE of .spec.yaml or .spec.applyCmd")
    return errors


# --- the builtins -----------------------------------------------------------------------------

def _make_helper(helper: str, spec_type: str, params: tuple[str, ...]):
    builtin = f"v1alpha1.{helper}"

    def build(ctx: FileContext, *args: Any, **kwargs: Any) -> dict[str, Any]:
        given = _bind_args(builtin, params, args, kwargs, required=())
        try:
            unpack_spec(ctx, spec_type, given)
        except _Unpack as err:
            raise TiltfileError(f"{builtin}: {err}") from None
        return given

    build.__name__ = helper
    return build


def _bind_args(builtin: str, params: tuple[str, ...], args: tuple[Any, ...], kwargs: dict[str, Any],
               required: tuple[str, ...]) -> dict[str, Any]:
    """starlark-go's UnpackArgs for all-optional (after `required`) parameters."""
    if len(args) > len(params):
        raise TiltfileError(f"{builtin}: got {len(args)} arguments, want at most {len(params)}")
    given = dict(zip(params, args))
    for key, value in kwargs.items():
        if key not in params:
            raise TiltfileError(f"{builtin}: unexpected keyword argument {key}")
        if key in given:
            raise TiltfileError(f"{builtin}: got multiple values for keyword argument {key}")
        given[key] = value
    for key in required:
        if key not in given:
            raise TiltfileError(f"{builtin}: missing argument for {key}")
    return {p: given[p] for p in params if p in given}


def _make_constructor(name: str, kind: Kind):
    builtin = f"v1alpha1.{name}"
    params = ("name", "labels", "annotations") + tuple(f.key for f in kind.spec)

    def construct(ctx: FileContext, *args: Any, **kwargs: Any) -> None:
        given = _bind_args(builtin, params, args, kwargs, required=("name",))
        values: dict[str, Any] = {}
        for key in ("name", "labels", "annotations"):
            if key not in given:
                continue
            try:
                values[key] = _str(given[key], True) if key == "name" else _strmap(given[key])
            except _Unpack as err:
                raise TiltfileError(f"{builtin}: for parameter {key}: {err}") from None
        spec = {f.json: _zero(f) for f in kind.spec}
        if name == "cmd":
            spec["dir"] = ctx.dir  # Tilt unpacks dir from "": the directory of the file executing
        for f in kind.spec:
            if f.key not in given:
                continue
            try:
                spec[f.json] = _value(ctx, f, given[f.key], default_unpack=True)
            except _Unpack as err:
                raise TiltfileError(f"{builtin}: for parameter {f.key}: {err}") from None
        errors = _validate(kind.kind, spec)
        if errors:
            raise TiltfileError(f"{builtin}: {_aggregate(errors)}")
        body = to_json(kind.spec, spec)
        if kind.top_level != "spec":  # ConfigMap: its one field is the top-level `data`
            body = body.get(kind.top_level)
        obj = new_object(kind.kind, values["name"], body, values.get("labels"), values.get("annotations"),
                         kind.top_level)
        register(ctx.state, builtin, kind.resource, obj)

    construct.__name__ = name
    return construct


BUILTINS: dict[str, Any] = {}
for _name, _kind in KINDS.items():
    BUILTINS[f"_v1alpha1_{_name}"] = _make_constructor(_name, _kind)
for _name, (_type, _params) in HELPERS.items():
    BUILTINS[f"_v1alpha1_{_name}"] = _make_helper(_name, _type, _params)

PRELUDE = "v1alpha1 = struct(" + ", ".join(f"{n} = _v1alpha1_{n}" for n in sorted([*KINDS, *HELPERS])) + ")\n"
