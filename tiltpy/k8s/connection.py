"""How to reach the API server of a kubeconfig context: its URL, the proxy to
go through, and a credentials provider that the REST client (client.py) and
the websocket code (exec.py, portforward.py) ask before every connection."""
from __future__ import annotations

import asyncio
import urllib.parse
from dataclasses import dataclass
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import InvalidStatus

from tiltpy.k8s import kubeconfig
from tiltpy.k8s.credentials import CredentialProvider, CredentialsError, provider_for

_PROXY_SCHEMES = {"http": 80, "https": 443, "socks5": 1080, "socks5h": 1080}


class ClusterConnectionError(Exception):
    """The kubeconfig can't be turned into a connection; str() is for humans."""


@dataclass(frozen=True)
class ClusterConnection:
    server: str  # https://127.0.0.1:6443 (may carry a path prefix behind proxies)
    credentials: CredentialProvider
    namespace: str = "default"
    context: str = ""
    proxy_url: str = ""  # the cluster's proxy-url; "" = the environment's proxy settings, as client-go

    def websocket_url(self, path: str) -> str:
        return self.server.replace("https://", "wss://", 1).replace("http://", "ws://", 1) + path


def _proxy_url(value: Any, cluster: str) -> str:
    if not value:
        return ""
    parsed = urllib.parse.urlsplit(str(value))
    if parsed.scheme not in _PROXY_SCHEMES or not parsed.hostname:
        raise ClusterConnectionError(f"cluster {cluster!r} has an unusable proxy-url {value!r} "
                                     "(http://, https:// or socks5:// with a host)")
    if parsed.port is None:  # httpx and python-socks want the port spelled out
        parsed = parsed._replace(netloc=f"{parsed.netloc}:{_PROXY_SCHEMES[parsed.scheme]}")
    return urllib.parse.urlunsplit(parsed)


def runs_plugins(context: str = "") -> bool:
    """Whether connecting with this context runs a credential plugin (exec or
    auth-provider): such a connection is made only once it is known to be
    needed (a plugin may be slow, or ask the user to log in)."""
    try:
        ctx = kubeconfig.resolve(kubeconfig.load(), context)
    except kubeconfig.KubeconfigError:
        return False
    return bool(ctx.user.data.get("exec") or ctx.user.data.get("auth-provider"))


def load_connection(context: str = "") -> ClusterConnection:
    """The connection kubectl would use for `context` (default: current).
    Blocking (reads files, may run an exec plugin): call it from a thread."""
    try:
        ctx = kubeconfig.resolve(kubeconfig.load(), context)
    except kubeconfig.KubeconfigError as err:
        raise ClusterConnectionError(str(err)) from None
    server = str(ctx.cluster.data.get("server") or "").rstrip("/")
    if not server.startswith(("https://", "http://")):
        raise ClusterConnectionError(f"cluster {ctx.cluster_name!r} has no usable server URL ({server!r})")
    try:
        provider = provider_for(ctx, server)
        provider.current_blocking()  # a bad file or plugin is reported now, not at the first request
    except CredentialsError as err:
        raise ClusterConnectionError(f"credentials of context {ctx.name!r}: {err}") from None
    return ClusterConnection(server=server, credentials=provider, namespace=ctx.namespace, context=ctx.name,
                             proxy_url=_proxy_url(ctx.cluster.data.get("proxy-url"), ctx.cluster_name))


async def open_websocket(conn: ClusterConnection, path: str, subprotocols: list[str], *, open_timeout: float,
                         **options: Any) -> ClientConnection:
    """A websocket to `path` (with its query) on the API server, with the
    current credentials, through the cluster's proxy. A 401 refreshes the
    credentials and tries once more. Raises CredentialsError, InvalidStatus,
    InvalidHandshake or OSError (TimeoutError included)."""
    url = conn.websocket_url(path)
    for attempt in (1, 2):
        creds = await conn.credentials.current()
        kwargs: dict[str, Any] = dict(ssl=creds.ssl_context, additional_headers=creds.headers,
                                      subprotocols=subprotocols, open_timeout=open_timeout, **options)
        if conn.proxy_url.startswith("socks5"):
            kwargs["sock"] = await _socks_socket(conn, open_timeout)
        else:
            kwargs["proxy"] = conn.proxy_url or True  # True: HTTPS_PROXY & co., as httpx and client-go
        try:
            return await connect(url, **kwargs)
        except InvalidStatus as err:
            if err.response.status_code == 401 and attempt == 1 and conn.credentials.invalidate(creds):
                continue
            raise
    raise AssertionError("unreachable")


async def _socks_socket(conn: ClusterConnection, timeout: float) -> Any:
    """A TCP connection to the API server through the SOCKS5 proxy-url. Host
    names are resolved by the proxy, as client-go's dialer does."""
    from python_socks import ProxyError, ProxyType  # only SOCKS proxies need it
    from python_socks.async_.asyncio import Proxy as SocksProxy

    proxy = urllib.parse.urlsplit(conn.proxy_url)
    target = urllib.parse.urlsplit(conn.server)
    socks = SocksProxy(ProxyType.SOCKS5, proxy.hostname or "", proxy.port or 1080,
                       urllib.parse.unquote(proxy.username) if proxy.username else None,
                       urllib.parse.unquote(proxy.password) if proxy.password else None, rdns=True)
    try:
        async with asyncio.timeout(timeout):
            return await socks.connect(target.hostname or "", target.port or (443 if target.scheme == "https" else 80))
    except ProxyError as err:  # the proxy refused: as much a connection failure as a refused port
        raise ConnectionError(f"SOCKS proxy {proxy.hostname}:{proxy.port}: {err}") from None
