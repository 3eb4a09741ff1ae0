"""A small async Kubernetes REST client: discovery, server-side apply,
delete, get, watch and log streams.

We speak REST directly (httpx) rather than through a typed client because
Tiltfiles apply arbitrary kinds, CRDs included; discovery maps each
apiVersion/kind to its URL."""
from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from typing import Any, AsyncIterator
from urllib.parse import quote

import httpx

from tiltpy.k8s.connection import ClusterConnection

FIELD_MANAGER = "tiltpy"


class ClusterError(Exception):
    """The cluster refused or could not be reached; the message says which and why."""


class NotFound(ClusterError):
    pass


@dataclass(frozen=True)
class ResourceInfo:
    plural: str
    namespaced: bool
    group_version: str

    def base_path(self) -> str:
        return f"/api/{self.group_version}" if "/" not in self.group_version else f"/apis/{self.group_version}"


class K8sClient:
    def __init__(self, conn: ClusterConnection) -> None:
        self.conn = conn
        self.namespace = conn.namespace or "default"
        timeout = httpx.Timeout(30.0, read=None)
        self._http = httpx.AsyncClient(base_url=conn.server, verify=conn.ssl_context or False,
                                       headers=conn.headers, timeout=timeout)
        self._resources: dict[tuple[str, str], ResourceInfo] = {}
        self._discovery_lock = asyncio.Lock()

    async def close(self) -> None:
        await self._http.aclose()

    async def _request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            response = await self._http.request(method, path, **kwargs)
        except httpx.HTTPError as err:
            raise ClusterError(f"cannot reach the Kubernetes API at {self.conn.server} "
                               f"(context {self.conn.context}): {err or type(err).__name__}") from None
        if response.status_code == 404:
            raise NotFound(_status_message(response))
        if response.status_code >= 400:
            raise ClusterError(_status_message(response))
        return response

    async def check(self) -> str:
        """Contact the API server; returns its version."""
        response = await self._request("GET", "/version")
        return response.json().get("gitVersion", "")

    async def resource_info(self, api_version: str, kind: str) -> ResourceInfo:
        key = (api_version, kind)
        if key in self._resources:
            return self._resources[key]
        async with self._discovery_lock:
            if key not in self._resources:
                path = f"/api/{api_version}" if "/" not in api_version else f"/apis/{api_version}"
                try:
                    listing = (await self._request("GET", path)).json()
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
        response = await self._request(
            "PATCH", path, params={"fieldManager": FIELD_MANAGER, "force": "true"},
            content=json.dumps(obj), headers={"Content-Type": "application/apply-patch+yaml"},
        )
        return response.json()

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
            return (await self._request("GET", await self.object_path(obj))).json()
        except NotFound:
            return None

    async def get_path(self, path: str) -> dict[str, Any]:
        return (await self._request("GET", path)).json()

    async def list_pods(self, namespace: str, selector: str) -> tuple[list[dict[str, Any]], str]:
        data = await self.get_path_params(f"/api/v1/namespaces/{quote(namespace)}/pods", {"labelSelector": selector})
        return data.get("items", []), data.get("metadata", {}).get("resourceVersion", "")

    async def get_path_params(self, path: str, params: dict[str, str]) -> dict[str, Any]:
        return (await self._request("GET", path, params=params)).json()

    async def _stream_lines(self, path: str, params: dict[str, str], what: str) -> AsyncIterator[str]:
        try:
            async with self._http.stream("GET", path, params=params) as response:
                if response.status_code >= 400:
                    await response.aread()
                    raise ClusterError(_status_message(response))
                async for line in response.aiter_lines():
                    yield line
        except httpx.HTTPError as err:
            raise ClusterError(f"{what} broke: {err or type(err).__name__}") from None

    async def watch(self, path: str, params: dict[str, str]) -> AsyncIterator[dict[str, Any]]:
        """Yields watch events ({'type', 'object'}) until the server ends the stream."""
        params = {**params, "watch": "1", "allowWatchBookmarks": "true"}
        async for line in self._stream_lines(path, params, f"watch of {path}"):
            if line:
                yield json.loads(line)

    async def stream_logs(self, namespace: str, pod: str, container: str,
                          since_time: str = "") -> AsyncIterator[str]:
        params = {"container": container, "follow": "true"}
        if since_time:
            params["sinceTime"] = since_time
        path = f"/api/v1/namespaces/{quote(namespace)}/pods/{quote(pod)}/log"
        async for line in self._stream_lines(path, params, f"log stream of pod {pod}"):
            yield line


def _status_message(response: httpx.Response) -> str:
    try:
        body = response.json()
        message = body.get("message") or response.text
    except ValueError:
        message = response.text
    return f"{response.request.method} {response.request.url.path}: {response.status_code} {message}".strip()
