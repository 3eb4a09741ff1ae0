"""Port-forwarding to a pod over the API server's websocket portforward
subresource (what `kubectl port-forward` does over SPDY).

Wire format (`v4.channel.k8s.io`, one port per websocket): every binary frame
starts with a channel byte; channel 0 carries the port's data, channel 1 its
error text. The first frame the server sends on each channel is the port
number (uint16, little-endian), not payload. The protocol has no way to
half-close the data channel (that arrived with v5 in Kubernetes 1.30), so a
client's EOF can't be passed on to the pod."""
from __future__ import annotations

import asyncio
import json
import urllib.parse
from collections.abc import Callable
from typing import Any

from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus

from tiltpy.k8s.connection import ClusterConnection, open_websocket
from tiltpy.k8s.credentials import CredentialsError

_DATA, _ERROR = 0, 1
_READ_SIZE = 64 * 1024
# After the TCP client half-closes we can't tell the pod, so keep passing the
# pod's answer back while it keeps coming, but give up once it goes quiet.
_HALF_CLOSE_GRACE = 2.0
_OPEN_TIMEOUT = 10.0


class PortForward:
    """Forwards host:local_port to container_port of a pod. The listener stays
    up for the object's lifetime; each accepted TCP connection opens its own
    websocket to the *current* pod, so a replaced pod is followed by calling
    set_pod(). A failing connection is closed alone and logged in one line."""

    def __init__(self, conn: ClusterConnection, namespace: str, local_port: int, container_port: int, *,
                 host: str = "127.0.0.1", log: Callable[[str], None] = print) -> None:
        self._conn = conn
        self._namespace = namespace
        self._local_port = local_port
        self._container_port = container_port
        self._host = host
        self._log = log
        self._pod: str | None = None
        self._server: asyncio.Server | None = None
        self._tasks: dict[asyncio.Task[Any], str | None] = {}  # connection -> the pod it reaches

    @property
    def pod(self) -> str | None:
        return self._pod

    def set_pod(self, pod_name: str | None) -> None:
        # Only new connections see the change; live ones keep their websocket
        # until their pod goes away (drop_connections_except).
        self._pod = pod_name

    def drop_connections_except(self, live_pods: set[str]) -> None:
        """Fail at once the connections to pods that are gone (deleted or
        being deleted): their clients learn it now, not when a timeout fires."""
        for task, pod in list(self._tasks.items()):
            if pod is not None and pod not in live_pods:
                task.cancel()

    async def start(self) -> None:
        if self._server is not None:
            return
        try:
            self._server = await asyncio.start_server(self._handle, self._host, self._local_port)
        except OSError as e:
            raise OSError(e.errno, f"cannot listen on {self._host}:{self._local_port} to forward to port "
                                   f"{self._container_port}: {e.strerror or e}") from e

    async def stop(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.close()
        tasks = list(self._tasks)
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if server is not None:
            await server.wait_closed()

    def _path(self, pod: str) -> str:
        ns, name = (urllib.parse.quote(s, safe="") for s in (self._namespace, pod))
        return f"/api/v1/namespaces/{ns}/pods/{name}/portforward?ports={self._container_port}"

    def _say(self, pod: str, msg: str) -> None:
        self._log(f"port-forward {self._host}:{self._local_port} -> {self._namespace}/{pod}:"
                  f"{self._container_port}: {msg}")

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        pod = self._pod
        self._tasks[task] = pod
        try:
            if pod is not None:
                await self._forward(pod, reader, writer)
        except asyncio.CancelledError:
            # stop() cancels us. Not re-raised: this is the top of a task owned by
            # asyncio.start_server, and 3.11's done-callback would report the
            # cancellation as an unhandled exception.
            pass
        except InvalidStatus as e:
            self._say(pod or "", _status_message(e))
        except TimeoutError:
            self._say(pod or "", f"no answer from the API server within {_OPEN_TIMEOUT:.0f} s")
        except CredentialsError as e:
            self._say(pod or "", f"credentials of context {self._conn.context}: {e}")
        except (OSError, InvalidHandshake, ConnectionClosed) as e:
            self._say(pod or "", f"{type(e).__name__}: {e}")
        except Exception as e:  # never let one connection take the listener down
            self._say(pod or "", f"unexpected {type(e).__name__}: {e}")
        finally:
            self._tasks.pop(task, None)
            writer.close()

    async def _forward(self, pod: str, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        async with await open_websocket(self._conn, self._path(pod), ["v4.channel.k8s.io"],
                                        open_timeout=_OPEN_TIMEOUT, max_size=None, compression=None,
                                        close_timeout=2,
                                        # The API server answers pings, so keepalive never drops an idle
                                        # forward (a debugger, a DB pool) but does notice a vanished server.
                                        ping_interval=30, ping_timeout=30) as ws:
            upstream = asyncio.create_task(self._to_pod(reader, ws))
            try:
                async with asyncio.timeout(None) as deadline:
                    downstream = asyncio.create_task(self._from_pod(ws, writer, pod, deadline, upstream))
                    try:
                        await asyncio.wait({upstream, downstream}, return_when=asyncio.FIRST_COMPLETED)
                        # A clean EOF from the client is a half-close: keep the answer coming.
                        # A client error (reset) ends the connection right away.
                        if not downstream.done() and upstream.exception() is None:
                            deadline.reschedule(asyncio.get_running_loop().time() + _HALF_CLOSE_GRACE)
                            await asyncio.wait({downstream})
                        if downstream.done():
                            downstream.result()  # raises what broke the pod side, if anything
                    finally:
                        downstream.cancel()
                        await asyncio.gather(downstream, return_exceptions=True)
            except TimeoutError:
                pass  # the pod went quiet after the client's half-close: done
            finally:
                upstream.cancel()
                await asyncio.gather(upstream, return_exceptions=True)
                # Close the client before the websocket's close handshake, which may take a while.
                writer.close()

    @staticmethod
    async def _to_pod(reader: asyncio.StreamReader, ws: ClientConnection) -> None:
        while data := await reader.read(_READ_SIZE):
            await ws.send(bytes([_DATA]) + data)  # awaits flow control, so no unbounded buffering

    async def _from_pod(self, ws: ClientConnection, writer: asyncio.StreamWriter, pod: str,
                        deadline: asyncio.Timeout, upstream: asyncio.Task[None]) -> None:
        header_left = {_DATA: 2, _ERROR: 2}  # bytes of the port-number prefix still to skip
        loop = asyncio.get_running_loop()
        try:
            async for frame in ws:
                if isinstance(frame, str) or not frame:
                    continue  # text frames belong to base64 protocols we did not ask for
                channel, payload = frame[0], frame[1:]
                if channel in header_left and header_left[channel]:
                    skip = min(header_left[channel], len(payload))
                    header_left[channel] -= skip
                    payload = payload[skip:]
                if not payload:
                    continue
                if channel == _DATA:
                    writer.write(payload)
                    await writer.drain()
                    if upstream.done():  # still answering after the half-close: extend the grace
                        deadline.reschedule(loop.time() + _HALF_CLOSE_GRACE)
                elif channel == _ERROR:
                    # e.g. "error forwarding port 80 to pod ...: connection refused"
                    self._say(pod, payload.decode(errors="replace").strip())
                    return
        except ConnectionClosed as e:
            if e.rcvd is None or e.rcvd.code not in (1000, 1001):
                raise  # the stream broke (pod deleted, API server gone): worth a log line


def _status_message(e: InvalidStatus) -> str:
    """The API's Status message (`pods "x" not found`) rather than the raw HTTP code."""
    resp = e.response
    try:
        msg = json.loads(resp.body or b"{}").get("message")
    except ValueError:
        msg = None
    return f"HTTP {resp.status_code}: {msg or (resp.body or b'').decode(errors='replace').strip() or resp.reason_phrase}"
