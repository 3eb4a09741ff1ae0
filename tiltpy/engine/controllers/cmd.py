"""The Cmd controller (Tilt's `v1alpha1.cmd`): runs a command on this
machine, with its output in the owning resource's log.

Semantics follow Tilt's cmd controller: a Cmd without `startOn` buttons runs
as soon as it exists; with them it waits for a click on one of the buttons
(after `startOn.startAfter`); `restartOn` file watches and buttons restart
it. A new spec stops the old process first. The clicked button's inputs
reach the command as environment variables (NAME=value)."""
from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from dataclasses import dataclass, field
from typing import Any

from tiltpy.engine.controllers import Log, owning_resource
from tiltpy.engine.store import ObjectStore, now_micro, parse_time
from tiltpy.model.manifest import ExecAction, HTTPGetAction, Probe, TCPSocketAction

WAITING_ON_START_ON = "cmd-start-on"


def input_value(spec: dict[str, Any], status: dict[str, Any]) -> str:
    """A button input's value as the command sees it (Tilt's stringValue)."""
    if "text" in status:
        return str((status["text"] or {}).get("value", ""))
    if "bool" in status:
        value = bool((status["bool"] or {}).get("value"))
        bool_spec = spec.get("bool") or {}
        key = "trueString" if value else "falseString"
        return str(bool_spec[key]) if bool_spec.get(key) is not None else ("true" if value else "false")
    if "hidden" in status:
        return str((status["hidden"] or {}).get("value", ""))
    if "choice" in status:
        choices = (spec.get("choice") or {}).get("choices") or [""]
        value = (status["choice"] or {}).get("value")
        return str(value) if value in choices else str(choices[0])
    return ""


def button_env(button: dict[str, Any] | None) -> list[str]:
    if button is None:
        return []
    statuses = {s.get("name"): s for s in (button.get("status") or {}).get("inputs") or []}
    return [f"{spec['name']}={input_value(spec, statuses.get(spec['name'], {}))}"
            for spec in (button.get("spec") or {}).get("inputs") or [] if spec.get("name")]


def probe_from_spec(spec: dict[str, Any]) -> Probe:
    """v1alpha1 Probe JSON → the probe model local resources use."""
    handler: ExecAction | HTTPGetAction | TCPSocketAction
    if spec.get("exec"):
        handler = ExecAction(tuple(spec["exec"].get("command") or ()))
    elif spec.get("httpGet"):
        get = spec["httpGet"]
        handler = HTTPGetAction(port=int(get.get("port", 0)), host=get.get("host") or "localhost",
                                scheme=(get.get("scheme") or "http").lower(), path=get.get("path") or "")
    elif spec.get("tcpSocket"):
        tcp = spec["tcpSocket"]
        handler = TCPSocketAction(port=int(tcp.get("port", 0)), host=tcp.get("host") or "localhost")
    else:
        raise ValueError("readinessProbe needs exec, httpGet or tcpSocket")
    return Probe(handler, initial_delay_secs=int(spec.get("initialDelaySeconds", 0)),
                 timeout_secs=int(spec.get("timeoutSeconds", 1) or 1),
                 period_secs=int(spec.get("periodSeconds", 10) or 10),
                 success_threshold=int(spec.get("successThreshold", 1) or 1),
                 failure_threshold=int(spec.get("failureThreshold", 3) or 3))


def _exec_spec(spec: dict[str, Any]) -> tuple[Any, ...]:
    """What makes a different process (Tilt's cmdExecEqual)."""
    return (tuple(spec.get("args") or ()), spec.get("dir") or "", tuple(spec.get("env") or ()),
            repr(spec.get("readinessProbe")))


@dataclass
class _Process:
    exec_spec: tuple[Any, ...] | None = None
    last_start_event: float = 0.0
    last_restart_event: float = 0.0
    proc: asyncio.subprocess.Process | None = None
    tasks: list[asyncio.Task[None]] = field(default_factory=list)
    status: dict[str, Any] = field(default_factory=dict)


class CmdController:
    kind = "Cmd"

    def __init__(self, store: ObjectStore, log: Log) -> None:
        self.store = store
        self.log = log
        self._procs: dict[str, _Process] = {}

    def dependencies(self, obj: dict[str, Any]) -> list[tuple[str, str]]:
        spec = obj.get("spec") or {}
        start_on, restart_on = spec.get("startOn") or {}, spec.get("restartOn") or {}
        return ([("UIButton", b) for b in start_on.get("uiButtons") or []]
                + [("UIButton", b) for b in restart_on.get("uiButtons") or []]
                + [("FileWatch", f) for f in restart_on.get("fileWatches") or []])

    # -- trigger events ------------------------------------------------------------
    def _last_click(self, buttons: list[str], after: float) -> tuple[float, dict[str, Any] | None]:
        latest, latest_button = 0.0, None
        for name in buttons:
            button = self.store.get("UIButton", name)
            clicked = parse_time(((button or {}).get("status") or {}).get("lastClickedAt"))
            if clicked and clicked >= after and clicked > latest:
                latest, latest_button = clicked, button
        return latest, latest_button

    def _last_file_event(self, watches: list[str]) -> float:
        latest = 0.0
        for name in watches:
            fw = self.store.get("FileWatch", name)
            latest = max(latest, parse_time(((fw or {}).get("status") or {}).get("lastEventTime")))
        return latest

    # -- reconcile ----------------------------------------------------------------------
    async def reconcile(self, name: str, obj: dict[str, Any] | None) -> None:
        if obj is None:
            proc = self._procs.pop(name, None)
            if proc is not None:
                await self._stop(proc)
            return
        proc = self._procs.setdefault(name, _Process())
        spec = obj.get("spec") or {}
        start_on, restart_on = spec.get("startOn") or {}, spec.get("restartOn") or {}
        start_time, start_button = self._last_click(start_on.get("uiButtons") or [],
                                                    parse_time(start_on.get("startAfter")))
        restart_click, restart_button = self._last_click(restart_on.get("uiButtons") or [], 0.0)
        restart_time = max(restart_click, self._last_file_event(restart_on.get("fileWatches") or []))
        waits_on_start = bool(start_on.get("uiButtons"))
        spec_changed = _exec_spec(spec) != proc.exec_spec
        start_triggered = start_time > proc.last_start_event
        restart_triggered = restart_time > proc.last_restart_event
        if spec_changed:
            await self._stop(proc)
        if spec_changed and waits_on_start and not start_triggered:
            proc.exec_spec = _exec_spec(spec)
            self._set_status(name, proc, {"waiting": {"reason": WAITING_ON_START_ON}, "ready": False})
        elif spec_changed or start_triggered or restart_triggered:
            # The inputs of whichever button fired last.
            button = restart_button if restart_time > start_time and restart_click >= restart_time \
                else start_button
            proc.last_start_event, proc.last_restart_event = start_time, restart_time
            await self._start(name, obj, proc, button)

    def _set_status(self, name: str, proc: _Process, status: dict[str, Any]) -> None:
        proc.status = status
        self.store.update_status("Cmd", name, dict(status))

    async def _start(self, name: str, obj: dict[str, Any], proc: _Process, button: dict[str, Any] | None) -> None:
        await self._stop(proc)
        spec = obj.get("spec") or {}
        proc.exec_spec = _exec_spec(spec)
        resource = owning_resource(obj)
        args = [str(a) for a in spec.get("args") or []]
        if not args:
            self._set_status(name, proc, {"terminated": {"exitCode": 1, "reason": "args are empty"}, "ready": False})
            return
        env = dict(os.environ)
        for entry in [*(spec.get("env") or []), *button_env(button)]:
            key, _, value = str(entry).partition("=")
            env[key] = value
        probe = probe_from_spec(spec["readinessProbe"]) if spec.get("readinessProbe") else None
        self.log(resource, f"Running cmd: {' '.join(args)}")
        started = now_micro()
        try:
            child = await asyncio.create_subprocess_exec(
                *args, cwd=spec.get("dir") or None, env=env, stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT, start_new_session=True,
                limit=1 << 20)
        except OSError as err:
            reason = f"cannot run {args[0]}: {err.strerror or err}"
            self.log(resource, f"ERROR: {reason}")
            self._set_status(name, proc, {"terminated": {"exitCode": 127, "reason": reason, "startedAt": started,
                                                         "finishedAt": now_micro()}, "ready": False})
            return
        proc.proc = child
        self._set_status(name, proc, {"running": {"pid": child.pid, "startedAt": started}, "ready": probe is None})
        proc.tasks = [asyncio.create_task(self._follow(name, resource, proc, child, started))]
        if probe is not None:
            proc.tasks.append(asyncio.create_task(self._probe(name, proc, probe)))

    async def _follow(self, name: str, resource: str, proc: _Process, child: asyncio.subprocess.Process,
                      started: str) -> None:
        assert child.stdout is not None
        while True:
            try:
                line = await child.stdout.readline()
            except ValueError:  # longer than the buffer: take what is there
                line = await child.stdout.read(1 << 16)
            if not line:
                break
            self.log(resource, line.decode(errors="replace").rstrip("\n"))
        code = await child.wait()
        if proc.proc is child:
            proc.proc = None
            self._set_status(name, proc, {"terminated": {"pid": child.pid, "exitCode": code, "startedAt": started,
                                                         "finishedAt": now_micro()}, "ready": False})
            if code != 0:
                self.log(resource, f"ERROR: cmd exited with code {code}")

    async def _probe(self, name: str, proc: _Process, probe: Probe) -> None:
        from tiltpy.engine.local_runner import probe_once

        await asyncio.sleep(probe.initial_delay_secs)
        successes = failures = 0
        while proc.proc is not None:
            if await probe_once(probe):
                successes, failures = successes + 1, 0
                ready = successes >= probe.success_threshold or proc.status.get("ready", False)
            else:
                failures, successes = failures + 1, 0
                ready = proc.status.get("ready", False) and failures < probe.failure_threshold
            if proc.proc is not None and ready != proc.status.get("ready"):
                self._set_status(name, proc, {**proc.status, "ready": ready})
            await asyncio.sleep(probe.period_secs)

    async def _stop(self, proc: _Process) -> None:
        child, proc.proc = proc.proc, None
        for task in proc.tasks[1:]:
            task.cancel()
        if child is not None and child.returncode is None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(child.pid, signal.SIGTERM)
            try:
                await asyncio.wait_for(child.wait(), 5)
            except asyncio.TimeoutError:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(child.pid, signal.SIGKILL)
                await child.wait()
        for task in proc.tasks:
            task.cancel()
            with contextlib.suppress(BaseException):
                await task
        proc.tasks = []

    async def close(self) -> None:
        for proc in list(self._procs.values()):
            await self._stop(proc)
