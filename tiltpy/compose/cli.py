"""Driving Docker Compose through its CLI: `docker compose` (v2) when the
plugin exists, else `docker-compose` (v1). Both take the same arguments
for what tiltpy does: up one service, build it, take the project down."""
from __future__ import annotations

import asyncio
import shutil
import subprocess
from typing import Callable

from tiltpy.model.manifest import DockerComposeTarget

Log = Callable[[str], None]


class ComposeUnavailable(Exception):
    pass


class ComposeFailure(Exception):
    pass


_detected: list[str] | None = None


def detect() -> list[str]:
    """The compose command to use. Blocking (runs `docker compose version`)."""
    global _detected
    if _detected is None:
        if shutil.which("docker") and subprocess.run(["docker", "compose", "version"], capture_output=True).returncode == 0:
            _detected = ["docker", "compose"]
        elif shutil.which("docker-compose"):
            _detected = ["docker-compose"]
        else:
            raise ComposeUnavailable("neither `docker compose` (v2 plugin) nor `docker-compose` (v1) is installed")
    return _detected


def project_args(target: DockerComposeTarget) -> list[str]:
    args = ["-p", target.project_name, "--project-directory", target.project_dir]
    for path in target.config_paths:
        args += ["-f", path]
    if target.env_file:
        args += ["--env-file", target.env_file]
    for profile in target.profiles:
        args += ["--profile", profile]
    return args


class ComposeCLI:
    def __init__(self, command: list[str]) -> None:
        self.command = command
        self._up_lock = asyncio.Lock()  # compose `up` calls must not overlap (Tilt #2817)

    async def _run(self, args: list[str], log: Log) -> None:
        proc = await asyncio.create_subprocess_exec(*self.command, *args, stdin=asyncio.subprocess.DEVNULL,
                                                    stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
        assert proc.stdout is not None
        tail: list[str] = []
        async for raw in proc.stdout:
            line = raw.decode(errors="replace").rstrip("\n")
            tail = (tail + [line])[-20:]
            log(f"  {line}")
        code = await proc.wait()
        if code != 0:
            raise ComposeFailure(f"`{' '.join(self.command[-1:] + args[-4:])}` failed with exit code {code}: "
                                 + " / ".join(l.strip() for l in tail[-3:]))

    async def build(self, target: DockerComposeTarget, log: Log) -> None:
        await self._run(project_args(target) + ["build", target.service], log)

    async def up(self, target: DockerComposeTarget, log: Log) -> None:
        args = project_args(target) + ["up", "-d", "--no-deps", "--no-build"]
        if target.wait and self.command[0] == "docker":
            args.append("--wait")
        async with self._up_lock:
            await self._run(args + [target.service], log)

    async def down(self, target: DockerComposeTarget, log: Log, volumes: bool = False) -> None:
        await self._run(project_args(target) + ["down", "--remove-orphans"] + (["-v"] if volumes else []), log)

    async def remove(self, target: DockerComposeTarget, log: Log) -> None:
        """Stop and remove one service's container (a disabled resource)."""
        await self._run(project_args(target) + ["rm", "--stop", "--force", target.service], log)
