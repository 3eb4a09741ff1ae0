"""A dashboard server for browser tests that need no Docker or cluster: the
real WebServer and Engine (its resources installed, never started), whose
state a test sets directly (UI buttons are objects in its store, and a
click records itself there). Runs the engine's loop on a thread."""
from __future__ import annotations

import asyncio
import io
import socket
import threading
import time
from concurrent.futures import Future
from typing import Any, Callable

from tiltpy.engine.engine import Engine, EngineOptions
from tiltpy.engine.logs import LogSink
from tiltpy.engine.resource import BuildRecord
from tiltpy.model.manifest import Link, Manifest, TiltfileResult
from tiltpy.web.server import WebServer


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class FakeUp:
    def __init__(self, manifests: list[Manifest]) -> None:
        self.sink = LogSink(io.StringIO(), stream=False, max_bytes_per_resource=64 << 20, max_total_bytes=256 << 20)
        self.port = free_port()
        self.url = f"http://localhost:{self.port}"
        result = TiltfileResult(tiltfile="/tmp/project/Tiltfile", manifests=manifests)
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self._thread.start()
        self.engine: Engine = self.call(lambda: Engine(result, EngineOptions(), self.sink))
        self.server = WebServer(self.sink, "localhost", self.port)

        async def start() -> None:
            self.engine._install(result.manifests)
            assert await self.server.start()
            self.server.attach(self.engine)

        asyncio.run_coroutine_threadsafe(start(), self.loop).result(30)

    def call(self, fn: Callable[[], Any]) -> Any:
        """Run fn on the engine's loop (then publish the view)."""
        future: Future = Future()

        def run() -> None:
            try:
                future.set_result(fn())
            except BaseException as err:  # noqa: BLE001 - handed to the caller
                future.set_exception(err)
            if getattr(self, "engine", None) is not None:
                self.engine.changed()

        self.loop.call_soon_threadsafe(run)
        return future.result(30)

    def set(self, name: str, **fields: Any) -> None:
        def apply() -> None:
            res = self.engine.resources[name]
            for key, value in fields.items():
                setattr(res, key, value)
        self.call(apply)

    def build(self, name: str, *, error: str = "", warnings: int = 0, duration: float = 1.5,
              running: bool = False) -> None:
        """Record an update of `name` as the engine would, with its log lines."""
        def apply() -> None:
            res = self.engine.resources[name]
            record = BuildRecord(started=time.time() - duration, reason="initial build")
            self.engine._start_record(res, record, "Initial Build" if not res.builds[:-1] else "Updating: triggered")
            for i in range(warnings):
                self.sink.log(name, f"WARNING: something to look at {i}")
            res.update_status = "in_progress"
            if running:
                return
            if error:
                self.sink.log(name, f"ERROR: {error}")
            self.engine._finish_record(res, record)
            record.error = error
            res.update_status, res.update_error = ("error", error) if error else ("ok", "")
            res.first_update_done = True
        self.call(apply)

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self.server.stop(), self.loop).result(30)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)


def sample_project() -> list[Manifest]:
    return [
        Manifest(name="frontend", labels=("web",), links=(Link("http://localhost:18111/", "app"),
                                                         Link("http://localhost:18112/docs", "docs"))),
        Manifest(name="api", labels=("web", "backend")),
        Manifest(name="db", labels=("backend",)),
        Manifest(name="worker"),
        Manifest(name="jobs", auto_init=False),
    ]
