"""Helpers shared by the builtins added for Tilt's wider API (data, config,
settings, k8s_extra, custom_build, extensions): Go-style path functions,
commands, structured data conversion and the per-area state slots."""
from __future__ import annotations

import math
import posixpath
import re
from typing import TYPE_CHECKING, Any, Callable, TypeVar

import starlark as sl

from tiltpy.k8s.cluster import is_dev_context
from tiltpy.tiltfile.errors import TiltfileError, arg_error
from tiltpy.tiltfile.values import as_str, as_str_dict, type_name

if TYPE_CHECKING:
    from tiltpy.tiltfile.loader import FileContext
    from tiltpy.tiltfile.state import TiltfileState

T = TypeVar("T")


def area(state: TiltfileState, name: str, factory: Callable[[], T]) -> T:
    """The state of one builtin area, created on first use."""
    if name not in state.extra:
        state.extra[name] = factory()
    return state.extra[name]


# --- Go's path/filepath semantics (Tilt's os.path is Go's filepath) ---------

def go_clean(path: str) -> str:
    """Go's filepath.Clean on POSIX: one leading slash at most, no '.', '..'
    resolved lexically, '' becomes '.'."""
    if path == "":
        return "."
    rooted = path.startswith("/")
    parts: list[str] = []
    for part in path.split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            if parts and parts[-1] != "..":
                parts.pop()
            elif not rooted:
                parts.append("..")
            continue
        parts.append(part)
    out = "/".join(parts)
    if rooted:
        return "/" + out
    return out or "."


def go_join(*elems: str) -> str:
    """Go's filepath.Join: empty elements are ignored, the result is cleaned,
    and an absolute element does not discard what came before (unlike Python)."""
    kept = [e for e in elems if e != ""]
    if not kept:
        return ""
    return go_clean("/".join(kept))


def go_dir(path: str) -> str:
    """Go's filepath.Dir: everything but the last element, cleaned."""
    head = path[: path.rfind("/") + 1]
    return go_clean(head)


def go_base(path: str) -> str:
    """Go's filepath.Base: trailing slashes dropped; '' -> '.', '/' -> '/'."""
    if path == "":
        return "."
    stripped = path.rstrip("/")
    if stripped == "":
        return "/"
    return stripped[stripped.rfind("/") + 1:]


def go_rel(basepath: str, targpath: str) -> str:
    """Go's filepath.Rel: lexical; both paths absolute or both relative."""
    base, targ = go_clean(basepath), go_clean(targpath)
    if targ == base:
        return "."
    if base == ".":
        base = ""
    base_abs, targ_abs = base.startswith("/"), targ.startswith("/")
    if base_abs != targ_abs:
        raise ValueError(f"Rel: can't make {targpath} relative to {basepath}")
    base_parts = [p for p in base.split("/") if p]
    targ_parts = [p for p in targ.split("/") if p]
    i = 0
    while i < len(base_parts) and i < len(targ_parts) and base_parts[i] == targ_parts[i]:
        i += 1
    if ".." in base_parts[i:]:
        raise ValueError(f"Rel: can't make {targpath} relative to {basepath}")
    rel = [".."] * (len(base_parts) - i) + targ_parts[i:]
    return "/".join(rel) or "."


def abs_path(ctx: FileContext, path: str) -> str:
    """starkit.AbsPath: absolute paths unchanged, others joined to the
    directory of the file that is executing (and cleaned)."""
    if posixpath.isabs(path):
        return path
    return go_join(ctx.dir, path)


# --- commands ---------------------------------------------------------------

def command_display(argv: list[str] | tuple[str, ...]) -> str:
    """model.Cmd.String(): the script of `sh -c script`, else argv with
    space-containing words quoted."""
    if len(argv) == 3 and argv[0] == "sh" and argv[1] == "-c" and "\n" not in argv[2]:
        return argv[2]
    return " ".join(go_quote(a) if " " in a else a for a in argv)


def go_quote(text: str) -> str:
    """Go's %q for the common cases (double quotes, backslash escapes)."""
    out = ['"']
    for ch in text:
        if ch == '"':
            out.append('\\"')
        elif ch == "\\":
            out.append("\\\\")
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\t":
            out.append("\\t")
        elif ch == "\r":
            out.append("\\r")
        elif ord(ch) < 0x20:
            out.append(f"\\x{ord(ch):02x}")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def env_dict(builtin: str, param: str, value: Any) -> dict[str, str]:
    """An environment: a dict of string to string without an empty name."""
    env = as_str_dict(builtin, param, value)
    for key, item in env.items():
        if key == "":
            raise arg_error(builtin, param, f"environment has empty key for value {item!r}")
    return env


def command_dir(ctx: FileContext, builtin: str, param: str, value: Any) -> str:
    if value is None or value == "":
        return ctx.dir
    return abs_path(ctx, as_str(builtin, param, value))


def check_k8s_context_allowed(ctx: FileContext, builtin: str) -> None:
    """Tilt refuses to run local commands while the kube context might be
    production and is not allowed yet (potentiallyK8sUnsafeBuiltin)."""
    context = ctx.state.options.k8s_context
    if not context or is_dev_context(context) or context in ctx.state.allowed_k8s_contexts:
        return
    raise TiltfileError(
        f"Refusing to run '{builtin}' because {context} might be a production kube context.\n"
        f"If you're sure you want to continue add:\n\tallow_k8s_contexts('{context}')\n"
        "before this function call in your Tiltfile. Otherwise, switch k8s contexts and restart Tilt.")


# --- structured data ----------------------------------------------------------

_PLAIN = (str, int, float, bool, type(None))


def to_starlark(value: Any) -> Any:
    """A Python value as something starlark-pyo3 can hand back: containers
    recursively, our own objects (steps, port forwards...) as opaque objects."""
    if isinstance(value, _PLAIN):
        return value
    if isinstance(value, dict):
        return {k: to_starlark(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_starlark(v) for v in value]
    if isinstance(value, sl.OpaquePythonObject):
        return value
    return sl.OpaquePythonObject(value)


def go_float(value: float) -> float | int:
    """Go's JSON encoder writes 1.0 as 1."""
    if math.isfinite(value) and value.is_integer() and abs(value) < 1e21:
        return int(value)
    return value


def structured(value: Any, what: str) -> Any:
    """Starlark data -> plain data for encoding (Tilt: maps with string keys,
    lists, strings, ints, floats, bools, None)."""
    if value is None or isinstance(value, (str, bool, int)):
        return value
    if isinstance(value, float):
        return go_float(value)
    if isinstance(value, (list, tuple)):
        return [structured(v, what) for v in value]
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise TiltfileError(f"error converting object from starlark: only string keys are supported in "
                                    f"maps. found key '{key}' of type {type_name(key)}")
            out[key] = structured(item, what)
        return out
    raise TiltfileError(f"error converting object from starlark: unable to convert from starlark value, "
                        f"unsupported type {type_name(value)}")


_GO_DURATION_PART = re.compile(r"([0-9]*(?:\.[0-9]*)?)(ns|us|µs|μs|ms|s|m|h)")
_NS_PER_UNIT = {"ns": 1, "us": 1_000, "µs": 1_000, "μs": 1_000, "ms": 1_000_000, "s": 10 ** 9,
                "m": 60 * 10 ** 9, "h": 3600 * 10 ** 9}


def parse_go_duration(text: str) -> int:
    """Go's time.ParseDuration, in nanoseconds; ValueError with Go's message."""
    s, sign = text, 1
    if s[:1] in "+-":
        sign = -1 if s[0] == "-" else 1
        s = s[1:]
    if s == "0":
        return 0
    if not s:
        raise ValueError(f"time: invalid duration {go_quote(text)}")
    total, pos = 0.0, 0
    while pos < len(s):
        match = _GO_DURATION_PART.match(s, pos)
        if not match or match.group(1) in ("", "."):
            number = re.match(r"[0-9.]+$", s[pos:])
            raise ValueError(f"time: {'missing unit in' if number else 'invalid'} duration {go_quote(text)}")
        total += float(match.group(1)) * _NS_PER_UNIT[match.group(2)]
        pos = match.end()
    return sign * int(round(total))
