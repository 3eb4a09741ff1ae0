"""Live update steps: sync, run, fall_back_on, restart_container (and
tiltpy's initial_sync).

A step is handed to Starlark as Tilt's text for it (`sync step: '/src'->'/app'`,
type() `live_update_sync_step`; see builtins/dialect.py), created by its own
builtin (relative paths resolve against the file that created it) and checked
in order when a build takes the list, with Tilt's rules and messages. A step
created but never given to a build is an error at the end of the load, as in
Tilt."""
from __future__ import annotations

import posixpath
from typing import TYPE_CHECKING, Any

from tiltpy.model.manifest import FallBackOn, InitialSync, LiveUpdateStep, RestartContainer, Run, Sync
from tiltpy.tiltfile.builtins._common import command_display, go_quote
from tiltpy.tiltfile.errors import TiltfileError, arg_error
from tiltpy.tiltfile.values import as_bool, as_command, as_str, type_name

if TYPE_CHECKING:
    from tiltpy.tiltfile.loader import FileContext
    from tiltpy.tiltfile.state import TiltfileState

STEP_TYPES = {
    InitialSync: "live_update_initial_sync_step",
    FallBackOn: "live_update_fall_back_on_step",
    Sync: "live_update_sync_step",
    Run: "live_update_run_step",
    RestartContainer: "live_update_restart_container_step",
}
_STEPS = tuple(STEP_TYPES)


def _step(ctx: FileContext, text: str, step: LiveUpdateStep) -> str:
    ctx.state.values.add(text, STEP_TYPES[type(step)], step)
    _unused(ctx.state)[text] = STEP_TYPES[type(step)]
    return text


def _unused(state: TiltfileState) -> dict[str, str]:
    """Texts of steps created but not (yet) given to a build."""
    return state.extra.setdefault("unused_live_update_steps", {})


def sync(ctx: FileContext, local_path: Any, remote_path: Any) -> str:
    local = ctx.abspath(as_str("sync", "local_path", local_path, allow_none=False))
    remote = as_str("sync", "remote_path", remote_path, allow_none=False)
    return _step(ctx, f"sync step: '{local}'->'{remote}'", Sync(local, remote))


def run(ctx: FileContext, cmd: Any, trigger: Any = None, echo_off: Any = False) -> str:
    argv = as_command("run", "cmd", cmd)
    if not argv:
        raise arg_error("run", "cmd", "empty command")
    shown = command_display(argv)
    triggers: list[str] = []
    for item in trigger if isinstance(trigger, (list, tuple)) else ([] if trigger is None else [trigger]):
        if not isinstance(item, str):
            raise TiltfileError(f"run cmd '{shown}' triggers contained value '{item}' of type "
                                f"'{type_name(item)}'. it may only contain strings")
        triggers.append(item)
    text = f"run step: {go_quote(shown)}"
    if triggers:
        text += f" (triggers: {'; '.join(triggers)})"
    step = Run(tuple(argv), tuple(ctx.abspath(t) for t in triggers), as_bool("run", "echo_off", echo_off))
    return _step(ctx, text, step)


def fall_back_on(ctx: FileContext, paths: Any = None, files: Any = None) -> str:
    """Tilt's parameter is `paths` (its docs say `files`: both are accepted)."""
    value = paths if paths is not None else files
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, (list, tuple)):
        raise TiltfileError(f'fall_back_on: for parameter paths: value should be a string or List or Tuple of '
                            f'strings, but is of type {type_name(value)}')
    absolute = []
    for i, item in enumerate(value):
        if not isinstance(item, str):
            raise TiltfileError(f"fall_back_on: for parameter paths: unpacking list item at index {i}: "
                                f"expected path | string. Actual type: {type_name(item)}")
        absolute.append(ctx.abspath(item))
    # Go's %v of a []string, and the stray quote Tilt's String() has.
    return _step(ctx, f"fall_back_on step: [{' '.join(absolute)}]'", FallBackOn(tuple(absolute)))


def initial_sync(ctx: FileContext) -> str:
    return _step(ctx, "initial_sync step", InitialSync())


def restart_container(ctx: FileContext) -> str:
    return _step(ctx, "restart_container step", RestartContainer())


def validate_steps(builtin: str, steps: Any, ctx: FileContext) -> tuple[LiveUpdateStep, ...]:
    """Tilt's liveUpdateFromSteps: fall_back_on first, then syncs, then runs,
    restart_container last (tiltpy's initial_sync before all of them)."""
    if steps is None:
        return ()
    items = list(steps) if isinstance(steps, (list, tuple)) else [steps]
    out: list[LiveUpdateStep] = []
    no_more = {"initial_sync": False, "fall_back_on": False, "sync": False, "run": False}
    for item in items:
        step = ctx.state.values.payload(item, _STEPS)
        if step is None:
            shown = go_quote(item) if isinstance(item, str) else str(item)
            raise TiltfileError(f"{builtin}: live_update: 'steps' must be a list of live update steps - "
                                f"got value '{shown}' of type '{type_name(item)}'")
        if isinstance(step, InitialSync):
            if no_more["initial_sync"]:
                raise TiltfileError(f"{builtin}: live_update: initial_sync must be the first step, and appear once")
        elif isinstance(step, FallBackOn):
            if no_more["fall_back_on"]:
                raise TiltfileError(f"{builtin}: live_update: fall_back_on steps must appear at the start of the list")
        elif isinstance(step, Sync):
            if no_more["run"]:
                raise TiltfileError(f"{builtin}: live_update: restart container is only valid as the last step")
            if no_more["sync"]:
                raise TiltfileError(f"{builtin}: live_update: all sync steps must precede all run steps")
            no_more["fall_back_on"] = True
        elif isinstance(step, Run):
            if no_more["run"]:
                raise TiltfileError(f"{builtin}: live_update: restart container is only valid as the last step")
            no_more["fall_back_on"] = no_more["sync"] = True
        else:
            no_more["fall_back_on"] = no_more["sync"] = no_more["run"] = True
        no_more["initial_sync"] = True
        _unused(ctx.state).pop(item, None)
        out.append(step)
    _check_spec(builtin, out)
    return tuple(out)


def _check_spec(builtin: str, steps: list[LiveUpdateStep]) -> None:
    """v1alpha1.LiveUpdate's validation, with its field-path messages."""
    if not steps:
        return
    errors = []
    syncs = [s for s in steps if isinstance(s, Sync)]
    if not syncs and not any(isinstance(s, Run) for s in steps):
        errors.append("spec.syncs: Invalid value: []v1alpha1.LiveUpdateSync(nil): "
                      "must contain at least 1 sync or 1 exec to run on live update")
    for i, step in enumerate(syncs):
        if not posixpath.isabs(step.remote_path):
            errors.append(f"spec.syncs[{i}]: Invalid value: {go_quote(step.remote_path)}: "
                          "sync destination is not absolute")
    if errors:
        message = errors[0] if len(errors) == 1 else "[" + ", ".join(errors) + "]"
        raise TiltfileError(f"{builtin}: live_update: {message}")


def check_all_steps_used(state: TiltfileState) -> None:
    """Tilt refuses steps that were made but never given to a build."""
    unused = _unused(state)
    if unused:
        listed = "\n\t".join(f"value '{text}' of type '{kind}'" for text, kind in unused.items())
        raise TiltfileError(f"found {len(unused)} live_update steps that were created but not used in a "
                            f"live_update:\n{listed}")


BUILTINS = {
    "sync": sync,
    "run": run,
    "fall_back_on": fall_back_on,
    "initial_sync": initial_sync,
    "restart_container": restart_container,
}
