"""docker_compose and dc_resource: each Compose service becomes a resource."""
from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from tiltpy.tiltfile.builtins.k8s import parse_labels, parse_link, parse_trigger_mode
from tiltpy.tiltfile.errors import TiltfileError, arg_error
from tiltpy.tiltfile.state import ComposeCall, DcResourceCall
from tiltpy.tiltfile.values import as_bool, as_str, as_str_list, type_name

if TYPE_CHECKING:
    from tiltpy.tiltfile.loader import FileContext


def docker_compose(ctx: FileContext, configPaths: Any, env_file: Any = None, project_name: Any = "",
                   profiles: Any = None, wait: Any = False) -> None:
    fn = "docker_compose"
    items = configPaths if isinstance(configPaths, (list, tuple)) else [configPaths]
    paths: list[str] = []
    inline: dict[str, str] = {}
    for i, item in enumerate(items):
        if not isinstance(item, str):
            raise arg_error(fn, "configPaths", f"got {type_name(item)}, want a path, a list of paths or a blob")
        if ctx.state.is_blob(item) or "\n" in item:
            # Inline YAML: Compose resolves its relative paths against the Tiltfile's directory.
            fake = os.path.join(ctx.dir, f"<blob {i}>.yml")
            inline[fake] = item
            paths.append(fake)
        else:
            path = ctx.abspath(item)
            ctx.state.watch(path)
            paths.append(path)
    env_path = ctx.abspath(as_str(fn, "env_file", env_file)) if env_file else ""
    if env_path:
        ctx.state.watch(env_path)
    else:
        ctx.state.watch(os.path.join(os.path.dirname(paths[0]), ".env"))
    from tiltpy.compose.config import ComposeError, load_project  # only Compose projects need it

    try:
        project = load_project(paths, project_name=as_str(fn, "project_name", project_name), env_file=env_path,
                               profiles=as_str_list(fn, "profiles", profiles), contents=inline)
    except ComposeError as err:
        raise TiltfileError(f"{fn}: {err}") from None
    if inline:
        # The CLI needs real files: keep inline YAML next to the Tiltfile's state.
        project.config_paths = [_materialize(ctx, p, inline[p]) if p in inline else p for p in project.config_paths]
    for existing in ctx.state.compose_calls:
        if existing.project.name == project.name:
            existing.project.config_paths += project.config_paths
            existing.project.services.update(project.services)
            return
    ctx.state.compose_calls.append(ComposeCall(project, env_path, as_str_list(fn, "profiles", profiles),
                                               as_bool(fn, "wait", wait)))


def _materialize(ctx: FileContext, fake_path: str, text: str) -> str:
    import hashlib
    import tempfile

    digest = hashlib.sha256(text.encode()).hexdigest()[:12]
    directory = os.path.join(tempfile.gettempdir(), "tiltpy-compose")
    os.makedirs(directory, exist_ok=True)
    path = os.path.join(directory, f"inline-{digest}.yml")
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)
    return path


def dc_resource(ctx: FileContext, name: Any, image: Any = None, trigger_mode: Any = None, resource_deps: Any = None,
                links: Any = None, labels: Any = None, auto_init: Any = None, project_name: Any = "",
                new_name: Any = "", infer_links: Any = None) -> None:
    """Tilt's parameters, in its order (`image` second). Repeated calls for a
    service add links, labels and resource_deps (see assemble.py)."""
    fn = "dc_resource"
    if not isinstance(name, str) or not name:
        raise TiltfileError("dc_resource: `name` must not be empty")
    if image is not None and not isinstance(image, str):
        raise TiltfileError(f"image arg must be a string; got {type_name(image)}")
    link_values = None if links is None else (links if isinstance(links, (list, tuple)) else [links])
    ctx.state.dc_resource_calls.append(DcResourceCall(
        name=as_str(fn, "name", name, allow_none=False),
        trigger_mode=None if trigger_mode is None else parse_trigger_mode(fn, trigger_mode),
        resource_deps=None if resource_deps is None else as_str_list(fn, "resource_deps", resource_deps),
        links=None if link_values is None else [parse_link(fn, link) for link in link_values],
        labels=None if labels is None else parse_labels(fn, labels),
        auto_init=None if auto_init is None else as_bool(fn, "auto_init", auto_init),
        project_name=as_str(fn, "project_name", project_name),
        new_name=as_str(fn, "new_name", new_name),
        infer_links=None if infer_links is None else as_bool(fn, "infer_links", infer_links),
        image=image or "",
    ))


BUILTINS = {"docker_compose": docker_compose, "dc_resource": dc_resource}
