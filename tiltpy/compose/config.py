"""Reading Docker Compose files the way Compose does, as far as tiltpy needs:
the services, their images, builds, published ports, bind mounts and
profiles, with ${VAR} interpolation from the environment and `.env`.

Pure (reads files, runs nothing): the Tiltfile layer uses it to turn
services into resources; running them is the compose CLI's job."""
from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from typing import Any, Mapping

import yaml


class ComposeError(Exception):
    pass


@dataclass(frozen=True)
class Service:
    name: str
    image: str
    has_build: bool
    published_ports: tuple[int, ...]
    bind_mounts: tuple[str, ...]
    profiles: tuple[str, ...]
    depends_on: tuple[str, ...] = ()  # services this one starts after (list or mapping form)


@dataclass
class ComposeProject:
    name: str
    project_dir: str
    config_paths: list[str]
    services: dict[str, Service] = field(default_factory=dict)


_VAR = re.compile(r"\$(?:\$|\{(?P<braced>[^}]*)\}|(?P<plain>[A-Za-z_][A-Za-z0-9_]*))")


def interpolate(text: str, env: Mapping[str, str]) -> str:
    """Compose's variable syntax: $VAR, ${VAR}, ${VAR:-default}, ${VAR-default},
    ${VAR:?err}, ${VAR?err}, ${VAR:+alt}, ${VAR+alt}; $$ is a literal $."""

    def replace(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        expr = match.group("braced") if match.group("braced") is not None else match.group("plain")
        for op in (":-", "-", ":?", "?", ":+", "+"):
            name, sep, arg = expr.partition(op)
            if sep and re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
                value = env.get(name)
                unset_or_empty = value is None or (op.startswith(":") and value == "")
                if op in (":-", "-"):
                    return arg if unset_or_empty else str(value)
                if op in (":?", "?"):
                    if unset_or_empty:
                        raise ComposeError(f"required variable {name} is missing a value: {arg}")
                    return str(value)
                return "" if unset_or_empty else arg
        return env.get(expr, "")

    return _VAR.sub(replace, text)


def _interpolate_tree(node: Any, env: Mapping[str, str]) -> Any:
    if isinstance(node, str):
        return interpolate(node, env)
    if isinstance(node, list):
        return [_interpolate_tree(v, env) for v in node]
    if isinstance(node, dict):
        return {k: _interpolate_tree(v, env) for k, v in node.items()}
    return node


def read_env_file(path: str) -> dict[str, str]:
    out: dict[str, str] = {}
    try:
        with open(path, encoding="utf-8") as f:
            for line in f:
                line = line.strip()
                if not line or line.startswith("#") or "=" not in line:
                    continue
                key, _, value = line.partition("=")
                value = value.strip()
                if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
                    value = value[1:-1]
                out[key.strip().removeprefix("export ").strip()] = value
    except FileNotFoundError:
        pass
    return out


def _merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def _ports(spec: Any) -> tuple[int, ...]:
    published = []
    for port in spec or []:
        if isinstance(port, dict):
            value = port.get("published")
            if value not in (None, ""):
                published.append(int(str(value).split("-")[0]))
            continue
        text = str(port).split("/")[0]
        parts = text.split(":")
        if len(parts) >= 2 and parts[-2]:
            published.append(int(parts[-2].split("-")[0]))
    return tuple(published)


def _bind_mounts(spec: Any, project_dir: str) -> tuple[str, ...]:
    mounts = []
    for volume in spec or []:
        source = volume.get("source") if isinstance(volume, dict) and volume.get("type", "bind") == "bind" else None
        if isinstance(volume, str) and ":" in volume:
            source = volume.split(":")[0]
        if source and (source.startswith((".", "/", "~"))):
            mounts.append(os.path.normpath(os.path.join(project_dir, os.path.expanduser(source))))
    return tuple(mounts)


def default_project_name(project_dir: str) -> str:
    return re.sub(r"[^a-z0-9_-]", "", os.path.basename(os.path.abspath(project_dir)).lower()) or "default"


def load_project(config_paths: list[str], *, project_name: str = "", env_file: str = "",
                 profiles: list[str] | None = None, environ: Mapping[str, str] | None = None,
                 contents: dict[str, str] | None = None) -> ComposeProject:
    """`contents` maps a config path to inline YAML (a Tiltfile blob)."""
    if not config_paths:
        raise ComposeError("no compose files given")
    project_dir = os.path.dirname(config_paths[0])
    env = dict(read_env_file(env_file or os.path.join(project_dir, ".env")))
    env.update(environ if environ is not None else os.environ)
    merged: dict[str, Any] = {}
    for path in config_paths:
        if contents and path in contents:
            text = contents[path]
        else:
            try:
                with open(path, encoding="utf-8") as f:
                    text = f.read()
            except FileNotFoundError:
                raise ComposeError(f"compose file not found: {path}") from None
        try:
            data = yaml.safe_load(text) or {}
        except yaml.YAMLError as err:
            raise ComposeError(f"{path}: invalid YAML: {err}") from None
        if not isinstance(data, dict):
            raise ComposeError(f"{path}: expected a mapping at the top level")
        merged = _merge(merged, _interpolate_tree(data, env))
    name = project_name or env.get("COMPOSE_PROJECT_NAME") or str(merged.get("name") or "") \
        or default_project_name(project_dir)
    project = ComposeProject(name=name, project_dir=project_dir, config_paths=list(config_paths))
    active = set(profiles or []) | set(filter(None, env.get("COMPOSE_PROFILES", "").split(",")))
    services = merged.get("services")
    if services is None and "version" not in merged:
        services = {k: v for k, v in merged.items() if isinstance(v, dict)}  # compose file format v1
    for svc_name, svc in (services or {}).items():
        svc = svc or {}
        svc_profiles = tuple(svc.get("profiles") or ())
        if svc_profiles and not active & set(svc_profiles):
            continue
        project.services[svc_name] = Service(
            name=svc_name,
            image=str(svc.get("image") or ""),
            has_build=bool(svc.get("build")),
            published_ports=_ports(svc.get("ports")),
            bind_mounts=_bind_mounts(svc.get("volumes"), project_dir),
            profiles=svc_profiles,
            depends_on=_depends_on(svc.get("depends_on")),
        )
    return project


def _depends_on(value: Any) -> tuple[str, ...]:
    """`depends_on: [a, b]` or `depends_on: {a: {condition: ...}}`."""
    if isinstance(value, dict):
        return tuple(str(k) for k in value)
    if isinstance(value, list):
        return tuple(str(v) for v in value)
    return ()


def dependency_order(services: list[Service]) -> list[Service]:
    """Services with each one's depends_on before it (as Compose orders them),
    otherwise in file order."""
    by_name = {s.name: s for s in services}
    ordered: list[Service] = []
    seen: set[str] = set()

    def visit(service: Service, path: tuple[str, ...]) -> None:
        if service.name in seen or service.name in path:
            return
        for dep in service.depends_on:
            if dep in by_name:
                visit(by_name[dep], path + (service.name,))
        seen.add(service.name)
        ordered.append(service)

    for service in services:
        visit(service, ())
    return ordered
