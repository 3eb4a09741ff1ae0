"""Follows one Compose service's container: its state (the resource's
runtime status), its logs, and its ID for live updates. Driven by the
engine's event stream for the service's labels; no polling."""
from __future__ import annotations

import asyncio
import threading
from typing import Any, Callable

import docker
import docker.errors

from tiltpy.model.runtime import RuntimeState
from tiltpy.model.manifest import DockerComposeTarget

Log = Callable[[str], None]


class ComposeMonitor:
    def __init__(self, client: docker.APIClient, target: DockerComposeTarget, *, log: Log,
                 on_change: Callable[[], None]) -> None:
        self.client = client
        self.target = target
        self.log = log
        self.on_change = on_change
        self.state = RuntimeState()
        self.container_id = ""
        self._loop: asyncio.AbstractEventLoop | None = None
        self._events: Any = None
        self._log_streams: dict[str, Any] = {}
        self._stopped = False
        self._restart_expected_until = 0.0

    def expect_restart(self) -> None:
        """restart_container() is about to kill the container: its exit is not a crash."""
        import time

        self._restart_expected_until = time.monotonic() + 15
    def _filters(self) -> dict[str, list[str]]:
        return {"label": [f"com.docker.compose.project={self.target.project_name}",
                          f"com.docker.compose.service={self.target.service}"]}

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        threading.Thread(target=self._follow_events, daemon=True, name=f"compose events {self.target.service}").start()
        await self.refresh()

    async def refresh(self) -> None:
        """Look at the service's container now (after an `up`)."""
        await asyncio.to_thread(self._inspect)

    def _inspect(self) -> None:
        containers = self.client.containers(all=True, filters=self._filters())
        if not containers:
            self._update("pending", "", "")
            return
        newest = max(containers, key=lambda c: c.get("Created", 0))
        cid = newest["Id"]
        try:
            info = self.client.inspect_container(cid)
        except docker.errors.NotFound:
            return
        state = info.get("State") or {}
        name = (info.get("Name") or "").lstrip("/")
        if state.get("Running") and not state.get("Restarting"):
            self._restart_expected_until = 0.0
            health = (state.get("Health") or {}).get("Status")
            status, error = ("pending", "") if health == "starting" else ("ok", "")
            if health == "unhealthy":
                status, error = "error", f"container {name} is unhealthy"
        elif state.get("Status") == "exited" and self._restart_expected():
            status, error = "pending", ""
        elif state.get("Status") == "exited" and state.get("ExitCode", 0) != 0:
            status, error = "error", f"container {name} exited with code {state.get('ExitCode')}"
        elif state.get("Status") == "exited":
            status, error = "ok", ""
        else:
            status, error = "pending", ""
        self.state.pod, self.state.pod_phase = name, state.get("Status", "")
        self.state.restarts = info.get("RestartCount", 0)
        if cid != self.container_id:
            self.container_id = cid
        self._ensure_logs(cid, state)
        self._update(status, error, cid)

    def _restart_expected(self) -> bool:
        import time

        return time.monotonic() < self._restart_expected_until

    def _update(self, status: str, error: str, cid: str) -> None:
        old = (self.state.status, self.state.error)
        self.state.status, self.state.error = status, error
        if old != (status, error) and self._loop is not None:
            if error and old[1] != error:
                self._loop.call_soon_threadsafe(self.log, f"ERROR: {error}")
            self._loop.call_soon_threadsafe(self.on_change)

    def _ensure_logs(self, cid: str, state: dict[str, Any]) -> None:
        key = f"{cid}:{state.get('StartedAt', '')}"
        if key in self._log_streams or self._stopped or not state.get("StartedAt"):
            return
        self._log_streams[key] = None
        threading.Thread(target=self._stream_logs, args=(cid, key, state.get("StartedAt", "")), daemon=True).start()

    def _stream_logs(self, cid: str, key: str, started_at: str) -> None:
        # A restarted container keeps its ID: only this run's output (since it started).
        since = _to_unix(started_at)
        try:
            stream = self.client.logs(cid, stream=True, follow=True, stdout=True, stderr=True, since=since)
        except docker.errors.APIError:
            return
        self._log_streams[key] = stream
        partial = ""
        try:
            for chunk in stream:
                partial += chunk.decode(errors="replace")
                *lines, partial = partial.split("\n")
                for line in lines:
                    self.log(line)
        except Exception:  # the stream is closed when we stop or the container goes away
            pass
        if partial:
            self.log(partial)

    def _follow_events(self) -> None:
        reconnected = False
        while not self._stopped:
            try:
                self._events = self.client.events(decode=True, filters={**self._filters(), "type": ["container"]})
                if reconnected:  # the engine was away (restarted?): look again at what runs now
                    self._inspect()
                reconnected = True
                for event in self._events:
                    if self._stopped:
                        return
                    if event.get("status") in ("start", "die", "restart", "health_status: healthy",
                                               "health_status: unhealthy", "destroy", "create", "stop") or \
                            str(event.get("status", "")).startswith("health_status"):
                        self._inspect()
            except Exception:
                if self._stopped:
                    return
                threading.Event().wait(1)

    async def stop(self) -> None:
        self._stopped = True
        for stream in [self._events, *self._log_streams.values()]:
            if stream is not None:
                try:
                    stream.close()
                except Exception:
                    pass

    def running_containers(self, image: str) -> list[tuple[str, str, str, str]]:
        if self.container_id and self.state.pod_phase == "running":
            return [("", self.state.pod, self.target.service, f"docker://{self.container_id}")]
        return []


def _to_unix(timestamp: str) -> int:
    from datetime import datetime

    try:
        return int(datetime.fromisoformat(timestamp[:26].rstrip("Z") + "+00:00").timestamp())
    except ValueError:
        return 0
