"""custom_build: the user's command builds the image (image/custom_builder.py
runs it). Recorded as an ImageTarget whose `custom_build` holds the command;
image_deps are explicit (no Dockerfile to read them from)."""
from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from tiltpy.image.dockerfile import ref_matches
from tiltpy.model.manifest import CustomBuild, ImageTarget
from tiltpy.tiltfile.builtins._common import abs_path, command_dir, env_dict
from tiltpy.tiltfile.builtins.k8s_extra import _path_list
from tiltpy.tiltfile.errors import TiltfileError, arg_error
from tiltpy.tiltfile.values import as_bool, as_command, as_str, as_str_list, type_name

if TYPE_CHECKING:
    from tiltpy.tiltfile.loader import FileContext


def _ignores(builtin: str, value: Any) -> list[str]:
    items = value if isinstance(value, (list, tuple)) else ([] if value is None else [value])
    out = []
    for item in items:
        if not isinstance(item, str):
            raise TiltfileError(f"ignore must be a string or a sequence of strings; found a {type_name(item)}")
        if "\n" in item:
            raise TiltfileError(f"ignore cannot contain newlines; found ignore: {item!r}")
        out.append(item)
    return out


def custom_build(
    ctx: FileContext,
    ref: Any,
    command: Any,
    deps: Any,
    tag: Any = "",
    disable_push: Any = False,
    skips_local_docker: Any = False,
    live_update: Any = None,
    match_in_env_vars: Any = False,
    ignore: Any = None,
    entrypoint: Any = None,
    container_args: Any = None,
    command_bat_val: Any = "",
    outputs_image_ref_to: Any = "",
    command_bat: Any = "",
    image_deps: Any = None,
    env: Any = None,
    dir: Any = None,  # noqa: A002 - Tilt's parameter name
) -> None:
    from tiltpy.tiltfile.builtins.docker import validate_ref
    from tiltpy.tiltfile.builtins.live_update import validate_steps

    fn = "custom_build"
    ref = validate_ref(fn, as_str(fn, "ref", ref, allow_none=False))
    steps = validate_steps(fn, live_update or [], ctx)
    ignores = _ignores(fn, ignore)
    entry = as_command(fn, "entrypoint", entrypoint)
    args = None
    if container_args is not None:
        if not isinstance(container_args, (list, tuple)):
            raise arg_error(fn, "container_args", f"got {type_name(container_args)}, want list of strings")
        args = tuple(as_str_list(fn, "container_args", list(container_args)))
    as_command(fn, "command_bat", command_bat or command_bat_val)  # Windows only: checked, not used here
    argv = as_command(fn, "command", command)
    if not argv:
        raise TiltfileError("Argument 2 (command) can't be empty")
    tag = as_str(fn, "tag", tag)
    ref_file = as_str(fn, "outputs_image_ref_to", outputs_image_ref_to)
    if tag and ref_file:
        raise TiltfileError("Cannot specify both tag= and outputs_image_ref_to=")
    dep_paths = [abs_path(ctx, p) for p in _path_list(fn, "deps", deps)]
    image_dep_refs = [validate_ref(fn, r) for r in as_str_list(fn, "image_deps", image_deps)]
    if ctx.state.has_image_target(ref):
        raise TiltfileError(f'{fn}: image for ref "{ref}" has already been defined')
    for dep in dep_paths:
        if os.path.isdir(dep):
            ctx.state.watch(os.path.join(dep, ".dockerignore"))
    ctx.state.add_image_target(ImageTarget(
        ref=ref,
        context="-",
        dockerfile_path="",
        dockerfile_contents="",
        entrypoint=tuple(entry),
        container_args=args,
        ignore=tuple(ignores),
        match_in_env_vars=as_bool(fn, "match_in_env_vars", match_in_env_vars),
        live_update=steps,
        custom_build=CustomBuild(
            command=tuple(argv),
            deps=tuple(dep_paths),
            workdir=command_dir(ctx, fn, "dir", dir),
            env=tuple(sorted(env_dict(fn, "env", env).items())),
            tag=tag,
            disable_push=as_bool(fn, "disable_push", disable_push),
            skips_local_docker=as_bool(fn, "skips_local_docker", skips_local_docker),
            outputs_image_ref_to=abs_path(ctx, ref_file) if ref_file else "",
            image_deps=tuple(image_dep_refs),
        ),
    ))


def explicit_image_deps(target: ImageTarget, targets: list[ImageTarget]) -> list[str]:
    """custom_build(image_deps=): each must name another image target."""
    if target.custom_build is None:
        return []
    out = []
    for dep in target.custom_build.image_deps:
        found = next((t for t in targets if t.ref != target.ref and ref_matches(t.ref, dep)), None)
        if found is None:
            raise TiltfileError(f'image "{target.ref}": image dep "{dep}" not found')
        out.append(found.ref)
    return out


BUILTINS = {"custom_build": custom_build}
