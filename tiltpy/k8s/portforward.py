"""Port-forwarding to a pod over the API server's websocket portforward
subresource (what `kubectl port-forward` does over SPDY).

Wire format (`v4.channel.k8s.io`, one port per websocket): every binary frame
starts with a channel byte; channel 0 carries the port's data, channel 1 its
error text. The first frame the server sends on each channel is the port
number (uint16, little-endian), not payload. The protocol has no way to
half-close the data channel (that arrived with v5 in Kubernetes 1.30), so a
client's EOF can't be passed on to the pod.

Two waits are taken off a connection's path: the listener is up before any
pod is ready, and a connection made meanwhile waits for one (instead of
being refused); and one websocket to the current pod is kept ready (a
spare), so a new connection starts moving bytes at once rather than after a
websocket handshake (~20 ms). Opening a websocket makes the kubelet connect
to the pod's port, so the spare is an idle connection the app sees; it is
replaced after each use and when the pod changes, and a spare the pod
closed is noticed when the next connection wants it (which then opens its
own)."""
from __future__ import annotations

import asyncio
import json
import urllib.parse
from collections.abc import Callable
from typing import Any

from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus
from websockets.protocol import State

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
                 host: str = "127.0.0.1", log: Callable[[str], None] = print, spare: bool = True) -> None:
        self._conn = conn
        self._namespace = namespace
        self._local_port = local_port
        self._container_port = container_port
        self._host = host
        self._log = log
        self._pod: str | None = None
        self._has_pod = asyncio.Event()
        self._server: asyncio.Server | None = None
        self._tasks: dict[asyncio.Task[Any], str | None] = {}  # connection -> the pod it reaches
        self._keep_spare = spare
        self._spare: tuple[str, asyncio.Task[ClientConnection]] | None = None  # (pod, its opening)

    @property
    def pod(self) -> str | None:
        return self._pod

    def set_pod(self, pod_name: str | None) -> None:
        # Only new connections see the change; live ones keep their websocket
        # until their pod goes away (drop_connections_except). Connections
        # waiting for a pod go on now.
        if pod_name == self._pod:
            return
        self._pod = pod_name
        self._drop_spare()
        if pod_name is None:
            self._has_pod.clear()
        else:
            self._has_pod.set()
            self._prepare_spare()

    # -- the spare websocket ---------------------------------------------------
    def _prepare_spare(self) -> None:
        if not self._keep_spare or self._spare is not None or self._pod is None or self._server is None:
            return
        pod = self._pod
        opening = asyncio.get_running_loop().create_task(self._open(pod), name=f"spare forward to {pod}")
        opening.add_done_callback(_retrieve)
        self._spare = (pod, opening)

    def _drop_spare(self) -> None:
        spare, self._spare = self._spare, None
        if spare is None:
            return
        opening = spare[1]
        if not opening.done():
            opening.cancel()
        elif not opening.cancelled() and opening.exception() is None:
            self._spawn(opening.result().close())

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks[task] = None
        task.add_done_callback(lambda done: self._tasks.pop(done, None))
        task.add_done_callback(_retrieve)

    async def _connection(self, pod: str) -> ClientConnection:
        """A websocket to `pod`: the spare when it is for that pod and still
        open (waiting for it if it is being opened), else a new one."""
        spare = self._spare
        if spare is not None and spare[0] == pod:
            self._spare = None
            try:
                ws = await spare[1]
            except Exception:  # noqa: BLE001 - opening it failed: a fresh attempt reports why
                ws = None
            if ws is not None and ws.state is State.OPEN:
                return ws
            if ws is not None:
                self._spawn(ws.close())
        return await self._open(pod)

    async def _open(self, pod: str) -> ClientConnection:
        return await open_websocket(self._conn, self._path(pod), ["v4.channel.k8s.io"],
                                    open_timeout=_OPEN_TIMEOUT, max_size=None, compression=None,
                                    close_timeout=2,
                                    # The API server answers pings, so keepalive never drops an idle
                                    # forward (a debugger, a DB pool) but does notice a vanished server.
                                    ping_interval=30, ping_timeout=30)

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
        self._prepare_spare()

    async def stop(self) -> None:
        server, self._server = self._server, None
        self._drop_spare()
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
            while pod is None:  # no ready pod yet: the connection waits for one
                await self._has_pod.wait()
                pod = self._pod
            self._tasks[task] = pod
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
        ws = await self._connection(pod)
        if pod == self._pod:
            self._prepare_spare()  # the next connection's, while this one runs
        async with ws:
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


def _retrieve(task: asyncio.Task[Any]) -> None:
    """Mark a background task's failure as seen (it is reported where it matters)."""
    if not task.cancelled():
        task.exception()


def _status_message(e: InvalidStatus) -> str:
    """The API's Status message (`pods "x" not found`) rather than the raw HTTP code."""
    resp = e.response
    try:
        msg = json.loads(resp.body or b"{}").get("message")
    except ValueError:
        msg = None
    return f"HTTP {resp.status_code}: {msg or (resp.body or b'').decode(errors='replace').strip() or resp.reason_phrase}"
