"""Where every line of output goes: one stream per resource, printed to the
terminal with the resource name as a prefix. Safe to call from worker
threads (builds run there)."""
from __future__ import annotations

import asyncio
import sys
import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import Callable, TextIO

TILTFILE = "(Tiltfile)"


@dataclass(frozen=True)
class LogLine:
    resource: str
    text: str
    source: str  # "build" | "runtime" | "system"
    time: float


class LogSink:
    def __init__(self, out: TextIO | None = None, max_lines_per_resource: int = 5000) -> None:
        self._out = out or sys.stdout
        self._lock = threading.Lock()
        self._width = len(TILTFILE)
        self._lines: dict[str, deque[LogLine]] = {}
        self._max = max_lines_per_resource
        self._listeners: list[Callable[[LogLine], None]] = []

    def set_resources(self, names: list[str]) -> None:
        self._width = min(max([len(TILTFILE), *map(len, names)]), 28)

    def add_listener(self, fn: Callable[[LogLine], None]) -> None:
        self._listeners.append(fn)

    def log(self, resource: str, text: str, source: str = "build") -> None:
        line = LogLine(resource, text.rstrip("\r\n"), source, time.time())
        with self._lock:
            self._lines.setdefault(resource, deque(maxlen=self._max)).append(line)
            prefix = resource[: self._width].ljust(self._width)
            self._out.write(f"{prefix} │ {line.text}\n")
            self._out.flush()
        for listener in self._listeners:
            listener(line)

    def logger(self, resource: str, source: str = "build") -> Callable[[str], None]:
        return lambda text: self.log(resource, text, source)

    def lines(self, resource: str) -> list[LogLine]:
        with self._lock:
            return list(self._lines.get(resource, ()))


def threadsafe(loop: asyncio.AbstractEventLoop, fn: Callable[[str], None]) -> Callable[[str], None]:
    """Wraps a log function so worker threads hand lines to the event loop."""
    return lambda text: loop.call_soon_threadsafe(fn, text)
