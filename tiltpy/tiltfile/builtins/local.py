"""local_resource and its readiness probes."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tiltpy.model.manifest import ExecAction, HTTPGetAction, LocalTarget, Probe, TCPSocketAction
from tiltpy.tiltfile.builtins.dialect import go_str, marked, marked_type
from tiltpy.tiltfile.builtins.k8s import parse_labels, parse_link, parse_trigger_mode
from tiltpy.tiltfile.errors import TiltfileError, arg_error
from tiltpy.tiltfile.state import LocalResourceCall
from tiltpy.tiltfile.values import as_bool, as_command, as_str, as_str_dict, as_str_list, type_name

if TYPE_CHECKING:
    from tiltpy.tiltfile.loader import FileContext


def local_resource(
    ctx: FileContext, name: Any, cmd: Any = "", deps: Any = None, trigger_mode: Any = None,
    resource_deps: Any = None, ignore: Any = None, auto_init: Any = True, serve_cmd: Any = "",
    cmd_bat: Any = "", serve_cmd_bat: Any = "", allow_parallel: Any = False, links: Any = None,
    labels: Any = None, env: Any = None, serve_env: Any = None, readiness_probe: Any = None,
    dir: Any = "", serve_dir: Any = "",
) -> None:
    fn = "local_resource"
    name = as_str(fn, "name", name, allow_none=False)
    if not name:
        raise arg_error(fn, "name", "must not be empty")
    command = as_command(fn, "cmd", cmd)
    serve = as_command(fn, "serve_cmd", serve_cmd)
    as_command(fn, "cmd_bat", cmd_bat)  # Windows only: accepted, unused here
    as_command(fn, "serve_cmd_bat", serve_cmd_bat)
    if not command and not serve:
        raise TiltfileError(f'{fn}("{name}"): must specify cmd or serve_cmd (or both)')
    if readiness_probe is not None and marked_type(readiness_probe) != "Probe":
        raise arg_error(fn, "readiness_probe", f"got {type_name(readiness_probe)}, want Probe")
    if readiness_probe is not None and not serve:
        raise TiltfileError(f'{fn}("{name}"): readiness_probe needs a serve_cmd')
    if any(c.name == name for c in ctx.state.local_resources):
        raise TiltfileError(f'{fn}: a local resource named "{name}" already exists')
    link_values = links if isinstance(links, (list, tuple)) else ([] if links is None else [links])
    target = LocalTarget(
        cmd=tuple(command),
        serve_cmd=tuple(serve),
        workdir=ctx.abspath(as_str(fn, "dir", dir)) if dir else ctx.dir,
        serve_workdir=ctx.abspath(as_str(fn, "serve_dir", serve_dir)) if serve_dir else ctx.dir,
        env=tuple(sorted(as_str_dict(fn, "env", env).items())),
        serve_env=tuple(sorted(as_str_dict(fn, "serve_env", serve_env).items())),
        deps=tuple(ctx.abspath(p) for p in as_str_list(fn, "deps", deps)),
        ignore=tuple(as_str_list(fn, "ignore", ignore)),
        allow_parallel=as_bool(fn, "allow_parallel", allow_parallel),
        readiness_probe=probe_of(readiness_probe) if readiness_probe is not None else None,
    )
    ctx.state.local_resources.append(LocalResourceCall(
        name=name, target=target,
        trigger_mode=None if trigger_mode is None else parse_trigger_mode(fn, trigger_mode),
        resource_deps=as_str_list(fn, "resource_deps", resource_deps),
        auto_init=as_bool(fn, "auto_init", auto_init),
        links=[parse_link(fn, link) for link in link_values],
        labels=parse_labels(fn, labels),
    ))


_GO_TYPES = {"string": "starlark.String", "int": "starlark.Int", "bool": "starlark.Bool", "list": "*starlark.List",
             "dict": "*starlark.Dict", "NoneType": "starlark.NoneType", "float": "starlark.Float"}


def _int32(builtin: str, param: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TiltfileError(f"{builtin}: for parameter {param}: got {type_name(value)}, want int")
    if not -(2 ** 31) <= value < 2 ** 31:
        raise TiltfileError(f"{builtin}: for parameter {param}: value out of range for int32")
    return value


def probe(ctx: FileContext, initial_delay_secs: Any = 0, timeout_secs: Any = 0, period_secs: Any = 0,
          success_threshold: Any = 0, failure_threshold: Any = 0, exec: Any = None, http_get: Any = None,
          tcp_socket: Any = None) -> dict[str, Any]:
    """Tilt's Probe: a struct (type() `Probe`) of the values as given; zero
    means Kubernetes' default (see probe_of)."""
    fields: dict[str, Any] = {}
    for param, value in (("initial_delay_secs", initial_delay_secs), ("timeout_secs", timeout_secs),
                         ("period_secs", period_secs), ("success_threshold", success_threshold),
                         ("failure_threshold", failure_threshold)):
        fields[param] = _int32("probe", param, value)
    for param, value, kind in (("exec", exec, "ExecAction"), ("http_get", http_get, "HTTPGetAction"),
                               ("tcp_socket", tcp_socket, "TCPSocketAction")):
        if value is not None and marked_type(value) != kind:
            shown = _GO_TYPES.get(type_name(value), marked_type(value) or type_name(value))
            raise TiltfileError(f"probe: for parameter {param}: got {shown}, want {kind}")
        fields[param] = value
    if sum(1 for a in (exec, http_get, tcp_socket) if a is not None) != 1:
        raise TiltfileError("exactly one of exec, http_get, or tcp_socket must be specified")
    return marked("Probe", "Probe", **fields)


def exec_action(ctx: FileContext, command: Any) -> dict[str, Any]:
    if not isinstance(command, (list, tuple)):
        raise TiltfileError(f"exec_action: for parameter command: '{go_str(command)}' is a "
                            f"{_GO_TYPES.get(type_name(command), type_name(command))}, not a sequence")
    for item in command:
        if not isinstance(item, str):
            raise TiltfileError(f"exec_action: for parameter command: '{go_str(item)}' is a "
                                f"{_GO_TYPES.get(type_name(item), type_name(item))}, not a string")
    return marked("ExecAction", "ExecAction", command=list(command))


def http_get_action(ctx: FileContext, port: Any, host: Any = "", scheme: Any = "", path: Any = "") -> dict[str, Any]:
    fn = "http_get_action"
    return marked("HTTPGetAction", "HTTPGetAction", port=_int32(fn, "port", port), host=as_str(fn, "host", host),
                  scheme=as_str(fn, "scheme", scheme), path=as_str(fn, "path", path))


def tcp_socket_action(ctx: FileContext, port: Any, host: Any = "") -> dict[str, Any]:
    fn = "tcp_socket_action"
    return marked("TCPSocketAction", "TCPSocketAction", port=_int32(fn, "port", port), host=as_str(fn, "host", host))


def probe_of(value: dict[str, Any]) -> Probe:
    """The model's Probe from a probe() value; zeros take Kubernetes' defaults."""
    action: ExecAction | HTTPGetAction | TCPSocketAction
    if value.get("exec"):
        action = ExecAction(tuple(value["exec"].get("command") or ()))
    elif value.get("http_get"):
        get = value["http_get"]
        scheme = (get.get("scheme") or "http").lower()
        if scheme not in ("http", "https"):
            raise TiltfileError(f"http_get_action: unsupported scheme {get.get('scheme')!r}: want http or https")
        action = HTTPGetAction(int(get.get("port") or 0), get.get("host") or "localhost", scheme, get.get("path") or "")
    else:
        sock = value.get("tcp_socket") or {}
        action = TCPSocketAction(int(sock.get("port") or 0), sock.get("host") or "localhost")

    def number(key: str, default: int) -> int:
        given = int(value.get(key) or 0)
        return given if given > 0 else default

    return Probe(action=action, initial_delay_secs=max(0, int(value.get("initial_delay_secs") or 0)),
                 timeout_secs=number("timeout_secs", 1), period_secs=number("period_secs", 10),
                 success_threshold=number("success_threshold", 1), failure_threshold=number("failure_threshold", 3))


BUILTINS = {
    "local_resource": local_resource,
    "_probe": probe,
    "_exec_action": exec_action,
    "_http_get_action": http_get_action,
    "_tcp_socket_action": tcp_socket_action,
}
# Struct-like values (see builtins/dialect.py): attributes work as in Tilt.
PRELUDE = """
def probe(initial_delay_secs = 0, timeout_secs = 0, period_secs = 0, success_threshold = 0,
          failure_threshold = 0, exec = None, http_get = None, tcp_socket = None):
    return _tiltpy_struct(_probe(initial_delay_secs, timeout_secs, period_secs, success_threshold,
                                 failure_threshold, exec, http_get, tcp_socket))
def exec_action(command):
    return _tiltpy_struct(_exec_action(command))
def http_get_action(port, host = "", scheme = "", path = ""):
    return _tiltpy_struct(_http_get_action(port, host, scheme, path))
def tcp_socket_action(port, host = ""):
    return _tiltpy_struct(_tcp_socket_action(port, host))
"""
