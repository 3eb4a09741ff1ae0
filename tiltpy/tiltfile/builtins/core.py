"""print, files, blobs, local commands and control flow."""
from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from tiltpy.tiltfile.builtins.dialect import go_str
from tiltpy.tiltfile.errors import TiltfileError, TiltfileExit
from tiltpy.tiltfile.values import as_bool, as_command, as_str

if TYPE_CHECKING:
    from tiltpy.tiltfile.loader import FileContext


def print_(ctx: FileContext, *args: Any, sep: str = " ", end: str = "\n") -> None:
    text = sep.join(go_str(a) for a in args) + end
    for line in text.rstrip("\n").split("\n"):
        ctx.state.log(line)


def warn(ctx: FileContext, msg: str) -> None:
    ctx.state.warnings.append(as_str("warn", "msg", msg))
    ctx.state.log(f"WARNING: {msg}")


def exit_(ctx: FileContext, code: Any = None) -> None:
    """Tilt's exit(): log str(code) (when given) and stop without an error;
    what was declared so far is loaded."""
    if code is not None:
        text = go_str(code)
        if text:
            ctx.state.log(text)
    raise TiltfileExit(0)


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
    quiet: Any = False,
    command_bat: Any = "",
    echo_off: Any = False,
    env: Any = None,
    dir: Any = "",
    stdin: Any = None,
    environ: Any = None,
) -> str:
    """Registered as `_local`; the prelude's local() passes the file's
    os.environ so writes to it reach the command."""
    from tiltpy.tiltfile.builtins._common import check_k8s_context_allowed, command_dir, command_display, \
        env_dict, go_quote
    from tiltpy.tiltfile.builtins.os_sys import sync_environ

    sync_environ(ctx, environ)
    argv = as_command("local", "command", command)
    as_command("local", "command_bat", command_bat)  # Windows only: checked, not used here
    if not argv:
        raise TiltfileError('local: for parameter "command": empty command')
    quiet = as_bool("local", "quiet", quiet)
    echo_off = as_bool("local", "echo_off", echo_off)
    extra_env = env_dict("local", "env", env)
    workdir = command_dir(ctx, "local", "dir", dir)
    stdin_text = None if stdin is None else as_str("local", "stdin", stdin)
    check_k8s_context_allowed(ctx, "local")
    shown = command_display(argv)
    if not echo_off:
        ctx.state.log(f"local: {shown}")
    import subprocess

    from tiltpy import children  # its thread pool and logging only when a command runs

    try:
        proc = children.run(
            argv, cwd=workdir, env={**os.environ, **extra_env}, input=stdin_text,
            stdin=None if stdin_text is not None else subprocess.DEVNULL,
            capture_output=True, text=True, errors="replace",
        )
    except (OSError, children.Stopping) as err:
        raise TiltfileError(f"local: command {go_quote(shown)} failed.\nerror: {err}") from None
    if not quiet:
        for line in (proc.stdout + proc.stderr).splitlines():
            ctx.state.log(f" → {line}")
        if not echo_off and not proc.stdout and not proc.stderr and proc.returncode == 0:
            ctx.state.log(" → [no output]")
    if proc.returncode != 0:
        message = f"local: command {go_quote(shown)} failed.\nerror: exit status {proc.returncode}"
        if quiet:
            message += f"\nstdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
        raise TiltfileError(message)
    return ctx.state.blob(proc.stdout)


PRELUDE = """
def local(command, quiet = False, command_bat = "", echo_off = False, env = {}, dir = "", stdin = None):
    return _local(command, quiet, command_bat, echo_off, env, dir, stdin, _os_environ_dict)
"""


BUILTINS = {
    "print": print_,
    "warn": warn,
    "exit": exit_,
    "blob": blob,
    "read_file": read_file,
    "watch_file": watch_file,
    "_local": local,
}
