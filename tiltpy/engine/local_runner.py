"""Local resources: running `cmd` on this machine, and keeping `serve_cmd`
running (restarted after each cmd), with its readiness from a probe.

Serve processes run in their own process group so a stop reaches their
children too; they are recorded (engine/serve_records.py) so `tiltpy down`
can stop what a `tiltpy up` left running."""
from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from typing import Callable

from tiltpy.engine import serve_records
from tiltpy.model.runtime import RuntimeState
from tiltpy.model.manifest import ExecAction, HTTPGetAction, LocalTarget, Probe, TCPSocketAction

Log = Callable[[str], None]


class CommandFailure(Exception):
    """cmd exited non-zero: the resource's update failed."""


async def _pump(stream: asyncio.StreamReader | None, log: Log) -> None:
    if stream is None:
        return
    while True:
        try:
            line = await stream.readline()
        except ValueError:  # a line longer than the buffer: take what is there
            line = await stream.read(1 << 16)
        if not line:
            return
        log(line.decode(errors="replace").rstrip("\n"))


async def run_cmd(target: LocalTarget, log: Log) -> None:
    shown = target.cmd[2] if list(target.cmd[:2]) == ["sh", "-c"] else " ".join(target.cmd)
    log(f"Running cmd: {shown}")
    try:
        proc = await asyncio.create_subprocess_exec(
            *target.cmd, cwd=target.workdir or None, env={**os.environ, **dict(target.env)},
            stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
            start_new_session=True, limit=1 << 20)
    except OSError as err:
        raise CommandFailure(f"cannot run {target.cmd[0]!r}: {err.strerror or err}") from None
    try:
        await _pump(proc.stdout, log)
        code = await proc.wait()
    except asyncio.CancelledError:
        _kill_group(proc.pid, signal.SIGKILL)
        raise
    if code != 0:
        raise CommandFailure(f"cmd {shown!r} exited with code {code}")


async def run_capturing(argv: tuple[str, ...], workdir: str, env: dict[str, str], log: Log) -> str:
    """Run a command, log its stderr, return its stdout (k8s_custom_deploy's apply_cmd)."""
    shown = argv[2] if list(argv[:2]) == ["sh", "-c"] else " ".join(argv)
    log(f"Running: {shown}")
    try:
        proc = await asyncio.create_subprocess_exec(
            *argv, cwd=workdir or None, env={**os.environ, **env}, stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, start_new_session=True, limit=1 << 20)
    except OSError as err:
        raise CommandFailure(f"cannot run {argv[0]!r}: {err.strerror or err}") from None
    stderr_task = asyncio.create_task(_pump(proc.stderr, log))
    assert proc.stdout is not None
    stdout = (await proc.stdout.read()).decode(errors="replace")
    await stderr_task
    code = await proc.wait()
    if code != 0:
        raise CommandFailure(f"{shown!r} exited with code {code}")
    return stdout


def _kill_group(pid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, sig)


async def probe_once(probe: Probe) -> bool:
    action = probe.action
    try:
        if isinstance(action, ExecAction):
            proc = await asyncio.create_subprocess_exec(*action.command, stdout=asyncio.subprocess.DEVNULL,
                                                        stderr=asyncio.subprocess.DEVNULL)
            try:
                return await asyncio.wait_for(proc.wait(), probe.timeout_secs) == 0
            except asyncio.TimeoutError:
                proc.kill()
                return False
        if isinstance(action, TCPSocketAction):
            _, writer = await asyncio.wait_for(asyncio.open_connection(action.host, action.port), probe.timeout_secs)
            writer.close()
            return True
        if isinstance(action, HTTPGetAction):
            import httpx

            url = f"{action.scheme}://{action.host}:{action.port}/{action.path.lstrip('/')}"
            async with httpx.AsyncClient(timeout=probe.timeout_secs, verify=False) as client:
                response = await client.get(url)
            return 200 <= response.status_code < 400
    except (OSError, asyncio.TimeoutError, Exception):  # any failure to connect is "not ready"
        return False
    return False


class ServeProcess:
    """One resource's serve_cmd: started, probed, stopped, restarted."""

    def __init__(self, name: str, target: LocalTarget, tiltfile: str, log: Log, on_change: Callable[[], None]) -> None:
        self.name = name
        self.target = target
        self.log = log
        self.on_change = on_change
        self.state = RuntimeState(status="pending")
        self._proc: asyncio.subprocess.Process | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._tiltfile = tiltfile
        self._record = ""

    def _set(self, status: str, error: str = "") -> None:
        if (self.state.status, self.state.error) != (status, error):
            self.state.status, self.state.error = status, error
            self.on_change()

    async def start(self) -> None:
        await self.stop()
        target = self.target
        shown = target.serve_cmd[2] if list(target.serve_cmd[:2]) == ["sh", "-c"] else " ".join(target.serve_cmd)
        self.log(f"Starting serve_cmd: {shown}")
        try:
            self._proc = await asyncio.create_subprocess_exec(
                *target.serve_cmd, cwd=target.serve_workdir or None, env={**os.environ, **dict(target.serve_env)},
                stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
                start_new_session=True, limit=1 << 20)
        except OSError as err:
            reason = f"cannot run serve_cmd {target.serve_cmd[0]!r}: {err.strerror or err}"
            self.log(f"ERROR: {reason}")
            self._set("error", reason)
            return
        try:
            self._record = serve_records.record(self._tiltfile, self.name, self._proc.pid)
        except OSError as err:
            self.log(f"WARNING: cannot record the serve_cmd for `tiltpy down`: {err}")
        self.state.pod = f"pid {self._proc.pid}"
        self._set("pending")
        proc = self._proc
        self._tasks = [asyncio.create_task(self._watch_exit(proc))]
        if target.readiness_probe:
            self._tasks.append(asyncio.create_task(self._probe_loop(target.readiness_probe)))
        else:
            self._set("ok")

    async def _watch_exit(self, proc: asyncio.subprocess.Process) -> None:
        await _pump(proc.stdout, self.log)
        code = await proc.wait()
        if proc is self._proc:
            self.log(f"serve_cmd exited with code {code}")
            self._set("error", f"serve_cmd exited with code {code}")
            for task in self._tasks[1:]:
                task.cancel()

    async def _probe_loop(self, probe: Probe) -> None:
        await asyncio.sleep(probe.initial_delay_secs)
        successes = failures = 0
        while True:
            if await probe_once(probe):
                successes, failures = successes + 1, 0
                if successes >= probe.success_threshold:
                    self._set("ok")
            else:
                failures, successes = failures + 1, 0
                if failures >= probe.failure_threshold and self.state.status == "ok":
                    self._set("error", "readiness probe failing")
                elif self.state.status != "ok":
                    self._set("pending")
            await asyncio.sleep(probe.period_secs)

    async def stop(self) -> None:
        proc, self._proc = self._proc, None
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(BaseException):
                await task
        self._tasks = []
        if proc is not None and proc.returncode is None:
            _kill_group(proc.pid, signal.SIGTERM)
            try:
                await asyncio.wait_for(proc.wait(), 5)
            except asyncio.TimeoutError:
                _kill_group(proc.pid, signal.SIGKILL)
                await proc.wait()
        if self._record:
            serve_records.forget(self._record)
            self._record = ""

    def running_containers(self, image: str) -> list[tuple[str, str, str, str]]:
        return []
