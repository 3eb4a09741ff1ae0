"""Running a command in a container through the API server's exec
subresource over websockets.

Channels (`vN.channel.k8s.io`): 0 stdin, 1 stdout, 2 stderr, 3 the final
status (JSON), 255 close-a-stream (v5 only). Kubernetes before 1.29 offers
v4 at most, where stdin can never be closed: callers that stream data in
must make the command stop reading by itself (see `v5` below)."""
from __future__ import annotations

import json
import urllib.parse
from dataclasses import dataclass
from typing import Callable, Sequence

from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus

from tiltpy.k8s.connection import ClusterConnection, open_websocket
from tiltpy.k8s.credentials import CredentialsError

_STDIN, _STDOUT, _STDERR, _STATUS, _CLOSE = 0, 1, 2, 3, 255
_CHUNK = 256 * 1024
_OPEN_TIMEOUT = 15.0


class ExecError(Exception):
    """The exec itself failed (no such pod/container, no shell): infrastructure."""


@dataclass(frozen=True)
class ExecResult:
    exit_code: int
    stdout: str
    stderr: str
    v5: bool  # whether stdin could be closed


def _exit_code(status: dict) -> int:
    if status.get("status") == "Success":
        return 0
    for cause in (status.get("details") or {}).get("causes") or []:
        if cause.get("reason") == "ExitCode":
            try:
                return int(cause.get("message", "1"))
            except ValueError:
                return 1
    raise ExecError(status.get("message") or json.dumps(status))


async def exec_in_container(conn: ClusterConnection, namespace: str, pod: str, container: str,
                            argv: Sequence[str] | Callable[[bool], Sequence[str]], *, stdin: bytes | None = None,
                            on_output: Callable[[str], None] | None = None) -> ExecResult:
    """Run argv in the container. `argv` may be a function of `v5` (whether
    stdin can be closed) so the caller can pick a command that terminates on
    a v4-only cluster."""
    ns, name = (urllib.parse.quote(s, safe="") for s in (namespace, pod))
    protocols = ["v5.channel.k8s.io", "v4.channel.k8s.io"]
    # The command is only known once the protocol is; v5 support is cached per server.
    v5 = _V5_SUPPORT.get(conn.server)
    if v5 is None:
        v5 = await _probe_v5(conn, ns, name, container)
    command = argv(v5) if callable(argv) else list(argv)
    params = [("container", container), ("stdout", "true"), ("stderr", "true")]
    if stdin is not None:
        params.append(("stdin", "true"))
    params += [("command", part) for part in command]
    path = f"/api/v1/namespaces/{ns}/pods/{name}/exec?{urllib.parse.urlencode(params)}"
    out: list[str] = []
    err: list[str] = []
    try:
        async with await open_websocket(conn, path, protocols if v5 else protocols[1:], open_timeout=_OPEN_TIMEOUT,
                                        max_size=None, compression=None) as ws:
            if stdin is not None:
                for offset in range(0, len(stdin), _CHUNK):
                    await ws.send(bytes([_STDIN]) + stdin[offset:offset + _CHUNK])
                if v5:
                    await ws.send(bytes([_CLOSE, _STDIN]))
            status: dict | None = None
            try:
                async for frame in ws:
                    if isinstance(frame, str) or not frame:
                        continue
                    channel, payload = frame[0], frame[1:]
                    if channel in (_STDOUT, _STDERR):
                        text = payload.decode(errors="replace")
                        (out if channel == _STDOUT else err).append(text)
                        if on_output:
                            on_output(text)
                    elif channel == _STATUS and payload:
                        status = json.loads(payload)
            except ConnectionClosed:
                pass
    except InvalidStatus as e:
        raise ExecError(f"exec in {namespace}/{pod}/{container} refused: HTTP {e.response.status_code} "
                        f"{e.response.body.decode(errors='replace')[:300] if e.response.body else ''}") from None
    except (InvalidHandshake, OSError, CredentialsError) as e:
        raise ExecError(f"exec in {namespace}/{pod}/{container} failed: {_describe(e)}") from None
    if status is None:
        raise ExecError(f"exec in {namespace}/{pod}/{container} ended without a status")
    return ExecResult(_exit_code(status), "".join(out), "".join(err), v5)


_V5_SUPPORT: dict[str, bool] = {}


async def _probe_v5(conn: ClusterConnection, ns: str, name: str, container: str) -> bool:
    """Ask for v5 with a no-op command and see what the server agrees to."""
    params = urllib.parse.urlencode([("container", container), ("stdout", "true"), ("command", "true")])
    path = f"/api/v1/namespaces/{ns}/pods/{name}/exec?{params}"
    try:
        async with await open_websocket(conn, path, ["v5.channel.k8s.io", "v4.channel.k8s.io"],
                                        open_timeout=_OPEN_TIMEOUT, max_size=None, compression=None) as ws:
            supported = ws.subprotocol == "v5.channel.k8s.io"
            try:
                async for _ in ws:
                    pass
            except ConnectionClosed:
                pass
    except InvalidStatus as e:
        raise ExecError(f"exec in {ns}/{name}/{container} refused: HTTP {e.response.status_code} "
                        f"{e.response.body.decode(errors='replace')[:300] if e.response.body else ''}") from None
    except (InvalidHandshake, OSError, CredentialsError) as e:
        raise ExecError(f"exec in {ns}/{name}/{container} failed: {_describe(e)}") from None
    _V5_SUPPORT[conn.server] = supported
    return supported


def _describe(e: BaseException) -> str:
    if isinstance(e, TimeoutError):
        return f"no answer from the API server within {_OPEN_TIMEOUT:.0f} s"
    return str(e) or type(e).__name__
