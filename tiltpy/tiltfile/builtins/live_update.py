"""Live update steps: sync, run, fall_back_on, initial_sync, restart_container.

Steps are created by their own builtins (so relative paths resolve against
the file that created them) and validated when handed to a build."""
from __future__ import annotations

import posixpath
from typing import TYPE_CHECKING, Any

import starlark as sl

from tiltpy.model.manifest import FallBackOn, InitialSync, LiveUpdateStep, RestartContainer, Run, Sync
from tiltpy.tiltfile.errors import TiltfileError, arg_error
from tiltpy.tiltfile.values import as_bool, as_command, as_str, as_str_list, type_name

if TYPE_CHECKING:
    from tiltpy.tiltfile.loader import FileContext

# The order Tilt enforces; each kind may appear only after the ones before it.
_ORDER = (InitialSync, FallBackOn, Sync, Run, RestartContainer)
_STEP_NAMES = {InitialSync: "initial_sync", FallBackOn: "fall_back_on", Sync: "sync", Run: "run",
               RestartContainer: "restart_container"}


def sync(ctx: FileContext, local_path: Any, remote_path: Any) -> sl.OpaquePythonObject:
    local = ctx.abspath(as_str("sync", "local_path", local_path, allow_none=False))
    remote = as_str("sync", "remote_path", remote_path, allow_none=False)
    if not posixpath.isabs(remote):
        raise arg_error("sync", "remote_path", f"must be an absolute path in the container, got {remote!r}")
    return sl.OpaquePythonObject(Sync(local, remote))


def run(ctx: FileContext, cmd: Any, trigger: Any = None, echo_off: Any = False) -> sl.OpaquePythonObject:
    argv = as_command("run", "cmd", cmd)
    if not argv:
        raise arg_error("run", "cmd", "empty command")
    triggers = tuple(ctx.abspath(p) for p in as_str_list("run", "trigger", trigger))
    return sl.OpaquePythonObject(Run(tuple(argv), triggers, as_bool("run", "echo_off", echo_off)))


def fall_back_on(ctx: FileContext, files: Any) -> sl.OpaquePythonObject:
    paths = as_str_list("fall_back_on", "files", files)
    return sl.OpaquePythonObject(FallBackOn(tuple(ctx.abspath(p) for p in paths)))


def initial_sync(ctx: FileContext) -> sl.OpaquePythonObject:
    return sl.OpaquePythonObject(InitialSync())


def restart_container(ctx: FileContext) -> sl.OpaquePythonObject:
    return sl.OpaquePythonObject(RestartContainer())


def validate_steps(builtin: str, steps: Any, ctx: FileContext) -> tuple[LiveUpdateStep, ...]:
    if not isinstance(steps, (list, tuple)):
        raise arg_error(builtin, "live_update", f"got {type_name(steps)}, want list of live update steps")
    out: list[LiveUpdateStep] = []
    rank = -1
    for i, step in enumerate(steps):
        if not isinstance(step, _ORDER):
            raise arg_error(builtin, "live_update", f"item {i}: got {type_name(step)}, want a live update step "
                            "(sync, run, fall_back_on, initial_sync, restart_container)")
        step_rank = _ORDER.index(type(step))
        if step_rank < rank or (step_rank == rank and isinstance(step, (InitialSync, RestartContainer))):
            raise TiltfileError(
                f"{builtin}: live_update: {_STEP_NAMES[type(step)]}() cannot come after {_STEP_NAMES[_ORDER[rank]]}(); "
                "steps must be ordered: initial_sync, fall_back_on, sync, run, restart_container "
                "(initial_sync and restart_container at most once)"
            )
        rank = step_rank
        out.append(step)
    for step in out:
        if isinstance(step, Run):
            for trigger in step.triggers:
                if not any(_is_child(trigger, s.local_path) for s in out if isinstance(s, Sync)):
                    raise TiltfileError(
                        f"{builtin}: live_update: run() trigger {trigger} is not covered by any sync(); "
                        "a trigger file must also be synced"
                    )
    return tuple(out)


def _is_child(path: str, parent: str) -> bool:
    return path == parent or path.startswith(parent.rstrip("/") + "/")


BUILTINS = {
    "sync": sync,
    "run": run,
    "fall_back_on": fall_back_on,
    "initial_sync": initial_sync,
    "restart_container": restart_container,
}
