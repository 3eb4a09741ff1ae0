"""The os, os.path, sys and shlex namespaces. Functions are registered under
private names and grouped into structs by the prelude, because the
interpreter exposes Python callables only as top-level names."""
from __future__ import annotations

import os
import shlex
import sys
from typing import TYPE_CHECKING, Any

from tiltpy.tiltfile.builtins._common import abs_path, go_base, go_dir, go_join, go_rel
from tiltpy.tiltfile.errors import TiltfileError
from tiltpy.tiltfile.values import as_str

if TYPE_CHECKING:
    from tiltpy.tiltfile.loader import FileContext


# os.environ is a Starlark dict per file, taken when the file starts running
# ("captured each time the Tiltfile begins execution"). Writes to it reach the
# process environment (so local() and later commands see them) at the next
# local() / os.getenv() call and when the file finishes: the prelude passes the
# dict in, and what changed since the snapshot is applied (see sync_environ).
def _snapshots(ctx: FileContext) -> dict[str, dict[str, str]]:
    return ctx.state.extra.setdefault("environ", {})


def sync_environ(ctx: FileContext, current: Any) -> None:
    if not isinstance(current, dict):
        return
    snapshots = _snapshots(ctx)
    before = snapshots.get(ctx.path, {})
    for key, value in current.items():
        if isinstance(key, str) and isinstance(value, str) and before.get(key) != value:
            os.environ[key] = value
    for key in before:
        if key not in current:
            os.environ.pop(key, None)
    snapshots[ctx.path] = {k: v for k, v in current.items() if isinstance(k, str) and isinstance(v, str)}


def getenv(ctx: FileContext, key: Any, default: Any = None, current: Any = None) -> Any:
    sync_environ(ctx, current)
    return os.environ.get(as_str("os.getenv", "key", key, allow_none=False), default)


def putenv(ctx: FileContext, key: Any, value: Any) -> bool:
    """Sets the variable; True when the calling file is still running, so the
    prelude also updates its os.environ dict (a finished file's is frozen)."""
    key = as_str("os.putenv", "key", key, allow_none=False)
    value = as_str("os.putenv", "value", value, allow_none=False)
    os.environ[key] = value
    if _still_running(ctx):
        _snapshots(ctx).setdefault(ctx.path, {})[key] = value
        return True
    return False


def unsetenv(ctx: FileContext, key: Any) -> bool:
    key = as_str("os.unsetenv", "key", key, allow_none=False)
    os.environ.pop(key, None)
    if _still_running(ctx):
        _snapshots(ctx).setdefault(ctx.path, {}).pop(key, None)
        return True
    return False


def _still_running(ctx: FileContext) -> bool:
    loader = ctx.state.loader
    return loader is None or ctx.path in getattr(loader, "loading", [ctx.path])


def environ(ctx: FileContext) -> dict[str, str]:
    snapshot = dict(os.environ)
    _snapshots(ctx)[ctx.path] = dict(snapshot)
    return snapshot


def getcwd(ctx: FileContext) -> str:
    """The directory of the file that is executing (Tilt's working directory)."""
    return ctx.dir


def path_abspath(ctx: FileContext, path: Any) -> str:
    return abs_path(ctx, as_str("os.path.abspath", "path", path, allow_none=False))


def path_relpath(ctx: FileContext, targpath: Any, basepath: Any = None) -> str:
    target = as_str("os.path.relpath", "targpath", targpath, allow_none=False)
    base = as_str("os.path.relpath", "basepath", basepath) if basepath is not None else ctx.dir
    try:
        return go_rel(base, target)
    except ValueError as err:
        raise TiltfileError(f"os.path.relpath: {err}") from None


def path_basename(ctx: FileContext, path: Any) -> str:
    return go_base(as_str("os.path.basename", "path", path, allow_none=False))


def path_dirname(ctx: FileContext, path: Any) -> str:
    return go_dir(as_str("os.path.dirname", "path", path, allow_none=False))


def path_exists(ctx: FileContext, path: Any) -> bool:
    return os.path.exists(abs_path(ctx, as_str("os.path.exists", "path", path, allow_none=False)))


def path_join(ctx: FileContext, *paths: Any) -> str:
    for i, part in enumerate(paths):
        if not isinstance(part, str):
            raise TiltfileError(f"os.path.join() only accepts strings. Argument #{i}: {part!r}")
    return go_join(*paths)


def path_realpath(ctx: FileContext, path: Any) -> str:
    absolute = abs_path(ctx, as_str("os.path.realpath", "path", path, allow_none=False))
    if not os.path.lexists(absolute):
        raise TiltfileError(f"os.path.realpath: lstat {absolute}: no such file or directory")
    return os.path.realpath(absolute)


def shlex_quote(ctx: FileContext, s: Any) -> str:
    return shlex.quote(as_str("shlex.quote", "s", s, allow_none=False))


def sys_argv(ctx: FileContext) -> list[str]:
    return ["tiltpy", ctx.state.options.subcommand, *ctx.state.options.args]


def sys_executable(ctx: FileContext) -> str:
    return sys.executable


BUILTINS = {
    "_os_getenv": getenv, "_os_putenv": putenv, "_os_unsetenv": unsetenv, "_os_environ": environ,
    "_os_getcwd": getcwd, "_os_path_abspath": path_abspath, "_os_path_relpath": path_relpath,
    "_os_path_basename": path_basename, "_os_path_dirname": path_dirname, "_os_path_exists": path_exists,
    "_os_path_join": path_join, "_os_path_realpath": path_realpath, "_shlex_quote": shlex_quote,
    "_sys_argv": sys_argv, "_sys_executable": sys_executable,
}
CONSTANTS = {"_os_name": "nt" if os.name == "nt" else "posix"}
PRELUDE = """
_os_environ_dict = _os_environ()
def _os_getenv_w(key, default = None):
    return _os_getenv(key, default, _os_environ_dict)
def _os_putenv_w(key, value):
    if _os_putenv(key, value):
        _os_environ_dict[key] = value
def _os_unsetenv_w(key):
    if _os_unsetenv(key) and key in _os_environ_dict:
        _os_environ_dict.pop(key)
os = struct(
    name = _os_name, environ = _os_environ_dict, getenv = _os_getenv_w, putenv = _os_putenv_w,
    unsetenv = _os_unsetenv_w, getcwd = _os_getcwd,
    path = struct(abspath = _os_path_abspath, relpath = _os_path_relpath, basename = _os_path_basename,
                  dirname = _os_path_dirname, exists = _os_path_exists, join = _os_path_join,
                  realpath = _os_path_realpath),
)
shlex = struct(quote = _shlex_quote)
sys = struct(argv = _sys_argv(), executable = _sys_executable())
"""
