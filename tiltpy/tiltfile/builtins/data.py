"""Structured data and directories: read_json, read_yaml, read_yaml_stream,
decode_json, encode_json, decode_yaml, encode_yaml, decode_yaml_stream,
encode_yaml_stream, listdir.

Files read here are watched (a change reloads the Tiltfile), as in Tilt.
YAML is read the way Tilt's sigs.k8s.io/yaml does: through JSON, so map keys
become strings, timestamps stay strings and a float like 1.0 becomes 1."""
from __future__ import annotations

import functools
import json
import os
from typing import TYPE_CHECKING, Any

from tiltpy.tiltfile.builtins._common import abs_path, go_float, structured
from tiltpy.tiltfile.errors import TiltfileError, arg_error
from tiltpy.tiltfile.values import as_bool, as_str, type_name

if TYPE_CHECKING:
    from tiltpy.tiltfile.loader import FileContext


@functools.cache
def _loader() -> type:
    """Safe loading without the timestamp type (go-yaml gives strings). Built
    on first use: PyYAML's import is not paid by Tiltfiles that read no YAML."""
    import yaml

    base = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    loader = type("_Loader", (base,), {"__doc__": _loader.__doc__})
    loader.yaml_implicit_resolvers = {
        first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
        for first, resolvers in base.yaml_implicit_resolvers.items()
    }
    return loader


def _json_like(value: Any) -> Any:
    """What a YAML value becomes after Tilt's YAML -> JSON -> Starlark trip."""
    if isinstance(value, bool) or value is None or isinstance(value, (int, str)):
        return value
    if isinstance(value, float):
        return go_float(value)
    if isinstance(value, (bytes, bytearray)):
        return value.decode("utf-8", errors="replace")
    if isinstance(value, dict):
        return {_json_key(k): _json_like(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_like(v) for v in value]
    return str(value)


def _json_key(key: Any) -> str:
    if isinstance(key, str):
        return key
    if key is None:
        return "null"
    if isinstance(key, bool):
        return "true" if key else "false"
    if isinstance(key, float):
        key = go_float(key)
    return str(key)


def _source(source: str) -> str:
    return f" from {source}" if source else ""


def yaml_docs(text: str, source: str = "") -> list[Any]:
    """Every non-empty document of a YAML stream."""
    import yaml

    try:
        docs = list(yaml.load_all(text, Loader=_loader()))
    except yaml.YAMLError as err:
        raise TiltfileError(f"error parsing YAML{_source(source)}: {err}") from None
    return [_json_like(d) for d in docs if d is not None]


def _single(docs: list[Any]) -> Any:
    if not docs:
        return None
    if len(docs) == 1:
        return docs[0]
    raise TiltfileError("expected a yaml document but found a yaml stream (documents separated by `---`). "
                        "use decode_yaml_stream instead to decode a yaml stream")


def _read(ctx: FileContext, builtin: str, path: Any) -> tuple[str, str | None]:
    """(absolute path, text or None when the file does not exist); the file
    is watched either way, so creating it reloads the Tiltfile."""
    if not isinstance(path, str):
        raise arg_error(builtin, "paths", f"expected path | string. Actual type: {type_name(path)}")
    absolute = abs_path(ctx, path)
    if not os.path.isdir(absolute):
        ctx.state.watch(absolute)
    try:
        with open(absolute, encoding="utf-8", errors="replace") as f:
            return absolute, f.read()
    except FileNotFoundError:
        return absolute, None
    except IsADirectoryError:
        raise TiltfileError(f"{builtin}: read {absolute}: is a directory") from None
    except OSError as err:
        raise TiltfileError(f"{builtin}: {err}") from None


def _missing(builtin: str, path: str) -> TiltfileError:
    return TiltfileError(f"{builtin}: open {path}: no such file or directory")


def _decode_json_text(text: str, source: str) -> Any:
    try:
        value, end = json.JSONDecoder().raw_decode(text.lstrip())
    except json.JSONDecodeError as err:
        raise TiltfileError(f"error parsing JSON{_source(source)}: {err}") from None
    if text.lstrip()[end:].strip():
        raise TiltfileError(f"error parsing JSON{_source(source)}: found multiple JSON values")
    return value


def read_json(ctx: FileContext, path: Any, default: Any = None) -> Any:
    absolute, text = _read(ctx, "read_json", path)
    if text is None:
        if default is not None:
            return default
        raise _missing("read_json", absolute)
    return _decode_json_text(text, absolute)


def decode_json(ctx: FileContext, json: Any) -> Any:  # noqa: A002 - Tilt's parameter name
    return _decode_json_text(as_str("decode_json", "json", json, allow_none=False), "")


def encode_json(ctx: FileContext, obj: Any) -> str:
    """Go's json.Encoder with two-space indent: keys sorted, HTML characters
    escaped, a trailing newline. A string, not a blob (as in Tilt)."""
    data = structured(obj, "encode_json")
    text = json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False, separators=(",", ": "))
    for raw, escaped in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"), ("\u2028", "\\u2028"),
                         ("\u2029", "\\u2029")):
        text = text.replace(raw, escaped)
    return text + "\n"


def read_yaml(ctx: FileContext, path: Any, default: Any = None) -> Any:
    absolute, text = _read(ctx, "read_yaml", path)
    if text is None:
        if default is not None:
            return default
        raise _missing("read_yaml", absolute)
    return _single(yaml_docs(text, absolute))


def read_yaml_stream(ctx: FileContext, path: Any, default: Any = None) -> list[Any]:
    if default is not None and not isinstance(default, list):
        raise arg_error("read_yaml_stream", "default", f"got {type_name(default)}, want list")
    absolute, text = _read(ctx, "read_yaml_stream", path)
    if text is None:
        if default is not None:
            return default
        raise _missing("read_yaml_stream", absolute)
    return yaml_docs(text, absolute)


def decode_yaml(ctx: FileContext, yaml: Any) -> Any:  # noqa: A002 - Tilt's parameter name
    return _single(yaml_docs(as_str("decode_yaml", "yaml", yaml, allow_none=False)))


def decode_yaml_stream(ctx: FileContext, yaml: Any) -> list[Any]:  # noqa: A002
    return yaml_docs(as_str("decode_yaml_stream", "yaml", yaml, allow_none=False))


def yaml_text(data: Any) -> str:
    """sigs.k8s.io/yaml's Marshal: block style, keys sorted, lists not indented."""
    import yaml

    return yaml.dump(data, Dumper=getattr(yaml, "CSafeDumper", yaml.SafeDumper), default_flow_style=False,
                     sort_keys=True, allow_unicode=True, width=1 << 30)


def encode_yaml(ctx: FileContext, obj: Any) -> str:
    return ctx.state.blob(yaml_text(structured(obj, "encode_yaml")))


def encode_yaml_stream(ctx: FileContext, objs: Any) -> str:
    if not isinstance(objs, list):
        raise arg_error("encode_yaml_stream", "objs", f"got {type_name(objs)}, want list")
    docs = [yaml_text(structured(o, "encode_yaml_stream")) for o in objs]
    return ctx.state.blob("---\n".join(docs))


def listdir(ctx: FileContext, dir: Any, recursive: Any = False) -> list[str]:  # noqa: A002
    """Absolute paths of the files (not directories) in `dir`, in lexical
    order; recursive=True walks the tree (and watches it, so files added
    later reload the Tiltfile, even when `dir` does not exist yet)."""
    if not isinstance(dir, str):
        raise arg_error("listdir", "dir", f"expected path | string. Actual type: {type_name(dir)}")
    root = abs_path(ctx, dir)
    recursive = as_bool("listdir", "recursive", recursive)
    if recursive:
        ctx.state.watch(root)
    if not os.path.isdir(root) or os.path.islink(root):
        return []  # as in Tilt: a missing directory (or a file) lists nothing
    files: list[str] = []

    def walk(directory: str) -> None:
        try:
            entries = sorted(os.scandir(directory), key=lambda e: e.name)
        except OSError as err:
            raise TiltfileError(f"listdir: {err}") from None
        for entry in entries:
            if entry.is_dir(follow_symlinks=False):
                if recursive:
                    walk(entry.path)
            else:
                files.append(entry.path)

    walk(root)
    return files


BUILTINS = {
    "read_json": read_json,
    "decode_json": decode_json,
    "encode_json": encode_json,
    "read_yaml": read_yaml,
    "read_yaml_stream": read_yaml_stream,
    "decode_yaml": decode_yaml,
    "decode_yaml_stream": decode_yaml_stream,
    "encode_yaml": encode_yaml,
    "encode_yaml_stream": encode_yaml_stream,
    "listdir": listdir,
}
