"""Where every line of output goes: a bounded store per resource (read by the
web API, the dashboard and `tiltpy logs`) and the terminal. Safe to call from
worker threads (builds run there).

Memory is bounded whatever a pod prints: each resource keeps at most
`max_bytes_per_resource` of recent lines, all resources together at most
`max_total_bytes` (the largest buffers lose their oldest lines first), and a
single line longer than `max_line_bytes` is cut. Every line gets a global,
monotonically increasing sequence number (`seq`, for incremental reads) and
an ordinal within its resource (`n`, so readers can tell lines were lost).

The terminal is written by a thread of its own from a bounded queue, so a
slow terminal or pipe never blocks the event loop: when it falls behind,
lines are dropped and a "... N lines skipped" note says so."""
from __future__ import annotations

import atexit
import heapq
import sys
import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import Any, Callable, Iterable, TextIO

TILTFILE = "(Tiltfile)"

# Rough per-line bookkeeping cost (the LogLine object, its deque slot) so the
# byte caps bound real memory even for floods of empty lines.
LINE_OVERHEAD = 160

DEFAULT_RESOURCE_BYTES = 1 << 20  # 1 MiB of recent lines per resource
DEFAULT_TOTAL_BYTES = 16 << 20  # 16 MiB for all resources together
DEFAULT_LINE_BYTES = 16 << 10  # longer lines are cut
BATCH_WAIT = 0.01  # seconds the terminal writer lets lines gather


@dataclass(slots=True)  # not frozen: a frozen __init__ costs several µs per line, and nothing changes them
class LogLine:
    resource: str
    text: str
    source: str  # "build" | "runtime" | "system"
    time: float
    seq: int = 0  # global order, from 1
    n: int = 0  # ordinal within the resource, from 1; a gap means lines were dropped
    level: str = "info"  # info | warn | error
    # "init": the first line of an update (the dashboard shows it as a header,
    # Tilt's build event); "" for every other line.
    build_event: str = ""

    def to_json(self) -> dict:
        out = {"seq": self.seq, "n": self.n, "resource": self.resource, "source": self.source,
               "level": self.level, "time": round(self.time, 3), "text": self.text}
        if self.build_event:
            out["buildEvent"] = self.build_event
        return out


def line_level(text: str) -> str:
    """Tilt's convention: lines starting with WARNING: / ERROR: are warnings / errors."""
    if text[:1] not in _ALERT_STARTS:  # most lines: one look at the first character
        return "info"
    head = text.lstrip()[:10].upper()
    if head.startswith("ERROR:") or head.startswith("ERROR "):
        return "error"
    if head.startswith("WARNING:") or head.startswith("WARN:"):
        return "warn"
    return "info"


_ALERT_STARTS = frozenset("EeWw \t\n\r\x0b\x0c")  # what a WARNING:/ERROR: line may start with


def _cost(line: LogLine) -> int:
    return len(line.text) + LINE_OVERHEAD


class _Buffer:
    __slots__ = ("lines", "bytes", "count", "alerts")

    def __init__(self) -> None:
        self.lines: deque[LogLine] = deque()
        self.bytes = 0
        self.count = 0  # lines ever appended (the last line's n)
        # (source, level) -> (lines ever logged, seq of the last one), warnings
        # and errors only; kept when lines are evicted, so an update's
        # warnings can be counted exactly.
        self.alerts: dict[tuple[str, str], tuple[int, int]] = {}


class TerminalWriter:
    """Writes text to a stream from a daemon thread. `write` never blocks on
    the stream: past `max_pending` bytes queued, lines are dropped and
    counted, and a note says how many once the stream catches up."""

    def __init__(self, out: TextIO, max_pending: int = 1 << 20) -> None:
        self.out = out
        self.max_pending = max_pending
        self._cond = threading.Condition()
        self._pending: list[str] = []
        self._pending_bytes = 0
        self._skipped = 0
        self._busy = False
        self._broken = False
        self._thread: threading.Thread | None = None

    def write(self, text: str, lines: int = 1) -> None:
        """Queue `text` (`lines` lines of it, for the skipped count)."""
        with self._cond:
            if self._broken:
                return
            if self._pending_bytes + len(text) > self.max_pending and self._pending:
                self._skipped += lines
                return
            self._note_skipped()
            self._pending.append(text)
            self._pending_bytes += len(text)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="tiltpy-terminal", daemon=True)
                self._thread.start()
            if not self._busy:  # the writer is waiting: wake it (once, not per line)
                self._busy = True
                self._cond.notify()

    def _note_skipped(self) -> None:
        if self._skipped:
            note = f"... {self._skipped} lines skipped (the terminal fell behind; all logs: the dashboard)\n"
            self._pending.append(note)
            self._pending_bytes += len(note)
            self._skipped = 0

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._pending:
                    self._busy = False
                    self._cond.notify_all()
                    self._cond.wait()
                self._busy = True
                if self._pending_bytes < self.max_pending // 4:
                    # Let a burst gather: one write (and one GIL hand-off) per
                    # batch, not per line; invisible on a terminal.
                    self._cond.wait(BATCH_WAIT)
                batch, self._pending, self._pending_bytes = self._pending, [], 0
            try:
                self.out.write("".join(batch))
                self.out.flush()
            except (OSError, ValueError):  # closed pipe or stream: stop writing
                with self._cond:
                    self._broken = True
                    self._pending, self._pending_bytes = [], 0
                    self._busy = False
                    self._cond.notify_all()
                return
            with self._cond:
                if not self._pending:
                    self._note_skipped()

    def flush(self, timeout: float = 5.0) -> None:
        """Wait until everything queued is written (or `timeout` passes)."""
        deadline = time.monotonic() + timeout
        with self._cond:
            if self._thread is None:
                return
            while (self._pending or self._busy) and not self._broken:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return
                self._cond.wait(remaining)


class LogSink:
    def __init__(self, out: TextIO | None = None, max_lines_per_resource: int = 0, *,
                 max_bytes_per_resource: int = DEFAULT_RESOURCE_BYTES, max_total_bytes: int = DEFAULT_TOTAL_BYTES,
                 max_line_bytes: int = DEFAULT_LINE_BYTES, stream: bool = True,
                 max_terminal_pending: int = 1 << 20) -> None:
        self._terminal = TerminalWriter(out or sys.stdout, max_terminal_pending)
        self._lock = threading.Lock()
        self._width = len(TILTFILE)
        self._buffers: dict[str, _Buffer] = {}
        self._secrets: list[tuple[str, str]] = []  # (value, replacement), longest first
        self._max_lines = max_lines_per_resource  # 0: bounded by bytes only
        self._max_bytes = max_bytes_per_resource
        self._max_total = max(max_total_bytes, 1)
        self._max_line = max_line_bytes
        self._total = 0
        self._seq = 0
        self._listeners: list[Callable[[LogLine], None]] = []
        self.stream = stream  # print every line to the terminal
        atexit.register(self.flush)

    # -- configuration ------------------------------------------------------
    def set_resources(self, names: list[str]) -> None:
        self._width = min(max([len(TILTFILE), *map(len, names)]), 28)

    def add_listener(self, fn: Callable[[LogLine], None]) -> None:
        """`fn` is called with each line, in the thread that logged it."""
        self._listeners.append(fn)

    def remove_listener(self, fn: Callable[[LogLine], None]) -> None:
        if fn in self._listeners:
            self._listeners.remove(fn)

    # -- writing --------------------------------------------------------------
    def set_secrets(self, replacements: dict[str, str]) -> None:
        """Values (Kubernetes Secret data) to redact from every line (secret_settings)."""
        # Longest first, so a value containing another is replaced whole.
        self._secrets = sorted(replacements.items(), key=lambda kv: -len(kv[0]))

    def scrub(self, text: str) -> str:
        """`text` with every secret value replaced (secret_settings)."""
        for value, replacement in self._secrets:
            if value in text:
                text = text.replace(value, replacement)
        return text

    def scrub_all(self, data: Any) -> Any:
        """A JSON-like value with every string scrubbed (the view, API objects)."""
        if not self._secrets:
            return data
        if isinstance(data, str):
            return self.scrub(data)
        if isinstance(data, dict):
            return {k: self.scrub_all(v) for k, v in data.items()}
        if isinstance(data, list):
            return [self.scrub_all(v) for v in data]
        return data

    def log(self, resource: str, text: str, source: str = "build", build_event: str = "") -> None:
        text = self.scrub(text.rstrip("\r\n"))
        if len(text) > self._max_line:
            text = text[: self._max_line] + f" … [line cut: {len(text) - self._max_line} more characters]"
        with self._lock:
            self._seq += 1
            buf = self._buffers.get(resource)
            if buf is None:
                buf = self._buffers[resource] = _Buffer()
            buf.count += 1
            line = LogLine(resource, text, source, time.time(), self._seq, buf.count, line_level(text), build_event)
            if line.level != "info":
                key = (source, line.level)
                buf.alerts[key] = (buf.alerts.get(key, (0, 0))[0] + 1, line.seq)
            self._append(buf, line)
            if self.stream:
                self._terminal.write(f"{self._prefix(resource)} │ {text}\n")
        for listener in self._listeners:
            listener(line)

    def log_lines(self, resource: str, texts: list[str], source: str = "build") -> None:
        """Many lines of one resource at once (a block read from a log
        stream): the same as log() for each, with one lock, one terminal
        write and one clock reading, so a fast pod costs little per line."""
        if not texts:
            return
        max_line, secrets = self._max_line, self._secrets
        cleaned = []
        for text in texts:
            text = text.rstrip("\r\n")
            if secrets:
                text = self.scrub(text)
            if len(text) > max_line:
                text = text[:max_line] + f" … [line cut: {len(text) - max_line} more characters]"
            cleaned.append(text)
        now = time.time()
        made = []
        with self._lock:
            buf = self._buffers.get(resource)
            if buf is None:
                buf = self._buffers[resource] = _Buffer()
            seq, count, added = self._seq, buf.count, 0
            for text in cleaned:
                seq += 1
                count += 1
                level = line_level(text)
                line = LogLine(resource, text, source, now, seq, count, level)
                if level != "info":
                    key = (source, level)
                    buf.alerts[key] = (buf.alerts.get(key, (0, 0))[0] + 1, seq)
                buf.lines.append(line)
                added += len(text) + LINE_OVERHEAD
                made.append(line)
            self._seq, buf.count = seq, count
            buf.bytes += added
            self._total += added
            while buf.bytes > self._max_bytes and len(buf.lines) > 1 or \
                    self._max_lines and len(buf.lines) > self._max_lines:
                self._evict(buf)
            if self._total > self._max_total:
                self._evict_largest()
            if self.stream:
                prefix = f"{self._prefix(resource)} │ "
                self._terminal.write("".join(f"{prefix}{text}\n" for text in cleaned), len(cleaned))
        for listener in self._listeners:
            for line in made:
                listener(line)

    def logger(self, resource: str, source: str = "build") -> Callable[[str], None]:
        return lambda text: self.log(resource, text, source)

    def echo(self, text: str) -> None:
        """A line for the terminal only (headers, status changes)."""
        self._terminal.write(text + "\n")

    def flush(self, timeout: float = 5.0) -> None:
        self._terminal.flush(timeout)

    def _prefix(self, resource: str) -> str:
        return resource[: self._width].ljust(self._width)

    def format(self, line: LogLine) -> str:
        return f"{self._prefix(line.resource)} │ {line.text}"

    def _append(self, buf: _Buffer, line: LogLine) -> None:
        cost = _cost(line)
        buf.lines.append(line)
        buf.bytes += cost
        self._total += cost
        while buf.bytes > self._max_bytes and len(buf.lines) > 1 or \
                self._max_lines and len(buf.lines) > self._max_lines:
            self._evict(buf)
        if self._total > self._max_total:
            self._evict_largest()

    def _evict(self, buf: _Buffer) -> None:
        cost = _cost(buf.lines.popleft())
        buf.bytes -= cost
        self._total -= cost

    def _evict_largest(self) -> None:
        while self._total > self._max_total:
            buf = max(self._buffers.values(), key=lambda b: b.bytes)
            if not buf.lines:
                return
            # At least the excess, and at least 1/16 of the buffer: finding the
            # largest buffer is O(resources), so do it once per chunk, not per line.
            goal = buf.bytes - max(self._total - self._max_total, buf.bytes // 16)
            while buf.lines and buf.bytes > goal:
                self._evict(buf)

    # -- reading --------------------------------------------------------------
    def lines(self, resource: str) -> list[LogLine]:
        with self._lock:
            buf = self._buffers.get(resource)
            return list(buf.lines) if buf else []

    @property
    def last_seq(self) -> int:
        return self._seq

    def alerts(self, resource: str, source: str, level: str = "warn") -> tuple[int, int]:
        """(count, seq of the last one) of the lines of that source and level
        ever logged for the resource, evicted ones too: the difference between
        two counts is what an update printed."""
        with self._lock:
            buf = self._buffers.get(resource)
            return buf.alerts.get((source, level), (0, 0)) if buf else (0, 0)

    def resources(self) -> list[str]:
        with self._lock:
            return list(self._buffers)

    def stats(self) -> dict[str, int]:
        with self._lock:
            return {"lines": sum(len(b.lines) for b in self._buffers.values()), "bytes": self._total,
                    "seq": self._seq, "maxTotalBytes": self._max_total, "maxResourceBytes": self._max_bytes}

    def read(self, resources: Iterable[str] | None = None, since: int = 0, limit: int = 0,
             tail: int = 0) -> list[LogLine]:
        """Stored lines with seq > `since`, oldest first, of the given
        resources (default: all). `limit`: at most that many, the oldest
        (to page forward). `tail`: at most that many, the newest."""
        with self._lock:
            names = list(self._buffers) if resources is None else [r for r in resources if r in self._buffers]
            per_resource = []
            cap = tail or limit
            for name in names:
                buf = self._buffers[name].lines
                if not buf or buf[-1].seq <= since:
                    continue
                if cap and not tail:
                    # Oldest first: walk from the left past what the reader has.
                    picked = []
                    for line in buf:
                        if line.seq > since:
                            picked.append(line)
                            if len(picked) >= cap:
                                break
                    per_resource.append(picked)
                    continue
                picked = []
                for line in reversed(buf):  # newest first: stop at `since` (or the cap)
                    if line.seq <= since or cap and len(picked) >= cap:
                        break
                    picked.append(line)
                picked.reverse()
                per_resource.append(picked)
        merged = per_resource[0] if len(per_resource) == 1 else list(heapq.merge(*per_resource, key=lambda l: l.seq))
        if tail:
            return merged[-tail:]
        if limit:
            return merged[:limit]
        return merged

