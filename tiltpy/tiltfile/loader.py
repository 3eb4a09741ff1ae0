"""Runs a Tiltfile in a real Starlark interpreter (starlark-pyo3) and turns
what its builtins recorded into manifests.

Each file (the Tiltfile and every file it load()s) gets its own module whose
builtins are bound to that file, so relative paths resolve against the file
that made the call, as in Tilt."""
from __future__ import annotations

import functools
import os
import re
from dataclasses import dataclass
from typing import Any, Callable

import starlark as sl

from tiltpy.model.manifest import TiltfileResult
from tiltpy.tiltfile import assemble
from tiltpy.tiltfile.builtins import ALL_BUILTIN_MODULES
from tiltpy.tiltfile.builtins.dialect import PRELUDE_BUILTINS
from tiltpy.tiltfile.errors import TiltfileError, TiltfileExit
from tiltpy.tiltfile.state import LoadOptions, TiltfileState
from tiltpy.tiltfile.source_rewrite import LineMap, remap_error, translate
from tiltpy.tiltfile.yaml_cache import PARSED_YAML

_GLOBALS = sl.Globals.extended_by(
    [sl.LibraryExtension.StructType, sl.LibraryExtension.Json, sl.LibraryExtension.Map,
     sl.LibraryExtension.Filter, sl.LibraryExtension.Partial]
)


def _dialect() -> sl.Dialect:
    dialect = sl.Dialect.extended()
    dialect.enable_f_strings = True
    return dialect


@dataclass
class FileContext:
    """The file whose module a builtin is bound to (`path`), and the file
    executing now: relative paths resolve against the executing file, as in
    Tilt (a function defined in a loaded file but called later from the
    Tiltfile resolves against the Tiltfile's directory)."""

    state: TiltfileState
    path: str

    @property
    def executing(self) -> str:
        loader = self.state.loader
        if loader is not None and loader.loading:
            return loader.loading[-1]
        return self.path

    @property
    def dir(self) -> str:
        return os.path.dirname(self.executing)

    def abspath(self, path: str) -> str:
        return os.path.normpath(os.path.join(self.dir, os.path.expanduser(path)))


class _Evaluator:
    def __init__(self, state: TiltfileState) -> None:
        self.state = state
        self.cache: dict[str, sl.FrozenModule] = {}
        self.loading: list[str] = []
        self.exit_code: int | None = None
        self.line_maps: dict[str, LineMap] = {}  # files rewritten before parsing (while loops, tabs)

    def module_for(self, path: str) -> sl.Module:
        ctx = FileContext(self.state, path)
        module = sl.Module()
        prelude: list[str] = []
        for builtin_module in ALL_BUILTIN_MODULES:
            for name, fn in builtin_module.BUILTINS.items():
                module.add_callable(name, _bind(fn, ctx, name))
            for name, value in getattr(builtin_module, "CONSTANTS", {}).items():
                module[name] = value
            prelude.append(getattr(builtin_module, "PRELUDE", ""))
        module["__file__"] = path
        module["__name__"] = "__main__" if path == self.state.tiltfile else os.path.basename(path)
        sl.eval(module, sl.parse("<tiltpy prelude>", PRELUDE_BUILTINS, _dialect()), _GLOBALS)
        sl.eval(module, sl.parse("<tiltpy prelude>", "\n".join(prelude), _dialect()), _GLOBALS)
        return module

    def run_file(self, path: str) -> sl.FrozenModule:
        if path in self.cache:
            return self.cache[path]
        if path in self.loading:
            cycle = " -> ".join(self.loading + [path])
            raise TiltfileError(f"Circular load: {path} (cycle in load(): {cycle})")
        try:
            with open(path, encoding="utf-8") as f:
                source = f.read()
        except FileNotFoundError:
            raise TiltfileError(f"cannot load {path}: no such file") from None
        except IsADirectoryError:
            raise TiltfileError(f"cannot load {path}: it is a directory, not a Tiltfile") from None
        except UnicodeDecodeError as err:
            line = source_line_of(path, err.start)
            raise TiltfileError(f"{path}:{line}: not UTF-8 text (byte {err.object[err.start]:#04x} at offset "
                                f"{err.start}); Tiltfiles are UTF-8") from None
        except OSError as err:
            raise TiltfileError(f"cannot load {path}: {err.strerror or err}") from None
        self.state.watch(path)
        self.loading.append(path)
        try:
            module = self.module_for(path)
            translated, line_map = translate(source)
            if line_map is not None:
                self.line_maps[path] = line_map
            ast = sl.parse(path, translated, _dialect())
            loader = sl.FileLoader(functools.partial(self._load, path))
            sl.eval(module, ast, _GLOBALS, loader)
        finally:
            self.loading.pop()
        frozen = module.freeze()
        self.cache[path] = frozen
        from tiltpy.tiltfile.builtins.extensions import after_file

        after_file(FileContext(self.state, path), frozen, source)
        return frozen

    def _load(self, from_file: str, spec: str) -> sl.FrozenModule:
        try:
            if spec.startswith("ext://"):
                from tiltpy.tiltfile.builtins.extensions import resolve_extension

                return self.run_file(resolve_extension(self.state, spec))
            return self.run_file(os.path.normpath(os.path.join(os.path.dirname(from_file), spec)))
        except sl.StarlarkError as err:
            if _exit_code(err) is not None:
                raise  # exit() in a loaded file ends the whole load, without an error
            # Raised as our own error, the interpreter adds the load() that reached the
            # failing file (it passes its own errors through without it).
            raise TiltfileError(re.sub(r"^error: ", "", format_starlark_error(err, self.line_maps))) from None


def _bind(fn: Callable[..., Any], ctx: FileContext, name: str) -> Callable[..., Any]:
    @functools.wraps(fn)
    def call(*args: Any, **kwargs: Any) -> Any:
        return fn(ctx, *args, **kwargs)

    # Python's own argument errors ("got an unexpected keyword argument") use
    # the qualified name; make it the name the user typed.
    call.__name__ = call.__qualname__ = _display_name(name)
    return call


def _display_name(registered: str) -> str:
    """'_os_path_join' -> 'os.path.join': namespaced builtins are registered
    under private names (see builtins/os_sys.py)."""
    if not registered.startswith("_"):
        return registered
    name = registered[1:]
    for prefix in ("os_path_", "os_", "sys_", "shlex_", "config_", "v1alpha1_"):
        if name.startswith(prefix):
            return prefix.replace("_", ".") + name[len(prefix):]
    return name


_PY_EXC = re.compile(r"^error: (?:StarlarkError: |TiltfileError: |TiltfileExit: |ValueError: |TypeError: |KeyError: )+",
                     re.M)


def format_starlark_error(err: BaseException, line_maps: dict[str, LineMap] | None = None) -> str:
    """The interpreter's message names file:line:col and shows the source line;
    drop the Python exception class names that would only confuse, and put
    back the lines of files whose `while` loops were rewritten."""
    text = remap_error(str(err).rstrip(), line_maps or {})
    return _PY_EXC.sub("error: ", _without_prelude_frames(text))


def _without_prelude_frames(text: str) -> str:
    """Builtins wrapped by the prelude (local, load_dynamic, ...) would show
    its frames and source; the user's call site is the frame before them."""
    lines = text.split("\n")
    out: list[str] = []
    skip_source = False
    for line in lines:
        if skip_source:
            skip_source = False
            continue
        if line.startswith("  * <tiltpy prelude>"):
            skip_source = True
            continue
        if line.lstrip().startswith("--> <tiltpy prelude>"):
            break
        out.append(line)
    return "\n".join(out).rstrip()


def load_tiltfile(path: str, options: LoadOptions | None = None) -> TiltfileResult:
    """Evaluate the Tiltfile at `path`. Never raises for user mistakes: they
    come back in `result.error`, with the files to watch for a fix."""
    path = os.path.abspath(path)
    state = TiltfileState(tiltfile=path, options=options or LoadOptions())
    evaluator = _Evaluator(state)
    state.loader = evaluator
    result = TiltfileResult(tiltfile=path)
    PARSED_YAML.open_project(path)
    try:
        if not os.path.exists(path):
            raise TiltfileError(f"No Tiltfile found at {path}")
        evaluator.run_file(path)
        assemble.assemble(state, result)
    except sl.StarlarkError as err:
        exit_code = _exit_code(err)
        if exit_code is None:
            result.error = format_starlark_error(err, evaluator.line_maps)
        else:
            # exit() stops the Tiltfile without an error (Tilt's semantics):
            # what was declared before it is loaded.
            try:
                assemble.assemble(state, result)
            except TiltfileError as assembly_err:
                result.error = str(assembly_err)
            except sl.StarlarkError as assembly_err:
                result.error = format_starlark_error(assembly_err, evaluator.line_maps)
    except TiltfileError as err:
        # Errors found while assembling (after the Tiltfile ran) have no call
        # site: say which Tiltfile they come from.
        result.error = str(err) if path in str(err) or state.tiltfile in str(err) else f"{path}: {err}"
    except Exception as err:  # a bug of ours: still a message, never a traceback
        result.error = f"{path}: internal error loading the Tiltfile ({type(err).__name__}: {err})"
    PARSED_YAML.save()
    result.watched_files = list(state.watched_files)
    result.logs = list(state.logs)
    result.warnings = list(state.warnings) + result.warnings
    if result.error:
        result.manifests = []
    return result


def source_line_of(path: str, offset: int) -> int:
    """The 1-based line holding byte `offset` of the file."""
    try:
        with open(path, "rb") as f:
            return f.read(offset).count(b"\n") + 1
    except OSError:
        return 1


_EXIT_RE = re.compile(r"TiltfileExit: exit\((-?\d+)\)")


def _exit_code(err: BaseException) -> int | None:
    match = _EXIT_RE.search(str(err))
    return int(match.group(1)) if match else None


__all__ = ["FileContext", "LoadOptions", "TiltfileExit", "load_tiltfile", "format_starlark_error"]
