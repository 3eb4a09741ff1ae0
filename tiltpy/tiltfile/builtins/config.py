"""The config namespace: define_string, define_string_list, define_bool,
define_object, parse, set_enabled_resources, clear_enabled_resources,
tilt_subcommand, main_path, main_dir.

config.parse() reads tilt_config.json next to the calling Tiltfile and
overlays the args after `--` (parsed like Tilt's pflag: --name value,
--name=value, --flag for bools, the rest positional). Until config.parse()
is called, those args name the resources to run."""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from tiltpy.tiltfile.builtins._common import area, go_quote
from tiltpy.tiltfile.errors import TiltfileError, arg_error
from tiltpy.tiltfile.values import as_bool, as_str, type_name

if TYPE_CHECKING:
    from tiltpy.model.manifest import Manifest, TiltfileResult
    from tiltpy.tiltfile.loader import FileContext
    from tiltpy.tiltfile.state import TiltfileState

USER_CONFIG_FILE = "tilt_config.json"
_KINDS = {"string": "string", "string_list": "list[string]", "bool": "bool", "object": "object"}


@dataclass
class Definition:
    """One config.define_*() setting."""

    kind: str  # string | string_list | bool | object
    usage: str = ""


@dataclass
class ConfigState:
    """The config.* definitions of a load and what config.parse() found."""

    definitions: dict[str, Definition] = field(default_factory=dict)
    positional: str = ""
    parse_called: bool = False
    parse_dir: str = ""
    enabled: list[str] | None = None  # set_enabled_resources
    disable_all: bool = False  # clear_enabled_resources
    values: dict[str, Any] = field(default_factory=dict)


def config_state(state: TiltfileState) -> ConfigState:
    return area(state, "config", ConfigState)


def _define(kind: str):
    builtin = f"config.define_{kind}"

    def define(ctx: FileContext, name: Any, args: Any = False, usage: Any = "") -> None:
        name = as_str(builtin, "name", name, allow_none=False)
        is_args = as_bool(builtin, "args", args)
        usage = as_str(builtin, "usage", usage)
        if not name:
            raise TiltfileError("'name' is required")
        cfg = config_state(ctx.state)
        if cfg.parse_called:
            raise TiltfileError(f"{builtin} cannot be called after config.parse is called")
        if name in cfg.definitions:
            raise TiltfileError(f"{name} defined multiple times")
        if is_args:
            if cfg.positional:
                raise TiltfileError(f"both {name} and {cfg.positional} are defined as positional args")
            cfg.positional = name
        cfg.definitions[name] = Definition(kind, usage)

    define.__name__ = f"define_{kind}"
    return define


class _Value:
    """One setting while parsing: pflag's Value semantics per type."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.value: Any = [] if kind == "string_list" else None
        self.is_set = False

    def set(self, text: str) -> None:
        if self.kind == "string_list":
            self.value.append(text)
        elif self.is_set:
            shown = json.dumps(self.value) if self.kind == "object" else text
            raise ValueError(f"{self.kind if self.kind != 'string' else 'string'} settings can only be specified "
                             f"once. multiple values found (last value: {shown})")
        elif self.kind == "string":
            self.value = text
        elif self.kind == "bool":
            self.value = _parse_bool(text)
        else:
            try:
                self.value = json.loads(text)
            except json.JSONDecodeError as err:
                raise ValueError(f"decoding JSON, got {go_quote(text)}: {err}") from None
        self.is_set = True

    def set_from_json(self, data: Any) -> None:
        if data is None:
            return
        if self.kind == "string":
            if not isinstance(data, str):
                raise ValueError(f"expected string, found {_go_type(data)}")
        elif self.kind == "bool":
            if not isinstance(data, bool):
                raise ValueError(f"expected bool, found {_go_type(data)}")
        elif self.kind == "string_list":
            if not isinstance(data, list):
                raise ValueError("expected array")
            for item in data:
                if not isinstance(item, str):
                    raise ValueError(f"expected string, got {_go_type(item)}")
        self.value = data
        self.is_set = True


def _parse_bool(text: str) -> bool:
    if text in ("1", "t", "T", "TRUE", "true", "True"):
        return True
    if text in ("0", "f", "F", "FALSE", "false", "False"):
        return False
    raise ValueError(f'strconv.ParseBool: parsing {go_quote(text)}: invalid syntax')


def _go_type(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "float64"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "[]interface {}"
    if isinstance(value, dict):
        return "map[string]interface {}"
    return "<nil>"


def _usage(cfg: ConfigState) -> str:
    lines = []
    for name, definition in sorted(cfg.definitions.items()):
        if name == cfg.positional:
            continue
        kind = "" if definition.kind == "bool" else " " + _KINDS[definition.kind]
        lines.append(f"      --{name}{kind}   {definition.usage}".rstrip())
    return "\nUsage:\n" + "\n".join(lines) + "\n" if lines else ""


def _parse_args(cfg: ConfigState, args: list[str]) -> dict[str, _Value]:
    values = {name: _Value(d.kind) for name, d in cfg.definitions.items()}
    positional: list[str] = []
    i = 0
    while i < len(args):
        arg = args[i]
        i += 1
        if arg == "--":
            positional.extend(args[i:])
            break
        if not arg.startswith("-") or arg == "-":
            positional.append(arg)
            continue
        if not arg.startswith("--"):
            raise ValueError(f"unknown shorthand flag: {arg[1:2]!r} in {arg}".replace('"', "'"))
        name, has_value, text = arg[2:].partition("=")
        if name not in values or name == cfg.positional:
            raise ValueError(f"unknown flag: --{name}")
        value = values[name]
        if not has_value:
            if value.kind == "bool":
                text = "true"
            elif i < len(args):
                text = args[i]
                i += 1
            else:
                raise ValueError(f"flag needs an argument: --{name}")
        try:
            value.set(text)
        except ValueError as err:
            raise ValueError(f'invalid argument {go_quote(text)} for "--{name}" flag: {err}') from None
    if positional:
        if not cfg.positional:
            raise _NoPositional(" ".join(positional))
        for arg in positional:
            try:
                values[cfg.positional].set(arg)
            except ValueError as err:
                raise _PositionalError(f"invalid positional args ({cfg.positional}): {err}") from None
    return values


class _NoPositional(Exception):
    pass


class _PositionalError(Exception):
    pass


def _read_config_file(cfg: ConfigState, path: str) -> dict[str, _Value]:
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except FileNotFoundError:
        return {}
    except OSError as err:
        raise TiltfileError(f"error opening {path}: {err}") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as err:
        raise TiltfileError(f"error parsing json from {path}: {err}") from None
    if not isinstance(data, dict):
        raise TiltfileError(f"error parsing json from {path}: want a JSON object, got {_go_type(data)}")
    out = {}
    for key, item in data.items():
        if key not in cfg.definitions:
            raise TiltfileError(f"{path} specified unknown setting name '{key}'")
        value = _Value(cfg.definitions[key].kind)
        try:
            value.set_from_json(item)
        except ValueError as err:
            raise TiltfileError(f"{path} specified invalid value for setting {key}: {err}") from None
        out[key] = value
    return out


def parse(ctx: FileContext) -> dict[str, Any]:
    cfg = config_state(ctx.state)
    if cfg.parse_dir and cfg.parse_dir != ctx.dir:
        raise TiltfileError(f"config.parse can only be called from one Tiltfile working directory per run. "
                            f"It was called from {cfg.parse_dir} and {ctx.dir}")
    cfg.parse_dir = ctx.dir
    cfg.parse_called = True
    path = os.path.join(ctx.dir, USER_CONFIG_FILE)
    ctx.state.watch(path)
    merged = _read_config_file(cfg, path)
    try:
        from_args = _parse_args(cfg, list(ctx.state.options.args))
    except _NoPositional as err:
        raise TiltfileError(
            f"invalid Tiltfile config args: positional CLI args ({go_quote(str(err))}) were specified, but none were "
            "expected.\nSee https://docs.tilt.dev/tiltfile_config.html#positional-arguments for examples.") from None
    except _PositionalError as err:
        raise TiltfileError(f"invalid Tiltfile config args: {err}") from None
    except ValueError as err:
        raise TiltfileError(f"invalid Tiltfile config args: {err}{_usage(cfg)}") from None
    for name, value in from_args.items():
        if value.is_set:
            merged[name] = value
    result = {name: merged[name].value for name in cfg.definitions if name in merged and merged[name].is_set}
    cfg.values = result
    return result


def set_enabled_resources(ctx: FileContext, resources: Any) -> None:
    if not isinstance(resources, (list, tuple)):
        raise arg_error("config.set_enabled_resources", "resources", f"got {type_name(resources)}, want list")
    names = []
    for item in resources:
        if not isinstance(item, str):
            raise TiltfileError(f"resources must be a list of string: '{item}' is a {type_name(item)}, not a string")
        names.append(item)
    cfg = config_state(ctx.state)
    cfg.disable_all = False
    cfg.enabled = names or None


def clear_enabled_resources(ctx: FileContext) -> None:
    cfg = config_state(ctx.state)
    cfg.disable_all = True
    cfg.enabled = None


def subcommand(ctx: FileContext) -> str:
    return ctx.state.options.subcommand


def main_path(ctx: FileContext) -> str:
    return ctx.state.tiltfile


def main_dir(ctx: FileContext) -> str:
    return os.path.dirname(ctx.state.tiltfile)


def enabled_resources(state: TiltfileState, manifests: list[Manifest]) -> list[str] | None:
    """Tilt's Settings.EnabledResources: None means every resource. Named
    resources bring their resource_deps; uncategorized is always in."""
    cfg = config_state(state)
    if cfg.disable_all:
        return []
    if cfg.enabled is not None:
        requested = cfg.enabled
    elif state.options.args and not cfg.parse_called:
        requested = list(state.options.args)
    else:
        return None
    by_name = {m.name: m for m in manifests}
    unknown = [name for name in requested if name not in by_name]
    if unknown:
        existing = [m.name for m in manifests if m.name not in requested]
        raise TiltfileError("You specified some resources that could not be found: "
                            + ", ".join(go_quote(n) for n in unknown)
                            + "\nIs this a typo? Existing resources in Tiltfile: "
                            + ", ".join(go_quote(n) for n in existing))
    chosen: set[str] = set()

    def add(name: str) -> None:
        if name in chosen or name not in by_name:
            return
        chosen.add(name)
        for dep in by_name[name].resource_deps:
            add(dep)

    for name in requested:
        add(name)
    from tiltpy.model.manifest import UNCATEGORIZED

    return [m.name for m in manifests if m.name in chosen or m.name == UNCATEGORIZED]


def apply_config(state: TiltfileState, result: TiltfileResult) -> None:
    result.enabled_resources = enabled_resources(state, result.manifests)
    result.config_values = dict(config_state(state).values)


BUILTINS = {
    "_config_define_string": _define("string"),
    "_config_define_string_list": _define("string_list"),
    "_config_define_bool": _define("bool"),
    "_config_define_object": _define("object"),
    "_config_parse": parse,
    "_config_set_enabled_resources": set_enabled_resources,
    "_config_clear_enabled_resources": clear_enabled_resources,
    "_config_subcommand": subcommand,
    "_config_main_path": main_path,
    "_config_main_dir": main_dir,
}

PRELUDE = """
config = struct(
    define_string = _config_define_string, define_string_list = _config_define_string_list,
    define_bool = _config_define_bool, define_object = _config_define_object, parse = _config_parse,
    set_enabled_resources = _config_set_enabled_resources, clear_enabled_resources = _config_clear_enabled_resources,
    tilt_subcommand = _config_subcommand(), main_path = _config_main_path(), main_dir = _config_main_dir(),
)
"""
