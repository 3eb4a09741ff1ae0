"""The os, os.path, sys and shlex namespaces. Functions are registered under
private names and grouped into structs by the prelude, because the
interpreter exposes Python callables only as top-level names."""
from __future__ import annotations

import os
import shlex
import sys
from typing import TYPE_CHECKING, Any

from tiltpy.tiltfile.values import as_str

if TYPE_CHECKING:
    from tiltpy.tiltfile.loader import FileContext


def getenv(ctx: FileContext, key: Any, default: Any = None) -> Any:
    return os.environ.get(as_str("os.getenv", "key", key, allow_none=False), default)


def putenv(ctx: FileContext, key: Any, value: Any) -> None:
    os.environ[as_str("os.putenv", "key", key, allow_none=False)] = as_str("os.putenv", "value", value, allow_none=False)


def unsetenv(ctx: FileContext, key: Any) -> None:
    os.environ.pop(as_str("os.unsetenv", "key", key, allow_none=False), None)


def environ(ctx: FileContext) -> dict[str, str]:
    return dict(os.environ)


def getcwd(ctx: FileContext) -> str:
    return os.getcwd()


def path_abspath(ctx: FileContext, path: Any) -> str:
    return ctx.abspath(as_str("os.path.abspath", "path", path, allow_none=False))


def path_relpath(ctx: FileContext, targpath: Any, basepath: Any = None) -> str:
    target = ctx.abspath(as_str("os.path.relpath", "targpath", targpath, allow_none=False))
    base = ctx.abspath(as_str("os.path.relpath", "basepath", basepath)) if basepath else ctx.dir
    return os.path.relpath(target, base)


def path_basename(ctx: FileContext, path: Any) -> str:
    return os.path.basename(as_str("os.path.basename", "path", path, allow_none=False))


def path_dirname(ctx: FileContext, path: Any) -> str:
    return os.path.dirname(as_str("os.path.dirname", "path", path, allow_none=False))


def path_exists(ctx: FileContext, path: Any) -> bool:
    return os.path.exists(ctx.abspath(as_str("os.path.exists", "path", path, allow_none=False)))


def path_join(ctx: FileContext, path: Any, *paths: Any) -> str:
    parts = [as_str("os.path.join", "path", p, allow_none=False) for p in (path, *paths)]
    return os.path.join(*parts)


def path_realpath(ctx: FileContext, path: Any) -> str:
    return os.path.realpath(ctx.abspath(as_str("os.path.realpath", "path", path, allow_none=False)))


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
os = struct(
    name = _os_name, environ = _os_environ(), getenv = _os_getenv, putenv = _os_putenv,
    unsetenv = _os_unsetenv, getcwd = _os_getcwd,
    path = struct(abspath = _os_path_abspath, relpath = _os_path_relpath, basename = _os_path_basename,
                  dirname = _os_path_dirname, exists = _os_path_exists, join = _os_path_join,
                  realpath = _os_path_realpath),
)
shlex = struct(quote = _shlex_quote)
sys = struct(argv = _sys_argv(), executable = _sys_executable())
"""
