"""A long-lived GET from the API server over a bare HTTP/1.1 connection
(asyncio streams), for log streams.

Why not httpx: the API server sends a followed log about one HTTP chunk (and
one TLS record) per line, and httpx/h11 spend tens of microseconds of Python
on every chunk, so a pod printing fast is read at a few MB/s with a core
busy. Here the connection is read in large blocks and the chunked encoding is
taken apart with bytes.find, so the cost is per block and per byte: the same
stream is read several times faster. Only what a streaming GET needs is
implemented (status, headers, chunked or length-delimited or read-to-close
bodies); a cluster reached through a proxy keeps the httpx path, which knows
proxies."""
from __future__ import annotations

import asyncio
import json
import ssl
import urllib.parse
import urllib.request
from typing import AsyncIterator

from tiltpy.k8s.connection import ClusterConnection
from tiltpy.k8s.credentials import Credentials

READ_SIZE = 256 * 1024
MAX_HEADER_BYTES = 64 * 1024
MAX_ERROR_BODY = 64 * 1024


class RawStreamError(Exception):
    """The connection failed or the server broke the protocol; str() is for humans."""


class RawResponse:
    """The status and headers of a response, and its body read in blocks."""

    def __init__(self, status: int, headers: dict[str, str], reader: asyncio.StreamReader,
                 writer: asyncio.StreamWriter, rest: bytes) -> None:
        self.status = status
        self.headers = headers
        self._reader = reader
        self._writer = writer
        self._rest = rest  # body bytes that came with the headers

    def close(self) -> None:
        # No TLS close_notify wait: the stream is abandoned, not finished.
        transport = self._writer.transport
        transport.abort()

    async def body(self) -> AsyncIterator[bytes]:
        """The body's bytes, one block per read (decoded from chunked encoding)."""
        encoding = self.headers.get("transfer-encoding", "").lower()
        if "chunked" in encoding:
            async for block in self._chunked():
                yield block
            return
        length = self.headers.get("content-length")
        remaining = int(length) if length is not None and length.isdigit() else -1
        data = self._rest
        self._rest = b""
        while True:
            if data:
                if remaining >= 0:
                    data = data[:remaining]
                    remaining -= len(data)
                yield data
            if remaining == 0:
                return
            data = await self._reader.read(READ_SIZE)
            if not data:
                if remaining > 0:
                    raise RawStreamError("the server closed the connection in the middle of the answer")
                return

    async def _chunked(self) -> AsyncIterator[bytes]:
        buf = bytearray(self._rest)
        self._rest = b""
        pos = 0
        while True:
            pieces = []
            while True:
                eol = buf.find(b"\r\n", pos)
                if eol < 0:
                    break
                size_text = bytes(buf[pos:eol]).split(b";", 1)[0].strip()
                try:
                    size = int(size_text, 16)
                except ValueError:
                    raise RawStreamError(f"bad chunk size {size_text[:20]!r} in the answer") from None
                if size == 0:
                    if pieces:
                        yield b"".join(pieces)
                    return  # trailers, if any, are of no interest
                start = eol + 2
                end = start + size
                if end + 2 > len(buf):
                    break
                pieces.append(bytes(buf[start:end]))
                pos = end + 2
            if pieces:
                yield b"".join(pieces)
            del buf[:pos]
            pos = 0
            data = await self._reader.read(READ_SIZE)
            if not data:
                raise RawStreamError("the server closed the connection in the middle of the answer")
            buf += data

    async def read_all(self, limit: int = MAX_ERROR_BODY) -> bytes:
        out = bytearray()
        async for block in self.body():
            out += block
            if len(out) >= limit:
                break
        return bytes(out[:limit])


def usable(conn: ClusterConnection) -> bool:
    """Whether the API server is reached directly (no proxy-url, no proxy from
    the environment for its host): only then is the raw path taken."""
    if conn.proxy_url:
        return False
    parsed = urllib.parse.urlsplit(conn.server)
    proxies = urllib.request.getproxies_environment()
    if not (proxies.get(parsed.scheme) or proxies.get("all")):
        return True
    return bool(urllib.request.proxy_bypass_environment(parsed.hostname or "", proxies))


async def open_get(conn: ClusterConnection, creds: Credentials, path: str, params: dict[str, str], *,
                   connect_timeout: float) -> RawResponse:
    """Send GET `path`?`params` and read the status line and headers. Raises
    RawStreamError (or TimeoutError / OSError / ssl.SSLError)."""
    server = urllib.parse.urlsplit(conn.server)
    secure = server.scheme == "https"
    host = server.hostname or ""
    port = server.port or (443 if secure else 80)
    target = (server.path.rstrip("/") + path) + ("?" + urllib.parse.urlencode(params) if params else "")
    ssl_context: ssl.SSLContext | bool | None = None
    if secure:
        ssl_context = creds.ssl_context or ssl.create_default_context()
    async with asyncio.timeout(connect_timeout):
        reader, writer = await asyncio.open_connection(host, port, ssl=ssl_context,
                                                       server_hostname=host if secure else None,
                                                       limit=READ_SIZE * 2)
        try:
            headers = {"Host": server.netloc.rpartition("@")[2], "User-Agent": "tiltpy",
                       "Accept": "*/*", "Accept-Encoding": "identity", **creds.headers}
            request = f"GET {target} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers.items()) + "\r\n"
            writer.write(request.encode("latin-1"))
            await writer.drain()
            head = bytearray()
            while b"\r\n\r\n" not in head:
                data = await reader.read(READ_SIZE)
                if not data:
                    raise RawStreamError("the server closed the connection before answering")
                head += data
                if len(head) > MAX_HEADER_BYTES and b"\r\n\r\n" not in head[:MAX_HEADER_BYTES]:
                    raise RawStreamError("the answer's headers are too long")
        except BaseException:
            writer.transport.abort()
            raise
    header_bytes, _, rest = bytes(head).partition(b"\r\n\r\n")
    status_line, *header_lines = header_bytes.decode("latin-1").split("\r\n")
    parts = status_line.split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/1.") or not parts[1].isdigit():
        writer.transport.abort()
        raise RawStreamError(f"not an HTTP answer: {status_line[:80]!r}")
    fields: dict[str, str] = {}
    for line in header_lines:
        name, _, value = line.partition(":")
        fields[name.strip().lower()] = value.strip()
    return RawResponse(int(parts[1]), fields, reader, writer, rest)


def status_message(status: int, body: bytes, path: str) -> str:
    """The API's Status message, as the httpx path words it."""
    text = body.decode(errors="replace")
    try:
        data = json.loads(text)
        message = (data.get("message") if isinstance(data, dict) else None) or text
    except ValueError:
        message = text
    return f"GET {path}: {status} {message}".strip()


def split_lines(partial: bytes, block: bytes, max_line: int) -> tuple[list[bytes], bytes]:
    """Complete lines of partial+block, and the unfinished rest. A rest longer
    than max_line is handed out as a line of its own, so memory stays bounded
    however long a pod's line is."""
    data = partial + block if partial else block
    lines = data.split(b"\n")
    rest = lines.pop()
    if len(rest) > max_line:
        lines.append(rest)
        rest = b""
    return lines, rest

