"""Composition: load('ext://NAME'), include(), load_dynamic(), and the small
private builtins the shipped extensions use.

`ext://NAME[/sub]` resolves as in Tilt: the Extension object NAME (sanitized)
registered with v1alpha1.extension(), or else one made for it pointing at
repo `default` and path NAME; its ExtensionRepo as registered with
v1alpha1.extension_repo(), or else made with Tilt's default URL
(github.com/tilt-dev/tilt-extensions). extension_repos.py puts the repo on
disk (cloned once into the user's cache, used in place for file://), and the
Tiltfile is <repo>/<path>/Tiltfile. Both objects land in the API objects,
the Extension marked as managed by the loader.

Offline overrides, for an extension nobody registered explicitly:
$TILTPY_EXTENSIONS_DIR (directories separated by ':') holding NAME/Tiltfile,
then the extensions shipped in tiltpy/tiltfile/extensions/ (restart_process,
whose upstream version needs an image from Docker Hub)."""
from __future__ import annotations

import ast
import dataclasses
import os
import re
from typing import TYPE_CHECKING, Any

import starlark as sl

from tiltpy.model.manifest import FallBackOn, InitialSync, RestartContainer, Run, Sync
from tiltpy.tiltfile.builtins._common import abs_path, to_starlark
from tiltpy.tiltfile.builtins.v1alpha1 import ANNOTATION_MANAGED_BY, api_objects, new_object
from tiltpy.tiltfile.errors import TiltfileError, arg_error
from tiltpy.tiltfile.values import as_str, type_name

if TYPE_CHECKING:
    from tiltpy.tiltfile import extension_repos  # imported where used: git and shutil only for ext:// loads
    from tiltpy.tiltfile.loader import FileContext
    from tiltpy.tiltfile.state import TiltfileState

EXT_PREFIX = "ext://"
SHIPPED_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "extensions")
DEFAULT_REPO_NAME = "default"
MANAGED_BY_LOADER = "tiltfile.loader"


def override_dirs() -> list[str]:
    dirs = [d for d in os.environ.get("TILTPY_EXTENSIONS_DIR", "").split(os.pathsep) if d]
    dirs.append(SHIPPED_DIR)
    return dirs


def sanitize_name(name: str) -> str:
    """Tilt's apis.SanitizeName: '/' and '%' become '_' ('.' and '..' too)."""
    if name in (".", ".."):
        return name.replace(".", "_")
    return re.sub(r"[/%]", "_", name)[:253]


def resolve_extension(state: TiltfileState, spec: str) -> str:
    """The Tiltfile of extension `ext://NAME` (NAME may have '/' for nested ones)."""
    module_name = spec[len(EXT_PREFIX):]
    parts = module_name.split("/")
    if not module_name or any(p in ("", ".", "..") for p in parts):
        raise TiltfileError(f"load({spec!r}): invalid extension name {module_name!r}")
    objects = api_objects(state)
    ext_name = sanitize_name(module_name)
    registered = objects.get("Extension", ext_name)
    if registered is None:
        for directory in override_dirs():
            candidate = os.path.join(os.path.abspath(directory), *parts, "Tiltfile")
            if os.path.isfile(candidate):
                return candidate
        ext = new_object("Extension", ext_name, {"repoName": DEFAULT_REPO_NAME, "repoPath": module_name},
                         annotations={ANNOTATION_MANAGED_BY: MANAGED_BY_LOADER})
        objects.put(ext)
    else:
        ext = registered
        ext["metadata"].setdefault("annotations", {})[ANNOTATION_MANAGED_BY] = MANAGED_BY_LOADER
    repo_name = ext["spec"]["repoName"]
    status = _repo_status(state, repo_name)
    if status.error:
        repo = objects.get("ExtensionRepo", repo_name)
        url = repo["spec"]["url"] if repo else ""
        raise TiltfileError(
            f"loading extension repo {repo_name}: {status.error}\n"
            f"(ext://{module_name} comes from extension repo {repo_name!r} at {url}. Without network access, "
            f"register a local copy first: v1alpha1.extension_repo(name={repo_name!r}, url='file:///path/to/repo'), "
            f"or put the extension at $TILTPY_EXTENSIONS_DIR/{module_name}/Tiltfile.)")
    path, error = _extension_tiltfile(status.path, ext["spec"]["repoPath"])
    if error:
        raise TiltfileError(f"loading extension {ext_name}: {error}")
    return path


def _repo_status(state: TiltfileState, repo_name: str) -> extension_repos.RepoStatus:
    """Tilt's ensureRepo + the repo reconciler: the registered repo, or one
    with the default URL; fetched once per load."""
    from tiltpy.tiltfile import extension_repos

    objects = api_objects(state)
    repo = objects.get("ExtensionRepo", repo_name)
    if repo is None:
        repo = new_object("ExtensionRepo", repo_name, {"url": extension_repos.DEFAULT_REPO_URL})
        objects.put(repo)
    statuses: dict[str, extension_repos.RepoStatus] = state.extra.setdefault("extension_repo_status", {})
    if repo_name not in statuses:
        statuses[repo_name] = extension_repos.fetch(repo["spec"]["url"], repo["spec"].get("ref", ""), state.log)
        repo["status"] = statuses[repo_name].to_json()
    return statuses[repo_name]


def _extension_tiltfile(repo_path: str, path_in_repo: str) -> tuple[str, str]:
    """(Tiltfile, error) as Tilt's extension reconciler checks it."""
    path = os.path.normpath(os.path.join(repo_path, path_in_repo, "Tiltfile"))
    if not path.startswith(repo_path.rstrip("/") + "/"):
        return "", f"invalid repo path: {path_in_repo}"
    if not os.path.isfile(path):
        return "", f"no extension tiltfile found at {path}"
    return path, ""


def registered_extension_tiltfile(objects: list[dict[str, Any]], name: str,
                                  log: extension_repos.Log) -> tuple[str, str]:
    """For the engine: an Extension registered with v1alpha1.extension() and not
    load()ed runs in Tilt as a Tiltfile of its own (with spec.args, its
    resources labelled `extension.<name>`). Returns (its Tiltfile, error),
    fetching its repo from `objects` (a TiltfileResult's api_objects) as a
    load would."""
    from tiltpy.tiltfile import extension_repos

    by_kind: dict[tuple[str, str], dict[str, Any]] = {(o["kind"], o["metadata"]["name"]): o for o in objects}
    ext = by_kind.get(("Extension", name))
    if ext is None:
        return "", f"extension not found: {name}"
    repo = by_kind.get(("ExtensionRepo", ext["spec"]["repoName"]))
    if repo is None:
        return "", f"extension repo not found: {ext['spec']['repoName']}"
    status = extension_repos.fetch(repo["spec"]["url"], repo["spec"].get("ref", ""), log)
    if status.error:
        return "", f"extension repo not loaded: {ext['spec']['repoName']}: {status.error}"
    return _extension_tiltfile(status.path, ext["spec"]["repoPath"])


def _resolve(ctx: FileContext, builtin: str, path: Any) -> str:
    if not isinstance(path, str):
        raise arg_error(builtin, "path", f"got {type_name(path)}, want string")
    if path.startswith(EXT_PREFIX):
        return resolve_extension(ctx.state, path)
    return os.path.normpath(abs_path(ctx, path))


def include(ctx: FileContext, path: Any) -> None:
    """Run another Tiltfile for its side effects (once, like load())."""
    ctx.state.loader.run_file(_resolve(ctx, "include", path))


# --- load_dynamic ---------------------------------------------------------------
#
# A Starlark function cannot cross into Python, so load_dynamic returns plain
# values as they are and, for each function, a Starlark closure (made in the
# prelude) that calls it through the loaded module. Values pass through Python:
# structs arrive as dicts.

def _global_names(source: str) -> list[str]:
    """Names a Starlark file binds at top level (Starlark parses as Python)."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return []
    names: list[str] = []

    def targets(node: ast.AST) -> None:
        if isinstance(node, ast.Name):
            names.append(node.id)
        elif isinstance(node, (ast.Tuple, ast.List)):
            for elt in node.elts:
                targets(elt)

    def visit(body: list[ast.stmt]) -> None:
        for stmt in body:
            if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)):
                names.append(stmt.name)
            elif isinstance(stmt, ast.Assign):
                for target in stmt.targets:
                    targets(target)
            elif isinstance(stmt, (ast.AugAssign, ast.AnnAssign)):
                targets(stmt.target)
            elif isinstance(stmt, ast.For):
                targets(stmt.target)
                visit(stmt.body)
                visit(stmt.orelse)
            elif isinstance(stmt, ast.If):
                visit(stmt.body)
                visit(stmt.orelse)

    visit(tree.body)
    return [n for n in dict.fromkeys(names) if not n.startswith("_")]


class _Accessor:
    """A tiny module that load()s one symbol of a file and reads or calls it."""

    def __init__(self, ctx: FileContext, path: str, name: str) -> None:
        from tiltpy.tiltfile.loader import _GLOBALS, _dialect

        source = (f"load({path!r}, {name!r})\n"
                  f"def tiltpy_kind():\n    return type({name})\n"
                  f"def tiltpy_get():\n    return {name}\n"
                  f"def tiltpy_call(args, kwargs):\n    return {name}(*args, **kwargs)\n")
        module = sl.Module()
        loader = ctx.state.loader
        sl.eval(module, sl.parse(f"<load_dynamic {name}>", source, _dialect()), _GLOBALS,
                sl.FileLoader(lambda spec: loader.run_file(spec)))
        self.frozen = module.freeze()


def _accessor(ctx: FileContext, path: str, name: str) -> _Accessor | None:
    cache: dict[tuple[str, str], _Accessor | None] = ctx.state.extra.setdefault("load_dynamic", {})
    key = (path, name)
    if key not in cache:
        try:
            cache[key] = _Accessor(ctx, path, name)
        except sl.StarlarkError:
            cache[key] = None  # bound only in a branch that did not run
    return cache[key]


def load_dynamic(ctx: FileContext, path: Any) -> dict[str, Any]:
    """Registered as `_load_dynamic`: runs the file (once) and describes its
    globals for the prelude's load_dynamic()."""
    resolved = _resolve(ctx, "load_dynamic", path)
    loader = ctx.state.loader
    loader.run_file(resolved)
    source = loader.sources.get(resolved, "") if hasattr(loader, "sources") else _read(resolved)
    values: dict[str, Any] = {}
    functions: list[str] = []
    order: list[str] = []
    for name in _global_names(source):
        accessor = _accessor(ctx, resolved, name)
        if accessor is None:
            continue
        kind = accessor.frozen.call("tiltpy_kind")
        if kind == "function":
            functions.append(name)
        else:
            try:
                values[name] = to_starlark(accessor.frozen.call("tiltpy_get"))
            except (sl.StarlarkError, TypeError, ValueError):
                continue  # a value that cannot cross into Python (e.g. holds functions)
        order.append(name)
    return {"path": resolved, "order": order, "functions": functions, "values": values}


def _read(path: str) -> str:
    try:
        with open(path, encoding="utf-8") as f:
            return f.read()
    except OSError:
        return ""


def load_dynamic_call(ctx: FileContext, path: Any, name: Any, args: Any, kwargs: Any) -> Any:
    accessor = _accessor(ctx, path, name)
    if accessor is None:
        raise TiltfileError(f"load_dynamic: {name} is not defined in {path}")
    return to_starlark(accessor.frozen.call("tiltpy_call", to_starlark(list(args or [])),
                                            to_starlark(dict(kwargs or {}))))


def after_file(ctx: FileContext, frozen: sl.FrozenModule, source: str) -> None:
    """A file finished: keep its source (load_dynamic) and push the writes it
    made to os.environ into the process environment."""
    from tiltpy.tiltfile.builtins.os_sys import sync_environ

    loader = ctx.state.loader
    if loader is not None:
        if not hasattr(loader, "sources"):
            loader.sources = {}
        loader.sources[ctx.path] = source
    try:
        environ = frozen.call("tiltpy_internal_environ")
    except sl.StarlarkError:
        return
    sync_environ(ctx, environ)


# --- helpers for shipped extensions ---------------------------------------------------

_STEP_KINDS = {InitialSync: "initial_sync", FallBackOn: "fall_back_on", Sync: "sync", Run: "run",
               RestartContainer: "restart_container"}


def live_update_step_kind(ctx: FileContext, step: Any) -> str:
    """'sync', 'run', ... for a live update step; '' for anything else."""
    return _STEP_KINDS.get(type(ctx.state.values.payload(step, tuple(_STEP_KINDS))), "")


def has_image_target(ctx: FileContext, ref: Any) -> bool:
    return ctx.state.has_image_target(ref)


def mark_restart(ctx: FileContext, ref: Any, restart_file: Any) -> None:
    """docker_build_with_restart: the image's process runs under the restart wrapper."""
    ref = as_str("_tiltpy_mark_restart", "ref", ref, allow_none=False)
    targets = ctx.state.image_targets
    for i, target in enumerate(targets):
        if target.ref == ref:
            targets[i] = dataclasses.replace(target, restart_file=as_str("_tiltpy_mark_restart", "restart_file",
                                                                         restart_file))
            return
    raise TiltfileError(f"_tiltpy_mark_restart: no image target {ref!r}")


BUILTINS = {
    "include": include,
    "_load_dynamic": load_dynamic,
    "_load_dynamic_call": load_dynamic_call,
    "_tiltpy_live_update_step_kind": live_update_step_kind,
    "_tiltpy_has_image_target": has_image_target,
    "_tiltpy_mark_restart": mark_restart,
}

PRELUDE = """
def load_dynamic(path):
    spec = _load_dynamic(path)
    out = {}
    for name in spec["order"]:
        if name in spec["functions"]:
            out[name] = _load_dynamic_function(spec["path"], name)
        else:
            out[name] = spec["values"][name]
    return out
def _load_dynamic_function(path, name):
    def call(*args, **kwargs):
        return _load_dynamic_call(path, name, args, kwargs)
    return call
def tiltpy_internal_environ():
    return _os_environ_dict
"""
