"""A small async Kubernetes REST client: discovery, server-side apply,
delete, get, watch and log streams.

We speak REST directly (httpx) rather than through a typed client because
Tiltfiles apply arbitrary kinds, CRDs included; discovery maps each
apiVersion/kind to its URL."""
from __future__ import annotations

import asyncio
import json
import ssl
from dataclasses import dataclass
from typing import Any, AsyncIterator
from urllib.parse import quote

import httpx

from tiltpy.k8s import raw_stream
from tiltpy.k8s.connection import ClusterConnection
from tiltpy.k8s.credentials import Credentials, CredentialsError

FIELD_MANAGER = "tiltpy"
# Every request gets an answer or a clear error: connect within 10 s, the
# answer within 60 s. Watches and log streams wait for data as long as it
# takes (read=None) but still must connect in time.
REQUEST_TIMEOUT = httpx.Timeout(connect=10.0, read=60.0, write=60.0, pool=60.0)
STREAM_TIMEOUT = httpx.Timeout(connect=10.0, read=None, write=60.0, pool=60.0)
# A log line longer than this (no newline in sight) is handed on in pieces:
# the log store cuts lines at 16 KiB anyway, and memory must stay bounded.
MAX_LOG_LINE_BYTES = 1 << 20


class ClusterError(Exception):
    """The cluster refused or could not be reached; the message says which and why."""


class NotFound(ClusterError):
    pass


class Forbidden(ClusterError):
    """403: the user may not do this (RBAC)."""


@dataclass(frozen=True)
class ResourceInfo:
    plural: str
    namespaced: bool
    group_version: str

    def base_path(self) -> str:
        return f"/api/{self.group_version}" if "/" not in self.group_version else f"/apis/{self.group_version}"


class _Session:
    """An httpx client for one TLS identity. When the client certificate
    changes (an exec plugin's or a rotated file) new requests get a new
    session; the old one is closed once its last request or stream ends."""

    def __init__(self, conn: ClusterConnection, ssl_context: Any) -> None:
        self.ssl_context = ssl_context
        # No connection limit: every watch and log stream holds a connection
        # for as long as it runs, and they must never starve short requests.
        self.http = httpx.AsyncClient(base_url=conn.server, verify=ssl_context or False,
                                      proxy=conn.proxy_url or None, timeout=REQUEST_TIMEOUT,
                                      limits=httpx.Limits(max_connections=None, max_keepalive_connections=20))
        self.users = 0
        self.retired = False


class K8sClient:
    def __init__(self, conn: ClusterConnection) -> None:
        self.conn = conn
        self.namespace = conn.namespace or "default"
        self._session: _Session | None = None
        self._sessions: set[_Session] = set()
        self._closing: set[asyncio.Task[None]] = set()
        self._resources: dict[tuple[str, str], ResourceInfo] = {}
        self._discovery_lock = asyncio.Lock()

    async def close(self) -> None:
        sessions, self._sessions, self._session = list(self._sessions), set(), None
        for session in sessions:
            await session.http.aclose()

    async def _credentials(self) -> Credentials:
        try:
            return await self.conn.credentials.current()
        except CredentialsError as err:
            raise ClusterError(f"credentials of context {self.conn.context}: {err}") from None

    def _session_for(self, creds: Credentials) -> _Session:
        session = self._session
        if session is None or session.ssl_context is not creds.ssl_context:
            if session is not None:
                session.retired = True
                if session.users == 0:
                    self._sessions.discard(session)
                    task = asyncio.get_running_loop().create_task(session.http.aclose())
                    self._closing.add(task)
                    task.add_done_callback(self._closing.discard)
            session = self._session = _Session(self.conn, creds.ssl_context)
            self._sessions.add(session)
        return session

    async def _release(self, session: _Session) -> None:
        session.users -= 1
        if session.retired and session.users == 0 and session in self._sessions:
            self._sessions.discard(session)
            await session.http.aclose()

    async def _send(self, method: str, path: str, *, stream: bool = False,
                    **kwargs: Any) -> tuple[httpx.Response, _Session]:
        """The response to a request sent with the current credentials; on a
        401, fresh credentials and one more try. The caller releases the session."""
        extra_headers = kwargs.pop("headers", None) or {}
        for attempt in (1, 2):
            creds = await self._credentials()
            session = self._session_for(creds)
            session.users += 1
            try:
                request = session.http.build_request(method, path, headers={**creds.headers, **extra_headers},
                                                     timeout=STREAM_TIMEOUT if stream else REQUEST_TIMEOUT, **kwargs)
                response = await session.http.send(request, stream=stream)
            except httpx.HTTPError as err:
                await self._release(session)
                raise ClusterError(self._explain(err, method, path)) from None
            except BaseException:
                await self._release(session)
                raise
            if response.status_code == 401 and attempt == 1 and self.conn.credentials.invalidate(creds):
                await response.aclose()
                await self._release(session)
                continue
            return response, session
        raise AssertionError("unreachable")

    def _explain(self, err: httpx.HTTPError, method: str, path: str) -> str:
        where = f"the Kubernetes API at {self.conn.server} (context {self.conn.context})"
        if isinstance(err, httpx.ConnectTimeout):
            return f"cannot reach {where}: no connection within {REQUEST_TIMEOUT.connect:g} s"
        if isinstance(err, httpx.ReadTimeout):
            return f"{where} did not answer {method} {path} within {REQUEST_TIMEOUT.read:g} s"
        if isinstance(err, httpx.WriteTimeout):
            return f"cannot send {method} {path} to {where}: stalled for {REQUEST_TIMEOUT.write:g} s"
        if isinstance(err, httpx.PoolTimeout):
            return f"no free connection to {where} within {REQUEST_TIMEOUT.pool:g} s"
        return f"cannot reach {where}: {err or type(err).__name__}"

    async def _request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        response, session = await self._send(method, path, **kwargs)
        await self._release(session)
        _raise_for_status(response, self.conn.context)
        return response

    async def _request_json(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        response = await self._request(method, path, **kwargs)
        try:
            data = response.json()
        except ValueError:
            raise ClusterError(f"{method} {path}: the answer is not JSON: {response.text[:200]!r}") from None
        if not isinstance(data, dict):
            raise ClusterError(f"{method} {path}: unexpected answer {response.text[:200]!r}")
        return data

    async def check(self) -> str:
        """Contact the API server; returns its version."""
        return str((await self._request_json("GET", "/version")).get("gitVersion", ""))

    async def resource_info(self, api_version: str, kind: str) -> ResourceInfo:
        key = (api_version, kind)
        if key in self._resources:
            return self._resources[key]
        async with self._discovery_lock:
            if key not in self._resources:
                path = f"/api/{api_version}" if "/" not in api_version else f"/apis/{api_version}"
                try:
                    listing = await self._request_json("GET", path)
                except NotFound:
                    raise ClusterError(f"the cluster does not know apiVersion {api_version} (for kind {kind}); "
                                       "is its CRD installed?") from None
                for res in listing.get("resources", []):
                    if "/" not in res["name"]:
                        self._resources[(api_version, res["kind"])] = ResourceInfo(
                            res["name"], res["namespaced"], api_version)
        if key not in self._resources:
            raise ClusterError(f"the cluster has no kind {kind} in {api_version}")
        return self._resources[key]

    async def object_path(self, obj: dict[str, Any]) -> str:
        info = await self.resource_info(obj["apiVersion"], obj["kind"])
        meta = obj.get("metadata") or {}
        path = info.base_path()
        if info.namespaced:
            path += f"/namespaces/{quote(meta.get('namespace') or self.namespace)}"
        return f"{path}/{info.plural}/{quote(meta['name'])}"

    async def apply(self, obj: dict[str, Any]) -> dict[str, Any]:
        """Server-side apply, taking ownership of the fields we set (force)."""
        path = await self.object_path(obj)
        return await self._request_json(
            "PATCH", path, params={"fieldManager": FIELD_MANAGER, "force": "true"},
            content=json.dumps(obj), headers={"Content-Type": "application/apply-patch+yaml"},
        )

    async def delete(self, obj: dict[str, Any]) -> bool:
        path = await self.object_path(obj)
        try:
            await self._request("DELETE", path, content=json.dumps({"propagationPolicy": "Background"}),
                                headers={"Content-Type": "application/json"})
            return True
        except NotFound:
            return False

    async def get(self, obj: dict[str, Any]) -> dict[str, Any] | None:
        try:
            return await self._request_json("GET", await self.object_path(obj))
        except NotFound:
            return None

    async def get_path(self, path: str) -> dict[str, Any]:
        return await self._request_json("GET", path)

    async def list_pods(self, namespace: str, selector: str) -> tuple[list[dict[str, Any]], str]:
        data = await self.get_path_params(f"/api/v1/namespaces/{quote(namespace)}/pods", {"labelSelector": selector})
        return data.get("items", []), data.get("metadata", {}).get("resourceVersion", "")

    async def get_path_params(self, path: str, params: dict[str, str]) -> dict[str, Any]:
        return await self._request_json("GET", path, params=params)

    async def _stream_lines(self, path: str, params: dict[str, str], what: str) -> AsyncIterator[str]:
        response, session = await self._send("GET", path, stream=True, params=params)
        try:
            if response.status_code >= 400:
                await response.aread()
                _raise_for_status(response, self.conn.context)
            async for line in response.aiter_lines():
                yield line
        except httpx.HTTPError as err:
            raise ClusterError(f"{what} broke: {err or type(err).__name__}") from None
        finally:
            await response.aclose()
            await self._release(session)

    async def watch(self, path: str, params: dict[str, str]) -> AsyncIterator[dict[str, Any]]:
        """Yields watch events ({'type', 'object'}) until the server ends the stream."""
        params = {**params, "watch": "1", "allowWatchBookmarks": "true"}
        async for line in self._stream_lines(path, params, f"watch of {path}"):
            if line:
                try:
                    event = json.loads(line)
                except ValueError:
                    raise ClusterError(f"watch of {path}: not a JSON event: {line[:200]!r}") from None
                yield event

    async def stream_logs(self, namespace: str, pod: str, container: str,
                          since_time: str = "", timestamps: bool = False) -> AsyncIterator[str]:
        async for batch in self.stream_log_batches(namespace, pod, container, since_time, timestamps):
            for line in batch:
                yield line

    async def stream_log_batches(self, namespace: str, pod: str, container: str, since_time: str = "",
                                 timestamps: bool = False) -> AsyncIterator[list[str]]:
        """A container's log (followed), a list of lines per network read.
        Directly reached servers are read through raw_stream (cost per block,
        not per line); through a proxy, httpx."""
        params = {"container": container, "follow": "true"}
        if since_time:
            params["sinceTime"] = since_time
        if timestamps:
            params["timestamps"] = "true"
        path = f"/api/v1/namespaces/{quote(namespace)}/pods/{quote(pod)}/log"
        what = f"log stream of pod {pod}"
        if not raw_stream.usable(self.conn):
            async for line in self._stream_lines(path, params, what):
                yield [line]
            return
        response = await self._open_raw(path, params)
        try:
            partial = b""
            async for block in response.body():
                lines, partial = raw_stream.split_lines(partial, block, MAX_LOG_LINE_BYTES)
                if lines:
                    yield [line.decode("utf-8", "replace").rstrip("\r") for line in lines]
            if partial:
                yield [partial.decode("utf-8", "replace").rstrip("\r")]
        except (raw_stream.RawStreamError, OSError, ssl.SSLError) as err:
            raise ClusterError(f"{what} broke: {err or type(err).__name__}") from None
        finally:
            response.close()

    async def _open_raw(self, path: str, params: dict[str, str]) -> raw_stream.RawResponse:
        """A streaming GET on a connection of its own; errors as the httpx path
        gives them (ClusterError, Forbidden, NotFound), one retry after a 401."""
        for attempt in (1, 2):
            creds = await self._credentials()
            try:
                response = await raw_stream.open_get(self.conn, creds, path, params,
                                                     connect_timeout=STREAM_TIMEOUT.connect or 10.0)
            except TimeoutError:
                raise ClusterError(f"cannot reach the Kubernetes API at {self.conn.server} (context "
                                   f"{self.conn.context}): no connection within {STREAM_TIMEOUT.connect:g} s") from None
            except (raw_stream.RawStreamError, OSError, ssl.SSLError) as err:
                raise ClusterError(f"cannot reach the Kubernetes API at {self.conn.server} (context "
                                   f"{self.conn.context}): {err or type(err).__name__}") from None
            if response.status < 400:
                return response
            try:
                body = await response.read_all()
            except (raw_stream.RawStreamError, OSError, ssl.SSLError):
                body = b""
            finally:
                response.close()
            if response.status == 401 and attempt == 1 and self.conn.credentials.invalidate(creds):
                continue
            message = raw_stream.status_message(response.status, body, path)
            if response.status == 401:
                raise ClusterError(f"{message} (the API server refused the credentials of context {self.conn.context})")
            raise {403: Forbidden, 404: NotFound}.get(response.status, ClusterError)(message)
        raise AssertionError("unreachable")


def _raise_for_status(response: httpx.Response, context: str) -> None:
    if response.status_code < 400:
        return
    message = _status_message(response)
    if response.status_code == 401:
        raise ClusterError(f"{message} (the API server refused the credentials of context {context})")
    if response.status_code == 403:
        raise Forbidden(message)
    if response.status_code == 404:
        raise NotFound(message)
    raise ClusterError(message)


def _status_message(response: httpx.Response) -> str:
    try:
        body = response.json()
        message = (body.get("message") if isinstance(body, dict) else None) or response.text
    except ValueError:
        message = response.text
    return f"{response.request.method} {response.request.url.path}: {response.status_code} {message}".strip()
