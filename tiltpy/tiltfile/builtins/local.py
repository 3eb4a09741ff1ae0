"""local_resource and its readiness probes."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

import starlark as sl

from tiltpy.model.manifest import ExecAction, HTTPGetAction, LocalTarget, Probe, TCPSocketAction
from tiltpy.tiltfile.builtins.k8s import parse_labels, parse_link, parse_trigger_mode
from tiltpy.tiltfile.errors import TiltfileError, arg_error
from tiltpy.tiltfile.state import LocalResourceCall
from tiltpy.tiltfile.values import as_bool, as_command, as_int, as_str, as_str_dict, as_str_list, type_name

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
    if readiness_probe is not None and not isinstance(readiness_probe, Probe):
        raise arg_error(fn, "readiness_probe", f"got {type_name(readiness_probe)}, want probe()")
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
        readiness_probe=readiness_probe,
    )
    ctx.state.local_resources.append(LocalResourceCall(
        name=name, target=target,
        trigger_mode=None if trigger_mode is None else parse_trigger_mode(fn, trigger_mode),
        resource_deps=as_str_list(fn, "resource_deps", resource_deps),
        auto_init=as_bool(fn, "auto_init", auto_init),
        links=[parse_link(fn, link) for link in link_values],
        labels=parse_labels(fn, labels),
    ))


def probe(ctx: FileContext, initial_delay_secs: Any = 0, timeout_secs: Any = 1, period_secs: Any = 10,
          success_threshold: Any = 1, failure_threshold: Any = 3, exec: Any = None, http_get: Any = None,
          tcp_socket: Any = None) -> sl.OpaquePythonObject:
    actions = [a for a in (exec, http_get, tcp_socket) if a is not None]
    if len(actions) != 1:
        raise TiltfileError("probe: exactly one of exec, http_get or tcp_socket must be given")
    action = actions[0]
    for param, value, kind in (("exec", exec, ExecAction), ("http_get", http_get, HTTPGetAction),
                               ("tcp_socket", tcp_socket, TCPSocketAction)):
        if value is not None and not isinstance(value, kind):
            raise arg_error("probe", param, f"got {type_name(value)}, want {param}_action()")
    numbers = {}
    for param, value, minimum in (("initial_delay_secs", initial_delay_secs, 0), ("timeout_secs", timeout_secs, 1),
                                  ("period_secs", period_secs, 1), ("success_threshold", success_threshold, 1),
                                  ("failure_threshold", failure_threshold, 1)):
        number = as_int("probe", param, value)
        if number < minimum:
            raise arg_error("probe", param, f"must be at least {minimum}")
        numbers[param] = number
    return sl.OpaquePythonObject(Probe(action=action, **numbers))


def exec_action(ctx: FileContext, command: Any) -> sl.OpaquePythonObject:
    argv = as_str_list("exec_action", "command", command)
    if not argv:
        raise arg_error("exec_action", "command", "must not be empty")
    return sl.OpaquePythonObject(ExecAction(tuple(argv)))


def http_get_action(ctx: FileContext, port: Any, host: Any = "localhost", scheme: Any = "http",
                    path: Any = "") -> sl.OpaquePythonObject:
    scheme = as_str("http_get_action", "scheme", scheme) or "http"
    if scheme not in ("http", "https"):
        raise arg_error("http_get_action", "scheme", "want 'http' or 'https'")
    return sl.OpaquePythonObject(HTTPGetAction(as_int("http_get_action", "port", port),
                                               as_str("http_get_action", "host", host) or "localhost",
                                               scheme, as_str("http_get_action", "path", path)))


def tcp_socket_action(ctx: FileContext, port: Any, host: Any = "localhost") -> sl.OpaquePythonObject:
    return sl.OpaquePythonObject(TCPSocketAction(as_int("tcp_socket_action", "port", port),
                                                 as_str("tcp_socket_action", "host", host) or "localhost"))


BUILTINS = {
    "local_resource": local_resource,
    "probe": probe,
    "exec_action": exec_action,
    "http_get_action": http_get_action,
    "tcp_socket_action": tcp_socket_action,
}
