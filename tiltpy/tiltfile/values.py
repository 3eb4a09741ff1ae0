"""Converting and validating builtin arguments the way Tilt's starkit does.

Starlark values reach Python already converted (str, int, list, dict, None,
or our own objects behind OpaquePythonObject). These helpers check types and
produce messages that name the builtin and the parameter."""
from __future__ import annotations

from typing import Any

from tiltpy.tiltfile.errors import arg_error


def type_name(value: Any) -> str:
    if value is None:
        return "NoneType"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, str):
        return "string"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float"
    if isinstance(value, (list, tuple)):
        return "list"
    if isinstance(value, dict):
        return "dict"
    return type(value).__name__


def as_str(builtin: str, param: str, value: Any, *, allow_none: bool = True) -> str:
    if value is None and allow_none:
        return ""
    if not isinstance(value, str):
        raise arg_error(builtin, param, f"got {type_name(value)}, want string")
    return value


def as_bool(builtin: str, param: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise arg_error(builtin, param, f"got {type_name(value)}, want bool")
    return value


def as_int(builtin: str, param: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise arg_error(builtin, param, f"got {type_name(value)}, want int")
    return value


def as_str_list(builtin: str, param: str, value: Any) -> list[str]:
    """Tilt accepts a single string or a list of strings for list params."""
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if isinstance(value, (list, tuple)):
        out = []
        for i, item in enumerate(value):
            if not isinstance(item, str):
                raise arg_error(builtin, param, f"item {i}: got {type_name(item)}, want string")
            out.append(item)
        return out
    raise arg_error(builtin, param, f"got {type_name(value)}, want string or list of strings")


def as_str_dict(builtin: str, param: str, value: Any) -> dict[str, str]:
    """A dict of string to string (build_args, env, selectors)."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise arg_error(builtin, param, f"got {type_name(value)}, want dict")
    out = {}
    for key, item in value.items():
        if not isinstance(key, str):
            raise arg_error(builtin, param, f"key {key!r}: got {type_name(key)}, want string")
        if not isinstance(item, str):
            raise arg_error(builtin, param, f"value for {key!r}: got {type_name(item)}, want string")
        out[key] = item
    return out


def as_command(builtin: str, param: str, value: Any) -> list[str]:
    """Tilt's ValueToHostCmd: a string runs as `sh -c <string, trimmed>`, a
    list is argv; None, '' or [] is an empty command."""
    if value is None or value == "":
        return []
    if isinstance(value, str):
        script = value.strip()
        return ["sh", "-c", script] if script else []
    if isinstance(value, (list, tuple)):
        argv = []
        for item in value:
            if not isinstance(item, str):
                raise arg_error(builtin, param, f"a command must be a string or a list of strings; "
                                f"'{item}' is a {type_name(item)}, not a string")
            argv.append(item)
        return argv
    raise arg_error(builtin, param, f"a command must be a string or list of strings. found {type_name(value)}")
