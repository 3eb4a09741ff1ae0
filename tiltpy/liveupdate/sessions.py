"""A shell kept running in a container for its live updates, so a sync costs
one round trip on an open connection instead of a new exec (or archive
upload) each time.

Starting a process in a container is what makes a sync slow: the Docker
Engine's archive upload re-executes a helper to unpack in the container's
root (~70–110 ms on the testbed), an exec spawns a runc process (~100 ms).
Written into a shell that is already running, the same tar is unpacked in a
few milliseconds. The shell reads one request at a time and answers each
before the next is sent:

    x <bytes> <id>\n<tar of that many bytes>   unpack into /
    e <bytes> <id>\n<that many bytes of shell> run it (rm -rf of deleted files)

and prints `<id> <exit code>` when done; what the commands print on stderr
comes back with the answer. `head -c` hands each command exactly its bytes
(stdin is shared, and a v4 exec can't close it), and nothing more is on
the pipe while a request runs, so no command can read the next one's data.

A session that breaks (the container restarted, the connection dropped)
is closed; the caller falls back to a one-off exec for that update and the
next update opens a new session. The requests are idempotent (unpacking the
same files, removing removed paths), so a retry after a broken session is
safe. The container needs `sh`, `head` and `tar`, as live update always did."""
from __future__ import annotations

import asyncio
import collections
import itertools
import json
import struct
import urllib.parse
from typing import Any, Callable, Protocol

SHELL_LOOP = ('while read -r op n id; do '
              'case "$op" in '
              'x) head -c "$n" | tar -C / -xf - ;; '
              'e) eval "$(head -c "$n")" ;; '
              '*) false ;; '
              'esac; '
              'echo "$id $?"; '
              'done')
REQUEST_TIMEOUT = 30.0
MAX_SESSIONS = 64  # containers with a shell kept open; the least recently used closes first
_ids = itertools.count(1)


class SessionBroken(Exception):
    """The session can't be used (any more); the caller falls back to a one-off exec."""


class SyncSession(Protocol):
    answered: bool  # it has answered a request: it did work in this container

    async def request(self, op: str, payload: bytes) -> tuple[int, str]:
        """Send one request; (exit code, what it printed on stderr)."""

    async def close(self) -> None: ...


def _header(op: str, payload: bytes) -> tuple[bytes, str]:
    request_id = f"tiltpy-{next(_ids)}"
    return f"{op} {len(payload)} {request_id}\n".encode() + payload, request_id


def _answer(stdout: str, request_id: str) -> int | None:
    """The exit code once `<id> <code>` has arrived on stdout, else None."""
    for line in stdout.split("\n"):
        word, _, code = line.strip().partition(" ")
        if word == request_id:
            return int(code) if code.strip().lstrip("-").isdigit() else 1
    return None


class DockerSession:
    """The shell run by the Docker Engine's exec, over the connection the
    engine hands over for its stdin and output (blocking: used from a worker
    thread, one request at a time)."""

    def __init__(self, client: Any, container_id: str) -> None:
        self._client = client
        self._container_id = container_id
        self._sock: Any = None
        self._raw: Any = None
        self._lock = asyncio.Lock()
        self.answered = False

    def _open(self) -> None:
        # As root, like the engine's archive upload this replaces: files land as that would leave them.
        exec_id = self._client.exec_create(self._container_id, ["sh", "-c", SHELL_LOOP], stdin=True,
                                           stdout=True, stderr=True, user="0")["Id"]
        self._sock = self._client.exec_start(exec_id, socket=True)
        self._raw = getattr(self._sock, "_sock", self._sock)
        if hasattr(self._raw, "settimeout"):
            self._raw.settimeout(REQUEST_TIMEOUT)

    def _send(self, data: bytes) -> None:
        if hasattr(self._raw, "sendall"):
            self._raw.sendall(data)
            return
        view = memoryview(data)
        while view:
            written = self._sock.write(view)
            view = view[written:]

    def _recv(self, n: int) -> bytes:
        data = self._raw.recv(n) if hasattr(self._raw, "recv") else self._sock.read(n)
        if not data:
            raise SessionBroken("the container's shell ended")
        return data

    def _request(self, op: str, payload: bytes) -> tuple[int, str]:
        try:
            if self._sock is None:
                self._open()
            data, request_id = _header(op, payload)
            self._send(data)
            stdout, stderr = "", ""
            buffered = b""
            while True:
                while len(buffered) < 8:
                    buffered += self._recv(65536)
                stream, size = struct.unpack(">BxxxL", buffered[:8])
                while len(buffered) < 8 + size:
                    buffered += self._recv(65536)
                text = buffered[8:8 + size].decode(errors="replace")
                buffered = buffered[8 + size:]
                if stream == 2:
                    stderr += text
                else:
                    stdout += text
                    code = _answer(stdout, request_id)
                    if code is not None:
                        self.answered = True
                        return code, stderr
        except SessionBroken:
            self._close()
            raise
        except Exception as err:  # noqa: BLE001 - any failure of the connection or the engine: not usable
            self._close()
            raise SessionBroken(f"{type(err).__name__}: {err}") from None

    async def request(self, op: str, payload: bytes) -> tuple[int, str]:
        async with self._lock:
            return await asyncio.to_thread(self._request, op, payload)

    def _close(self) -> None:
        sock, self._sock, self._raw = self._sock, None, None
        if sock is not None:
            try:
                sock.close()
            except OSError:
                pass

    async def close(self) -> None:
        self._close()


class ExecSession:
    """The shell run by the API server's exec, over its websocket (v4
    channels: 0 stdin, 1 stdout, 2 stderr, 3 the final status)."""

    def __init__(self, open_websocket: Callable[[str], Any], namespace: str, pod: str, container: str) -> None:
        self._open_websocket = open_websocket
        self._path = (f"/api/v1/namespaces/{urllib.parse.quote(namespace, safe='')}/pods/"
                      f"{urllib.parse.quote(pod, safe='')}/exec?" + urllib.parse.urlencode(
                          [("container", container), ("stdin", "true"), ("stdout", "true"), ("stderr", "true"),
                           ("command", "sh"), ("command", "-c"), ("command", SHELL_LOOP)]))
        self._ws: Any = None
        self._lock = asyncio.Lock()
        self.answered = False

    async def request(self, op: str, payload: bytes) -> tuple[int, str]:
        async with self._lock:
            try:
                async with asyncio.timeout(REQUEST_TIMEOUT):
                    if self._ws is None:
                        self._ws = await self._open_websocket(self._path)
                    data, request_id = _header(op, payload)
                    for offset in range(0, len(data), 256 * 1024):
                        await self._ws.send(b"\x00" + data[offset:offset + 256 * 1024])
                    stdout, stderr = "", ""
                    while True:
                        frame = await self._ws.recv()
                        if isinstance(frame, str) or not frame:
                            continue
                        channel, body = frame[0], frame[1:]
                        if channel == 2:
                            stderr += body.decode(errors="replace")
                        elif channel == 1:
                            stdout += body.decode(errors="replace")
                            code = _answer(stdout, request_id)
                            if code is not None:
                                self.answered = True
                                return code, stderr
                        elif channel == 3 and body:
                            raise SessionBroken(f"the container's shell ended: {json.loads(body).get('message', '')}")
            except SessionBroken:
                await self._close()
                raise
            except Exception as err:  # noqa: BLE001 - websocket closed, refused, timed out: not usable
                await self._close()
                raise SessionBroken(f"{type(err).__name__}: {err}") from None

    async def _close(self) -> None:
        ws, self._ws = self._ws, None
        if ws is not None:
            try:
                await ws.close()
            except Exception:  # noqa: BLE001 - closing a broken connection
                pass

    async def close(self) -> None:
        async with self._lock:
            await self._close()


class Sessions:
    """The open sessions, by container ID, least recently used first out."""

    def __init__(self, limit: int = MAX_SESSIONS) -> None:
        self._limit = limit
        self._open: collections.OrderedDict[str, SyncSession] = collections.OrderedDict()
        self._closing: set[asyncio.Task[None]] = set()

    def get(self, container_id: str, make: Callable[[], SyncSession]) -> SyncSession:
        session = self._open.get(container_id)
        if session is None:
            session = self._open[container_id] = make()
            while len(self._open) > self._limit:
                _, oldest = self._open.popitem(last=False)
                self._close_later(oldest)
        self._open.move_to_end(container_id)
        return session

    def forget(self, container_id: str) -> None:
        session = self._open.pop(container_id, None)
        if session is not None:
            self._close_later(session)

    def _close_later(self, session: SyncSession) -> None:
        task = asyncio.get_running_loop().create_task(session.close())
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)

    async def close(self) -> None:
        sessions, self._open = list(self._open.values()), collections.OrderedDict()
        for session in sessions:
            await session.close()
