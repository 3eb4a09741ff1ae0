"""Tilt's Starlark dialect on top of starlark-pyo3: type(), str() and repr()
that know Tilt's own value types, and set().

Tilt's values come in two shapes here (starlark-pyo3 cannot define types):
- attribute-less values (blob, live-update steps, port_forward, trigger
  modes) are strings holding exactly Tilt's str(); state.values remembers
  what each stands for, and type() asks it;
- struct-like values (probe and its actions, link) are Starlark structs
  with a `_tiltpy` field [type name, constructor name], so their attributes
  work as in Tilt; type() and str() read the marker, and builtins receive
  them as dicts carrying it.
set() is a dict whose values are a private marker (starlark-rust has no set
type here): `in`, len(), iteration, `|` and == behave as Tilt's set does."""
from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tiltpy.tiltfile.loader import FileContext

MARKER = "_tiltpy"
SET_MEMBER = "\x00tiltpy set member"


def marked(type_name: str, constructor: str, **fields: Any) -> dict[str, Any]:
    """A struct-like Tilt value, as a builtin returns it (the prelude makes it a struct)."""
    return {MARKER: [type_name, constructor], **fields}


def marked_type(value: Any) -> str:
    """The Tilt type name of a struct-like value received by a builtin, or ''."""
    if isinstance(value, dict) and isinstance(value.get(MARKER), list) and value[MARKER]:
        return str(value[MARKER][0])
    return ""


def go_repr(value: Any) -> str:
    """Starlark-go's repr of a value as it reaches Python: strings quoted,
    struct-like Tilt values as their constructor and sorted fields."""
    if value is None:
        return "None"
    if value is True:
        return "True"
    if value is False:
        return "False"
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(go_repr(v) for v in value) + "]"
    if isinstance(value, dict):
        if marked_type(value):
            return go_str(value)
        if value and next(iter(value.values())) == SET_MEMBER:
            return "set([" + ", ".join(go_repr(k) for k in value) + "])"
        return "{" + ", ".join(f"{go_repr(k)}: {go_repr(v)}" for k, v in value.items()) + "}"
    return str(value)


def go_str(value: Any) -> str:
    """Starlark-go's str(): strings as they are, the rest as go_repr; a
    struct is `ctor(field = value, ...)` with fields sorted by name."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and marked_type(value):
        constructor = value[MARKER][1]
        fields = ", ".join(f"{k} = {go_repr(v)}" for k, v in sorted(value.items()) if k != MARKER)
        return f"{constructor}({fields})"
    return go_repr(value)


def string_type(ctx: FileContext, text: Any) -> str:
    return ctx.state.values.type_of(text) if isinstance(text, str) else "string"


def render(ctx: FileContext, value: Any) -> str:
    return go_str(value)


BUILTINS = {
    "_tiltpy_string_type": string_type,
    "_tiltpy_render": render,
}

# Evaluated before PRELUDE, in its own pass: names resolve to the interpreter's
# builtins here, before the overrides below shadow them in the module.
PRELUDE_BUILTINS = """
_tiltpy_builtin_type = type
_tiltpy_builtin_str = str
_tiltpy_builtin_repr = repr
"""

PRELUDE = """
_TILTPY_SET_MEMBER = %r
def _tiltpy_is_set(x):
    for k in x:
        return x[k] == _TILTPY_SET_MEMBER
    return False
def _tiltpy_is_marked(x):
    return hasattr(x, "_tiltpy")
def type(x):
    t = _tiltpy_builtin_type(x)
    if t == "string":
        return _tiltpy_string_type(x)
    if t == "struct" and _tiltpy_is_marked(x):
        return x._tiltpy[0]
    if t == "dict" and _tiltpy_is_set(x):
        return "set"
    return t
def str(x):
    t = _tiltpy_builtin_type(x)
    if t == "string":
        return x
    if t == "struct" and _tiltpy_is_marked(x):
        return _tiltpy_render(x)
    if t == "dict" and _tiltpy_is_set(x):
        return "set(" + _tiltpy_builtin_repr(list(x)) + ")"
    return _tiltpy_builtin_str(x)
def repr(x):
    t = _tiltpy_builtin_type(x)
    if t == "string":
        return x if _tiltpy_string_type(x) != "string" else _tiltpy_builtin_repr(x)
    if (t == "struct" and _tiltpy_is_marked(x)) or (t == "dict" and _tiltpy_is_set(x)):
        return str(x)
    return _tiltpy_builtin_repr(x)
def set(*args):
    if len(args) > 1:
        fail("set: got %%d arguments, want at most 1" %% len(args))
    return {k: _TILTPY_SET_MEMBER for k in (args[0] if args else [])}
def _tiltpy_struct(d):
    fields = {}
    for k, v in d.items():
        if _tiltpy_builtin_type(v) == "dict" and "_tiltpy" in v:
            v = _tiltpy_struct(v)
        fields[k] = v
    return struct(**fields)
""" % SET_MEMBER
