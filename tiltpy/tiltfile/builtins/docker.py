"""docker_build: declares an image target."""
from __future__ import annotations

import csv
import io
import os
import re
from typing import TYPE_CHECKING, Any

from tiltpy.model.manifest import ImageTarget, LiveUpdateStep
from tiltpy.tiltfile.builtins._common import go_quote
from tiltpy.tiltfile.builtins.live_update import validate_steps
from tiltpy.tiltfile.errors import TiltfileError, arg_error
from tiltpy.tiltfile.values import as_bool, as_command, as_str, as_str_dict, as_str_list

if TYPE_CHECKING:
    from tiltpy.tiltfile.loader import FileContext

# Docker's reference grammar, simplified: lowercase path components separated
# by / with an optional registry host[:port], tag and digest.
_REF_RE = re.compile(
    r"^(?:(?:[a-zA-Z0-9-]+\.)*[a-zA-Z0-9-]+(?::[0-9]+)?/)?"
    r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*"
    r"(?::[\w][\w.-]{0,127})?(?:@sha256:[0-9a-f]{64})?$"
)


def validate_ref(builtin: str, ref: str) -> str:
    if not _REF_RE.match(ref):
        raise arg_error(builtin, "ref", f"invalid image reference {ref!r} (must be lowercase, e.g. 'my-app' or 'registry:5000/team/app')")
    return ref


def docker_build(
    ctx: FileContext,
    ref: Any,
    context: Any,
    build_args: Any = None,
    dockerfile: Any = "Dockerfile",
    dockerfile_contents: Any = "",
    live_update: Any = None,
    match_in_env_vars: Any = False,
    ignore: Any = None,
    only: Any = None,
    entrypoint: Any = None,
    target: Any = "",
    ssh: Any = "",
    network: Any = "",
    secret: Any = "",
    extra_tag: Any = "",
    container_args: Any = None,
    cache_from: Any = None,
    pull: Any = False,
    platform: Any = "",
    extra_hosts: Any = None,
    cache: Any = None,
) -> None:
    name = "docker_build"
    if cache is not None:
        ctx.state.warnings.append("docker_build(cache=...) is obsolete, and currently a no-op.\n"
                                  "You should switch to live_update to optimize your builds.")
    ref = validate_ref(name, as_str(name, "ref", ref, allow_none=False))
    context_arg = as_str(name, "context", context, allow_none=False)
    dockerfile_given = dockerfile not in (None, "", "Dockerfile")
    contents = as_str(name, "dockerfile_contents", dockerfile_contents) if dockerfile_contents else ""
    if contents and dockerfile_given:
        raise TiltfileError(f"{name}: cannot specify both dockerfile and dockerfile_contents")

    # The context need not exist yet (a local_resource may create it before
    # the build, as Tilt allows); the build fails clearly if it still doesn't.
    context_dir = "-" if context_arg == "-" else ctx.abspath(context_arg)
    dockerfile_path = ""
    if not contents:
        if dockerfile_given:
            dockerfile_path = ctx.abspath(as_str(name, "dockerfile", dockerfile))
        elif context_dir == "-":
            raise TiltfileError(f"{name}: an empty context ('-') needs dockerfile or dockerfile_contents")
        else:
            dockerfile_path = os.path.join(context_dir, "Dockerfile")
        ctx.state.watch(dockerfile_path)
        try:
            with open(dockerfile_path, encoding="utf-8") as f:
                contents = f.read()
        except (FileNotFoundError, IsADirectoryError):
            raise arg_error(name, "dockerfile", f"file not found: {dockerfile_path}") from None
    if context_dir != "-":
        ctx.state.watch(os.path.join(context_dir, ".dockerignore"))

    if ctx.state.has_image_target(ref):
        raise TiltfileError(f'{name}: image for ref "{ref}" has already been defined')

    steps: tuple[LiveUpdateStep, ...] = validate_steps(name, live_update or [], ctx)
    args = as_str_dict(name, "build_args", build_args)
    tags = [t for t in as_str_list(name, "extra_tag", extra_tag) if t]
    for tag in tags:
        if not _REF_RE.match(tag):
            raise TiltfileError(f"Argument extra_tag={go_quote(tag)} not a valid image reference: invalid reference format")
    if container_args is not None:
        container_args_list = as_str_list(name, "container_args", container_args)
    else:
        container_args_list = []
    ctx.state.add_image_target(
        ImageTarget(
            ref=ref,
            context=context_dir,
            dockerfile_path=dockerfile_path,
            dockerfile_contents=contents,
            build_args=tuple(sorted(args.items())),
            target=as_str(name, "target", target),
            entrypoint=tuple(as_command(name, "entrypoint", entrypoint)),
            ignore=tuple(as_str_list(name, "ignore", ignore)),
            only=tuple(_relative_only(ctx, context_dir, p) for p in as_str_list(name, "only", only)),
            match_in_env_vars=as_bool(name, "match_in_env_vars", match_in_env_vars),
            live_update=steps,
            extra_tags=tuple(tags),
            network=as_str(name, "network", network),
            pull=as_bool(name, "pull", pull),
            cache_from=tuple(as_str_list(name, "cache_from", cache_from)),
            platform=as_str(name, "platform", platform) or os.environ.get("DOCKER_DEFAULT_PLATFORM", ""),
            container_args=tuple(container_args_list) if container_args is not None else None,
            secrets=tuple(_secret_spec(ctx, spec) for spec in as_str_list(name, "secret", secret) if spec),
            ssh=tuple(_ssh_spec(ctx, spec) for spec in as_str_list(name, "ssh", ssh) if spec),
            extra_hosts=tuple(_extra_host(h) for h in as_str_list(name, "extra_hosts", extra_hosts) if h),
        )
    )


def _secret_spec(ctx: FileContext, spec: str) -> str:
    """`docker build --secret` syntax (id=..,src=..|env=..,type=file|env), checked
    now so a typo is a Tiltfile error; a relative src is relative to the Tiltfile."""
    try:
        fields = next(csv.reader([spec]))
    except (csv.Error, StopIteration):
        raise arg_error("docker_build", "secret", f"cannot parse {spec!r}") from None
    pairs = []
    for field in fields:
        key, eq, value = field.partition("=")
        key = key.lower()
        if not eq:
            raise arg_error("docker_build", "secret", f"invalid field {field!r}: must be a key=value pair")
        if key == "type" and value not in ("file", "env"):
            raise arg_error("docker_build", "secret", f"unsupported secret type {value!r}")
        if key not in ("type", "id", "src", "source", "env"):
            raise arg_error("docker_build", "secret", f"unexpected key {key!r} in {field!r}")
        pairs.append((key, value))
    from_env = ("type", "env") in pairs
    out = [f"{k}={ctx.abspath(v) if k in ('src', 'source') and not from_env else v}" for k, v in pairs]
    return _csv_line(out)


def _csv_line(fields: list[str]) -> str:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="").writerow(fields)
    return buf.getvalue()


def _ssh_spec(ctx: FileContext, spec: str) -> str:
    """`docker build --ssh` syntax: `default`, `id`, or `id=path[,path...]` (agent
    sockets or keys; relative paths are relative to the Tiltfile)."""
    ident, eq, paths = spec.partition("=")
    if not ident:
        raise arg_error("docker_build", "ssh", f"invalid spec {spec!r}: needs an id (e.g. 'default')")
    if not eq:
        return ident
    return ident + "=" + ",".join(ctx.abspath(p) for p in paths.split(","))


def _extra_host(entry: str) -> str:
    host, sep, address = entry.partition(":")
    if not sep or not host or not address:
        raise arg_error("docker_build", "extra_hosts", f"invalid entry {entry!r}: expected host:ip")
    return entry


def _relative_only(ctx: FileContext, context_dir: str, path: str) -> str:
    """`only` paths are relative to the context; they may not escape it."""
    if context_dir == "-":
        raise arg_error("docker_build", "only", "cannot be used with an empty context")
    absolute = os.path.normpath(os.path.join(context_dir, path))
    rel = os.path.relpath(absolute, context_dir)
    if rel.startswith(".."):
        raise arg_error("docker_build", "only", f"{path!r} is outside the context {context_dir}")
    return rel.replace(os.sep, "/")


BUILTINS = {"docker_build": docker_build}
