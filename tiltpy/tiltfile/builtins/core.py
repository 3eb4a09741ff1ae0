"""print, files, blobs, local commands and control flow."""
from __future__ import annotations

import os
import subprocess
from typing import TYPE_CHECKING, Any

from tiltpy.tiltfile.errors import TiltfileError, TiltfileExit
from tiltpy.tiltfile.values import as_bool, as_command, as_int, as_str, as_str_dict

if TYPE_CHECKING:
    from tiltpy.tiltfile.loader import FileContext


def print_(ctx: FileContext, *args: Any, sep: str = " ", end: str = "\n") -> None:
    text = sep.join(a if isinstance(a, str) else _repr(a) for a in args) + end
    for line in text.rstrip("\n").split("\n"):
        ctx.state.log(line)


def _repr(value: Any) -> str:
    if value is None:
        return "None"
    if value is True:
        return "True"
    if value is False:
        return "False"
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_repr(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_repr(k)}: {_repr(v)}" for k, v in value.items()) + "}"
    return str(value)


def warn(ctx: FileContext, msg: str) -> None:
    ctx.state.warnings.append(as_str("warn", "msg", msg))
    ctx.state.log(f"WARNING: {msg}")


def exit_(ctx: FileContext, code: Any = 0) -> None:
    if code is None:
        code = 0
    raise TiltfileExit(as_int("exit", "code", code))


def blob(ctx: FileContext, contents: str) -> str:
    return ctx.state.blob(as_str("blob", "contents", contents, allow_none=False))


def read_file(ctx: FileContext, file_path: str, default: Any = None) -> str:
    path = ctx.abspath(as_str("read_file", "file_path", file_path, allow_none=False))
    ctx.state.watch(path)
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return ctx.state.blob(f.read())
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
        if default is not None:
            return ctx.state.blob(as_str("read_file", "default", default))
        raise TiltfileError(f"read_file: file not found: {path}") from None


def watch_file(ctx: FileContext, file_path: str) -> None:
    ctx.state.watch(ctx.abspath(as_str("watch_file", "file_path", file_path, allow_none=False)))


def local(
    ctx: FileContext,
    command: Any,
    quiet: bool = False,
    command_bat: Any = "",
    echo_off: bool = False,
    env: Any = None,
    dir: str = "",
    stdin: Any = None,
) -> str:
    argv = as_command("local", "command", command)
    if not argv:
        raise TiltfileError('local: for parameter "command": empty command')
    quiet = as_bool("local", "quiet", quiet)
    echo_off = as_bool("local", "echo_off", echo_off)
    extra_env = as_str_dict("local", "env", env)
    workdir = ctx.abspath(as_str("local", "dir", dir)) if dir else ctx.dir
    stdin_text = None if stdin is None else as_str("local", "stdin", stdin)
    shown = argv[2] if argv[:2] == ["sh", "-c"] else " ".join(argv)
    if not echo_off:
        ctx.state.log(f"local: {shown}")
    proc = subprocess.run(
        argv, cwd=workdir, env={**os.environ, **extra_env}, input=stdin_text,
        capture_output=True, text=True,
    )
    if not quiet:
        for line in (proc.stdout + proc.stderr).splitlines():
            ctx.state.log(f" → {line}")
    if proc.returncode != 0:
        raise TiltfileError(
            f'local: command "{shown}" failed.\nerror: exit status {proc.returncode}'
            f"\nstdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
        )
    return ctx.state.blob(proc.stdout)


BUILTINS = {
    "print": print_,
    "warn": warn,
    "exit": exit_,
    "blob": blob,
    "read_file": read_file,
    "watch_file": watch_file,
    "local": local,
}
