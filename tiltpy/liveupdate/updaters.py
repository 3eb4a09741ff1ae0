"""Applying a live update to one running container: copy the changed files
in, remove the deleted ones, run the triggered commands.

Two ways in, chosen per cluster:
- DockerUpdater: the cluster's containers run on the Docker Engine we build
  with (Docker Desktop and the like), so we talk to the container directly.
- ExecUpdater: any cluster, through the API server's exec. On clusters that
  cannot close stdin (before 1.29), the tar stream is bounded with
  `head -c N` so busybox tar, which reads until end of input, still ends.

Both copy and delete through a shell kept open in the container
(sessions.py): one round trip of a few milliseconds per sync once it is
open. When that can't work (no shell, the session broke) they fall back to
what needs no session: the Docker Engine's archive upload, or a one-off
exec."""
from __future__ import annotations

import asyncio
import io
import os
import shlex
import tarfile
from dataclasses import dataclass
from typing import Callable, Protocol

import docker
import docker.errors

from tiltpy.model.live_update import FileCopy, LiveUpdatePlan
from tiltpy.k8s.connection import ClusterConnection, open_websocket
from tiltpy.k8s.exec import ExecError, exec_in_container
from tiltpy.liveupdate.sessions import DockerSession, ExecSession, SessionBroken, Sessions
from tiltpy.model.manifest import Run

Log = Callable[[str], None]


class RunFailure(Exception):
    """A run() step exited non-zero: the user's problem, shown on the resource."""


class UpdateFailure(Exception):
    """Copying into the container failed: fall back to a rebuild."""


@dataclass(frozen=True)
class ContainerRef:
    namespace: str
    pod: str
    container: str
    container_id: str  # "docker://<id>" (or another runtime's scheme)

    @property
    def docker_id(self) -> str:
        scheme, _, cid = self.container_id.partition("://")
        return cid if scheme == "docker" else ""


def files_tar(copies: tuple[FileCopy, ...]) -> bytes:
    """A tar whose members are the container paths (relative to /)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.GNU_FORMAT) as tar:
        for copy in copies:
            try:
                info = tar.gettarinfo(copy.local, arcname=copy.remote.lstrip("/"))
            except FileNotFoundError:
                continue  # deleted again since the plan was made; the next batch deletes it
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            if info.isreg():
                with open(copy.local, "rb") as f:
                    tar.addfile(info, f)
            elif info.issym() or info.isdir():
                tar.addfile(info)
    return buf.getvalue()


def _describe(run: Run) -> str:
    argv = list(run.command)
    return argv[2] if argv[:2] == ["sh", "-c"] else shlex.join(argv)


class ContainerUpdater(Protocol):
    async def update(self, container: ContainerRef, plan: LiveUpdatePlan, log: Log) -> None: ...

    async def close(self) -> None: ...


def _remove_script(paths: tuple[str, ...]) -> bytes:
    return ("rm -rf -- " + " ".join(shlex.quote(p) for p in paths) + "\n").encode()


class DockerUpdater:
    def __init__(self, client: docker.APIClient) -> None:
        self.client = client
        self.sessions = Sessions()
        self._no_session: set[str] = set()  # containers where a session can't start or its tar can't unpack

    async def close(self) -> None:
        await self.sessions.close()

    async def update(self, container: ContainerRef, plan: LiveUpdatePlan, log: Log) -> None:
        cid = container.docker_id
        if not cid:
            raise UpdateFailure(f"container {container.container} of pod {container.pod} is not a Docker container")
        if plan.deletes:
            if await self._in_session(cid, "e", _remove_script(plan.deletes)) is None:
                await self._exec(cid, ["rm", "-rf", "--", *plan.deletes], log, quiet=True)
        if plan.copies:
            data = files_tar(plan.copies)
            answer = await self._in_session(cid, "x", data) if cid not in self._no_session else None
            if answer != 0:
                await self._put_archive(container, cid, data)
                if answer is not None:  # the container's own tar failed where the engine's unpacking works
                    self._no_session.add(cid)
        for run in plan.runs:
            await self._run(cid, run, log)
        if plan.restart:
            self.sessions.forget(cid)  # the restart ends its shell
            await asyncio.to_thread(self.client.restart, cid, timeout=0)

    async def _in_session(self, cid: str, op: str, payload: bytes) -> int | None:
        """The exit code of the request in the container's session, or None
        when there is no working session (then the caller does it another way)."""
        if cid in self._no_session:
            return None
        session = self.sessions.get(cid, lambda: DockerSession(self.client, cid))
        try:
            code, _ = await session.request(op, payload)
            return code
        except SessionBroken:
            self.sessions.forget(cid)
            if not session.answered:  # it never worked here (no sh, say): don't try again for this container
                self._no_session.add(cid)
            return None

    async def _put_archive(self, container: ContainerRef, cid: str, data: bytes) -> None:
        try:
            ok = await asyncio.to_thread(self.client.put_archive, cid, "/", data)
        except docker.errors.APIError as err:
            raise UpdateFailure(f"copying files into {container.pod}/{container.container}: "
                                f"{err.explanation or err}") from None
        if not ok:
            raise UpdateFailure(f"copying files into {container.pod}/{container.container} failed")

    async def _run(self, cid: str, run: Run, log: Log) -> None:
        if not run.echo_off:
            log(f"  RUNNING: {_describe(run)}")
        code = await self._exec(cid, list(run.command), log, quiet=False)
        if code != 0:
            raise RunFailure(f"live update run step {_describe(run)!r} exited with code {code}")

    async def _exec(self, cid: str, argv: list[str], log: Log, quiet: bool) -> int:
        def blocking() -> int:
            try:
                exec_id = self.client.exec_create(cid, argv, stdout=True, stderr=True)["Id"]
                partial = ""
                for chunk in self.client.exec_start(exec_id, stream=True):
                    if quiet:
                        continue
                    partial += chunk.decode(errors="replace")
                    *lines, partial = partial.split("\n")
                    for line in lines:
                        log(f"    {line}")
                if partial and not quiet:
                    log(f"    {partial}")
                return int(self.client.exec_inspect(exec_id).get("ExitCode") or 0)
            except docker.errors.APIError as err:
                raise UpdateFailure(f"exec {argv[0]} in container {cid[:12]}: {err.explanation or err}") from None

        return await asyncio.to_thread(blocking)


class ExecUpdater:
    def __init__(self, conn: ClusterConnection) -> None:
        self.conn = conn
        self.sessions = Sessions()
        self._no_session: set[str] = set()

    async def close(self) -> None:
        await self.sessions.close()

    def _session(self, container: ContainerRef) -> ExecSession:
        async def open_shell(path: str) -> object:
            return await open_websocket(self.conn, path, ["v4.channel.k8s.io"], open_timeout=15, max_size=None,
                                        compression=None, close_timeout=2, ping_interval=30, ping_timeout=30)

        return ExecSession(open_shell, container.namespace, container.pod, container.container)

    async def _in_session(self, container: ContainerRef, op: str, payload: bytes) -> tuple[int, str] | None:
        if container.container_id in self._no_session:
            return None
        session = self.sessions.get(container.container_id, lambda: self._session(container))
        try:
            return await session.request(op, payload)
        except SessionBroken:
            self.sessions.forget(container.container_id)
            if not session.answered:  # it never worked here: one-off execs for this container from now on
                self._no_session.add(container.container_id)
            return None

    async def update(self, container: ContainerRef, plan: LiveUpdatePlan, log: Log) -> None:
        target = (self.conn, container.namespace, container.pod, container.container)
        try:
            if plan.deletes:
                answer = await self._in_session(container, "e", _remove_script(plan.deletes))
                if answer is None:
                    result = await exec_in_container(*target, ["rm", "-rf", "--", *plan.deletes])
                    answer = (result.exit_code, result.stderr)
                if answer[0] != 0:
                    raise UpdateFailure(f"removing files in {container.pod}: {answer[1].strip()}")
            if plan.copies:
                data = files_tar(plan.copies)

                def tar_command(v5: bool) -> list[str]:
                    if v5:
                        return ["tar", "-C", "/", "-x", "-f", "-"]
                    return ["sh", "-c", f"head -c {len(data)} | tar -C / -x -f -"]

                answer = await self._in_session(container, "x", data)
                if answer is None:
                    result = await exec_in_container(*target, tar_command, stdin=data)
                    answer = (result.exit_code, result.stderr)
                if answer[0] != 0:
                    raise UpdateFailure(f"copying files into {container.pod}/{container.container} failed "
                                        f"(exit {answer[0]}): {answer[1].strip()} — the image needs "
                                        "`tar` and `sh` for live update")
            for run in plan.runs:
                if not run.echo_off:
                    log(f"  RUNNING: {_describe(run)}")
                result = await exec_in_container(*target, list(run.command),
                                                 on_output=None if run.echo_off else _line_logger(log))
                if result.exit_code != 0:
                    raise RunFailure(f"live update run step {_describe(run)!r} exited with code {result.exit_code}")
        except ExecError as err:
            raise UpdateFailure(str(err)) from None


def _line_logger(log: Log) -> Callable[[str], None]:
    def emit(text: str) -> None:
        for line in text.rstrip("\n").split("\n"):
            log(f"    {line}")
    return emit


def updater_kind(product_shares_docker: bool, override: str = "") -> str:
    """'docker' or 'exec' (Tilt's --update-mode container / exec)."""
    if override in ("docker", "container"):
        return "docker"
    if override == "exec":
        return "exec"
    return "docker" if product_shares_docker and os.environ.get("TILTPY_UPDATE_MODE", "") != "exec" else "exec"
