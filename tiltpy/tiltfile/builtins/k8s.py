"""Kubernetes builtins: k8s_yaml, k8s_resource, port_forward, link, contexts
and registries. They only record; assembly decides the resources."""
from __future__ import annotations

import os
import re
from typing import TYPE_CHECKING, Any

from tiltpy.k8s.objects import YamlError, object_id, parse_yaml_stream
from tiltpy.model.manifest import Link, PortForward
from tiltpy.tiltfile.builtins._common import go_quote
from tiltpy.tiltfile.builtins.dialect import go_str, marked, marked_type
from tiltpy.tiltfile.errors import TiltfileError, arg_error
from tiltpy.tiltfile.state import TRIGGER_MODE_NAMES, K8sResourceCall
from tiltpy.tiltfile.values import as_bool, as_int, as_str, as_str_dict, as_str_list, type_name
from tiltpy.tiltfile.yaml_cache import PARSED_YAML

if TYPE_CHECKING:
    from tiltpy.tiltfile.loader import FileContext


def k8s_yaml(ctx: FileContext, yaml: Any, allow_duplicates: Any = False) -> None:
    allow_duplicates = as_bool("k8s_yaml", "allow_duplicates", allow_duplicates)
    items = yaml if isinstance(yaml, (list, tuple)) else [yaml]
    if yaml is None or yaml == "" or not items:  # None, [], blob('') (an empty filter_yaml() match)
        raise TiltfileError("Empty YAML passed to k8s_yaml")
    for item in items:
        if not isinstance(item, str):
            raise arg_error("k8s_yaml", "yaml", f"got {type_name(item)}, want a path, a list of paths or a blob")
        text, source = _yaml_text(ctx, item)
        try:
            objects = parse_yaml_stream(text, PARSED_YAML.documents)
        except YamlError as err:
            raise TiltfileError(f"k8s_yaml: {source}: {err}") from None
        seen = ctx.state.k8s_object_ids
        for obj in objects:
            oid = object_id(obj)
            if not allow_duplicates and oid in seen:
                raise TiltfileError(
                    f"k8s_yaml: duplicate Kubernetes object {oid.display()} (from {source}); "
                    "pass allow_duplicates=True to allow it"
                )
            seen.add(oid)
            ctx.state.k8s_objects.append(obj)


def _yaml_text(ctx: FileContext, value: str) -> tuple[str, str]:
    """A blob is YAML; any other string is a path (as in Tilt)."""
    if ctx.state.is_blob(value) or ("\n" in value and not os.path.exists(ctx.abspath(value))):
        return value, "<blob>"
    path = ctx.abspath(value)
    ctx.state.watch(path)
    try:
        with open(path, encoding="utf-8") as f:
            return f.read(), path
    except (FileNotFoundError, IsADirectoryError):
        raise arg_error("k8s_yaml", "yaml", f"file not found: {path}") from None


def parse_port_forward(ctx: FileContext, builtin: str, value: Any, resource: str = "") -> PortForward:
    """Tilt's port forward forms: an int (the local port), 'LOCAL', 'LOCAL:CONTAINER',
    'HOST:LOCAL:CONTAINER', or a port_forward()."""
    given = ctx.state.values.payload(value, PortForward)
    if given is not None:
        return given
    where = f'{builtin} "{resource}": ' if resource else f"{builtin}: "
    if isinstance(value, int) and not isinstance(value, bool):
        if not 0 <= value <= 65535:
            raise TiltfileError(f"{where}portForward port value {value} is not in the valid range [0-65535]")
        return PortForward(local_port=value)
    if isinstance(value, str):
        parts = value.split(":", 2)
        host = ""
        if len(parts) == 3:
            host = parts[0]
            if not _VALID_HOST.match(host):
                raise TiltfileError(f"{where}portForward host value {go_quote(parts[1])} is not a valid hostname or "
                                    "IP address")
        local_text = parts[1] if len(parts) == 3 else parts[0]
        local = _port_number(where, local_text)
        container = _port_number(where, parts[-1]) if len(parts) > 1 else None
        return PortForward(local_port=local, container_port=container or None, host=host)
    raise TiltfileError(f"{where}port_forwards must be an int, a port_forward, or a sequence of those; is a "
                        f"{type_name(value)}")


_VALID_HOST = re.compile(
    r"^(([0-9]|[1-9][0-9]|1[0-9]{2}|2[0-4][0-9]|25[0-5])\.){3}([0-9]|[1-9][0-9]|1[0-9]{2}|2[0-4][0-9]|25[0-5])$"
    r"|^(([a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9\-]*[a-zA-Z0-9])\.)*([A-Za-z0-9]|[A-Za-z0-9][A-Za-z0-9\-]*[A-Za-z0-9])$")


def _port_number(where: str, text: str) -> int:
    if not re.fullmatch(r"[+-]?[0-9]+", text) or not 0 <= int(text) <= 65535:
        raise TiltfileError(f"{where}portForward port value {go_quote(text)} is not in the valid range [0-65535]")
    return int(text)


def _valid_port(builtin: str, port: int) -> int:
    if not 0 < port < 65536:
        raise arg_error(builtin, "port_forwards", f"port {port} out of range 1-65535")
    return port


def parse_link(builtin: str, value: Any) -> Link:
    """A string (http:// added when it has no scheme) or a link()."""
    if marked_type(value) == "struct" and value.get("_tiltpy", [None, None])[1] == "link":
        return Link(url=str(value.get("url", "")), name=str(value.get("name", "")))
    if isinstance(value, str):
        if not value:
            raise TiltfileError(f'{builtin}: validating URL "": url empty')
        return Link(url=value if _URL_SCHEME.match(value) else "http://" + value)
    raise TiltfileError(f"{builtin}: `Want a string, a link, or a sequence of these; found {go_str(value)} "
                        f"(type: {type_name(value)})")


def _list_of(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, (list, tuple)) else [value]


_LABEL_RE = re.compile(r"^([a-z0-9A-Z]([-a-z0-9A-Z_.]*[a-z0-9A-Z])?/)?[a-z0-9A-Z]([-a-z0-9A-Z_.]{0,61}[a-z0-9A-Z])?$")


def parse_labels(builtin: str, value: Any) -> list[str]:
    labels = as_str_list(builtin, "labels", value)
    for label in labels:
        if not _LABEL_RE.match(label):
            raise arg_error(builtin, "labels", f"invalid label {label!r}: use letters, digits, '-', '_' and '.'")
    return labels


def parse_trigger_mode(builtin: str, value: Any) -> int:
    for mode, name in TRIGGER_MODE_NAMES.items():
        if value == name:
            return mode
    raise TiltfileError(f"{builtin}: for parameter trigger_mode: got {type_name(value)}, want TriggerMode "
                        "(TRIGGER_MODE_AUTO or TRIGGER_MODE_MANUAL)")


def k8s_resource(
    ctx: FileContext,
    workload: Any = "",
    new_name: Any = "",
    port_forwards: Any = None,
    extra_pod_selectors: Any = None,
    trigger_mode: Any = None,
    resource_deps: Any = None,
    objects: Any = None,
    auto_init: Any = None,
    pod_readiness: Any = "",
    links: Any = None,
    labels: Any = None,
    discovery_strategy: Any = "",
) -> None:
    name = "k8s_resource"
    workload = as_str(name, "workload", workload)
    new_name = as_str(name, "new_name", new_name)
    if not workload and not new_name:
        raise TiltfileError("Resource name missing. Must give a name for an existing resource or a new_name to "
                            "create a new resource.")
    if not workload and not objects:
        raise TiltfileError("k8s_resource doesn't specify a workload or any objects. All non-workload resources "
                            "must specify 1 or more objects")
    readiness = as_str(name, "pod_readiness", pod_readiness)
    if readiness not in ("", "wait", "ignore", "succeeded"):
        raise arg_error(name, "pod_readiness", f"got {readiness!r}, want 'wait', 'ignore' or 'succeeded'")
    strategy = as_str(name, "discovery_strategy", discovery_strategy)
    if strategy not in ("", "default", "selectors-only"):
        raise arg_error(name, "discovery_strategy", f"got {strategy!r}, want 'default' or 'selectors-only'")
    selectors = None
    if extra_pod_selectors is not None:
        selectors = [as_str_dict(name, "extra_pod_selectors", s) for s in _list_of(extra_pod_selectors)]
    ctx.state.k8s_resource_calls.append(
        K8sResourceCall(
            workload=workload,
            new_name=new_name,
            port_forwards=None if port_forwards is None else [parse_port_forward(ctx, name, p, workload or new_name)
                                                              for p in _list_of(port_forwards)],
            extra_pod_selectors=selectors,
            trigger_mode=None if trigger_mode is None else parse_trigger_mode(name, trigger_mode),
            resource_deps=None if resource_deps is None else as_str_list(name, "resource_deps", resource_deps),
            objects=None if objects is None else as_str_list(name, "objects", objects),
            auto_init=None if auto_init is None else as_bool(name, "auto_init", auto_init),
            pod_readiness=readiness,
            links=None if links is None else [parse_link(name, link) for link in _list_of(links)],
            labels=None if labels is None else parse_labels(name, labels),
            where=ctx.path,
            discovery_strategy=strategy,
        )
    )


def port_forward(ctx: FileContext, local_port: Any, container_port: Any = None, name: Any = None,
                 link_path: Any = None, host: Any = None) -> str:
    """Tilt's port_forward value: type() `port_forward`, str() as below."""
    local = _valid_port("port_forward", as_int("port_forward", "local_port", local_port))
    container = None
    if container_port is not None:
        container = _valid_port("port_forward", as_int("port_forward", "container_port", container_port))
    forward = PortForward(
        local_port=local, container_port=container, name=as_str("port_forward", "name", name),
        link_path=as_str("port_forward", "link_path", link_path), host=as_str("port_forward", "host", host),
    )
    text = f"port_forward(local_port={local}, container_port={container or 0}, name={go_quote(forward.name)})"
    return ctx.state.values.add(text, "port_forward", forward)


_URL_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")


def link(ctx: FileContext, url: Any, name: Any = "") -> dict[str, Any]:
    """Tilt's link is a struct (type() `struct`, fields url and name); a URL
    without a scheme gets http://."""
    url = as_str("link", "url", url, allow_none=False)
    if not url:
        raise TiltfileError('validating URL "": url empty')
    if not _URL_SCHEME.match(url):
        url = "http://" + url
    return marked("struct", "link", url=url, name=as_str("link", "name", name))


def allow_k8s_contexts(ctx: FileContext, contexts: Any) -> None:
    ctx.state.allowed_k8s_contexts.extend(as_str_list("allow_k8s_contexts", "contexts", contexts))


def default_registry(ctx: FileContext, host: Any, host_from_cluster: Any = None, single_name: Any = "") -> None:
    if ctx.state.default_registry:
        raise TiltfileError("default registry already defined")
    host = as_str("default_registry", "host", host, allow_none=False)
    if not host or not re.match(r"^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?(:[0-9]+)?(/[a-z0-9._/-]+)?$", host):
        raise TiltfileError(f"validating defaultRegistry: host: Invalid value: {host!r}: "
                            "must be a registry host[:port] with an optional path, e.g. localhost:5000 or gcr.io/project")
    ctx.state.default_registry = host
    ctx.state.default_registry_from_cluster = as_str("default_registry", "host_from_cluster", host_from_cluster)
    ctx.state.default_registry_single_name = as_str("default_registry", "single_name", single_name)


def k8s_context(ctx: FileContext) -> str:
    return ctx.state.options.k8s_context


def k8s_namespace(ctx: FileContext) -> str:
    return ctx.state.options.k8s_namespace


def trigger_mode(ctx: FileContext, trigger_mode: Any) -> None:
    called_at = ctx.state.extra.get("trigger_mode_called_at")
    if called_at:
        raise TiltfileError(f"trigger_mode can only be called once. It was already called at {called_at}")
    ctx.state.default_trigger_mode = parse_trigger_mode("trigger_mode", trigger_mode)
    ctx.state.extra["trigger_mode_called_at"] = ctx.executing


def update_settings(ctx: FileContext, max_parallel_updates: Any = None, k8s_upsert_timeout_secs: Any = None,
                    suppress_unused_image_warnings: Any = None, k8s_server_side_apply: Any = None) -> None:
    if max_parallel_updates is not None:
        value = as_int("update_settings", "max_parallel_updates", max_parallel_updates)
        if value < 1:
            raise arg_error("update_settings", "max_parallel_updates", "must be at least 1")
        ctx.state.max_parallel_updates = value
    if k8s_upsert_timeout_secs is not None:
        ctx.state.k8s_upsert_timeout_secs = as_int("update_settings", "k8s_upsert_timeout_secs", k8s_upsert_timeout_secs)


def watch_settings(ctx: FileContext, ignore: Any = None) -> None:
    """Global watch ignores (dockerignore syntax, relative to the Tiltfile)."""
    patterns = as_str_list("watch_settings", "ignore", ignore)
    root = os.path.dirname(ctx.state.tiltfile)
    for pattern in patterns:
        absolute = pattern if os.path.isabs(pattern) else os.path.join(ctx.dir, pattern)
        ctx.state.watch_ignores.append(os.path.relpath(absolute, root).replace(os.sep, "/"))


BUILTINS = {
    "watch_settings": watch_settings,
    "k8s_yaml": k8s_yaml,
    "k8s_resource": k8s_resource,
    "port_forward": port_forward,
    "_link": link,
    "allow_k8s_contexts": allow_k8s_contexts,
    "default_registry": default_registry,
    "k8s_context": k8s_context,
    "k8s_namespace": k8s_namespace,
    "trigger_mode": trigger_mode,
    # update_settings lives in settings.py (with the other settings builtins)
}
# Tilt's trigger modes are values of type TriggerMode whose str() is their name.
CONSTANTS = {name: name for name in TRIGGER_MODE_NAMES.values()}
PRELUDE = """
def link(url, name = ""):
    return _tiltpy_struct(_link(url, name))
"""
