"""Credentials for the API server that stay valid for the life of `up`.

A `CredentialProvider` is asked for the current `Credentials` (auth headers
and the TLS context) before every request and every websocket, never
captured once: an exec plugin's token is renewed shortly before its
`expirationTimestamp` and after a 401, a `tokenFile` and client-certificate
files are re-read when they change, the way client-go does. Plugin runs and
file reads happen in a worker thread; concurrent callers share one refresh."""
from __future__ import annotations

import asyncio
import base64
import json
import os
import ssl
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Callable

from tiltpy.k8s.kubeconfig import ResolvedContext, resolve_path

EXEC_API_VERSIONS = ("client.authentication.k8s.io/v1", "client.authentication.k8s.io/v1beta1",
                     "client.authentication.k8s.io/v1alpha1")
# A plugin's token is renewed a little before it expires: a tenth of its
# lifetime, at most this many seconds (a 5 s token is renewed after 4.5 s).
MAX_EXPIRY_SKEW = 10.0
# Watched files (tokenFile, client certificate files) are checked for changes
# at most this often, and re-read at least every minute (client-go's period).
FILE_CHECK_INTERVAL = 1.0
FILE_REREAD_INTERVAL = 60.0
PLUGIN_TIMEOUT = 120.0


class CredentialsError(Exception):
    """Credentials can't be had (plugin failed, file unreadable); str() is for humans."""


@dataclass(frozen=True)
class Credentials:
    headers: dict[str, str] = field(repr=False)  # secrets: kept out of logs
    ssl_context: ssl.SSLContext | None  # None for plain http:// servers; a new object when the identity changes


@dataclass(frozen=True)
class TlsSettings:
    ca: bytes | None  # the cluster's CA; None: the system's roots
    insecure: bool  # insecure-skip-tls-verify
    server_name: str  # tls-server-name: sent as SNI and verified instead of the URL's host


class _ServerNameContext(ssl.SSLContext):
    """An SSL context that uses `tls_server_name` (when set) for every
    connection it makes, whatever host name the HTTP or websocket library
    passes: SNI and certificate verification both follow kubeconfig's
    tls-server-name, also through proxies."""
    tls_server_name = ""

    def wrap_socket(self, sock: Any, server_side: bool = False, do_handshake_on_connect: bool = True,
                    suppress_ragged_eofs: bool = True, server_hostname: Any = None,
                    session: Any = None) -> ssl.SSLSocket:
        return super().wrap_socket(sock, server_side, do_handshake_on_connect, suppress_ragged_eofs,
                                   self.tls_server_name or server_hostname, session)

    def wrap_bio(self, incoming: ssl.MemoryBIO, outgoing: ssl.MemoryBIO, server_side: bool = False,
                 server_hostname: Any = None, session: Any = None) -> ssl.SSLObject:
        return super().wrap_bio(incoming, outgoing, server_side, self.tls_server_name or server_hostname, session)


def build_ssl_context(tls: TlsSettings, cert: bytes | None = None, key: bytes | None = None) -> ssl.SSLContext:
    ctx = _ServerNameContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.tls_server_name = tls.server_name
    if tls.insecure:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    elif tls.ca is not None:
        # A cluster CA replaces the system roots, as in client-go.
        try:
            ctx.load_verify_locations(cadata=tls.ca.decode("ascii", errors="replace"))
        except (ssl.SSLError, ValueError) as e:
            raise CredentialsError(f"cannot load the cluster's certificate authority: {e}") from e
    else:
        ctx.load_default_certs(ssl.Purpose.SERVER_AUTH)
    if cert is not None and key is not None:
        _load_client_cert(ctx, cert, key)
    return ctx


def _load_client_cert(ctx: ssl.SSLContext, cert: bytes, key: bytes) -> None:
    # ssl can only load a certificate chain from files: write both to private
    # (0600, mkstemp's default) temp files and remove them right after loading.
    paths: list[str] = []
    try:
        for blob in (cert, key):
            fd, path = tempfile.mkstemp(prefix="tiltpy-kube-", suffix=".pem")
            paths.append(path)
            with os.fdopen(fd, "wb") as f:
                f.write(blob)
        ctx.load_cert_chain(paths[0], paths[1])
    except (OSError, ssl.SSLError) as e:
        raise CredentialsError(f"cannot load client certificate/key: {e}") from e
    finally:
        for path in paths:
            try:
                os.unlink(path)
            except OSError:
                pass


def decode_data(value: Any, what: str) -> bytes:
    try:
        return base64.b64decode(str(value), validate=False)
    except ValueError as e:
        raise CredentialsError(f"cannot decode {what}: {e}") from e


def read_file(path: str, what: str) -> bytes:
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError as e:
        raise CredentialsError(f"cannot read {what} {path}: {e.strerror or e}") from e


class WatchedFile:
    """A file whose content may be replaced while we run (a rotated token or
    certificate). Blocking; called from the provider's worker thread."""

    def __init__(self, path: str, what: str) -> None:
        self.path = path
        self.what = what
        self.content: bytes | None = None
        self._stamp: tuple[int, int, int] | None = None
        self._read_at = float("-inf")

    def refresh(self, now: float, force: bool = False) -> bool:
        """Re-read when changed (or forced, or a minute old); True if the
        content changed. Keeps the last good content when a re-read fails."""
        try:
            st = os.stat(self.path)
            stamp = (st.st_mtime_ns, st.st_size, st.st_ino)
        except OSError as e:
            if self.content is None:
                raise CredentialsError(f"cannot read {self.what} {self.path}: {e.strerror or e}") from e
            return False
        if not force and stamp == self._stamp and now < self._read_at + FILE_REREAD_INTERVAL:
            return False
        try:
            content = read_file(self.path, self.what)
        except CredentialsError:
            if self.content is None:
                raise
            return False
        self._stamp, self._read_at = stamp, now
        changed, self.content = content != self.content, content
        return changed


@dataclass(frozen=True)
class ExecCredential:
    token: str
    cert: bytes | None
    key: bytes | None
    expires_at: float | None  # epoch seconds; None: valid until the server says 401


class ExecPlugin:
    """A client-go credential plugin (GKE, EKS, AKS, OIDC helpers, ...): a
    command that prints an ExecCredential."""

    def __init__(self, spec: dict[str, Any], base: str, cluster_info: dict[str, Any]) -> None:
        command = str(spec.get("command") or "")
        if not command:
            raise CredentialsError("exec plugin has no command")
        if os.sep in command and not os.path.isabs(command):
            command = resolve_path(command, base)  # relative to the kubeconfig, like client-go
        self.argv = [command] + [str(a) for a in spec.get("args") or []]
        self.api_version = str(spec.get("apiVersion") or "client.authentication.k8s.io/v1beta1")
        if self.api_version not in EXEC_API_VERSIONS:
            raise CredentialsError(f"exec plugin {command}: unsupported apiVersion {self.api_version!r} "
                                   f"(known: {', '.join(EXEC_API_VERSIONS)})")
        if spec.get("interactiveMode") == "Always":
            raise CredentialsError(f"exec plugin {command} needs an interactive terminal (interactiveMode: Always), "
                                   "which tiltpy does not give it")
        self.env = {str(e["name"]): str(e.get("value", "")) for e in spec.get("env") or []
                    if isinstance(e, dict) and "name" in e}
        self.install_hint = str(spec.get("installHint") or "")
        self.cluster_info = cluster_info if spec.get("provideClusterInfo") else None

    def exec_info(self) -> dict[str, Any]:
        spec: dict[str, Any] = {"interactive": False}
        if self.cluster_info is not None:
            spec["cluster"] = self.cluster_info
        return {"apiVersion": self.api_version, "kind": "ExecCredential", "spec": spec}

    def run(self) -> ExecCredential:
        """Blocking: run the plugin once and parse what it printed."""
        env = {**os.environ, **self.env, "KUBERNETES_EXEC_INFO": json.dumps(self.exec_info())}
        name = self.argv[0]
        try:
            proc = subprocess.run(self.argv, env=env, stdin=subprocess.DEVNULL, capture_output=True,
                                  timeout=PLUGIN_TIMEOUT)
        except FileNotFoundError:
            hint = f"; {self.install_hint.strip()}" if self.install_hint else ""
            raise CredentialsError(f"exec plugin {name} not found{hint}") from None
        except subprocess.TimeoutExpired:
            raise CredentialsError(f"exec plugin {name} did not finish within {PLUGIN_TIMEOUT:.0f} s") from None
        except OSError as e:
            raise CredentialsError(f"cannot run exec plugin {name}: {e.strerror or e}") from None
        if proc.returncode != 0:
            stderr = proc.stderr.decode(errors="replace").strip()
            raise CredentialsError(f"exec plugin {name} exited with code {proc.returncode}"
                                   + (f": {stderr[-500:]}" if stderr else ""))
        return parse_exec_credential(proc.stdout, self.api_version, name)


def parse_exec_credential(output: bytes, api_version: str, name: str) -> ExecCredential:
    try:
        doc = json.loads(output)
    except ValueError as e:
        raise CredentialsError(f"exec plugin {name} printed no ExecCredential JSON: {e}") from None
    if not isinstance(doc, dict) or doc.get("kind") != "ExecCredential":
        raise CredentialsError(f"exec plugin {name} printed no ExecCredential (kind {doc.get('kind')!r})"
                               if isinstance(doc, dict) else f"exec plugin {name} printed no ExecCredential")
    if doc.get("apiVersion") != api_version:
        raise CredentialsError(f"exec plugin {name} answered with apiVersion {doc.get('apiVersion')!r}; "
                               f"the kubeconfig asks for {api_version!r}")
    status = doc.get("status") or {}
    token = str(status.get("token") or "")
    cert_data, key_data = status.get("clientCertificateData"), status.get("clientKeyData")
    if bool(cert_data) != bool(key_data):
        raise CredentialsError(f"exec plugin {name} returned a client certificate without a key (or vice versa)")
    if not token and not cert_data:
        raise CredentialsError(f"exec plugin {name} returned neither a token nor a client certificate")
    expires_at = None
    if status.get("expirationTimestamp"):
        try:
            expires_at = datetime.fromisoformat(str(status["expirationTimestamp"])).timestamp()
        except ValueError:
            raise CredentialsError(f"exec plugin {name} returned a bad expirationTimestamp "
                                   f"{status['expirationTimestamp']!r}") from None
    return ExecCredential(token=token, cert=str(cert_data).encode() if cert_data else None,
                          key=str(key_data).encode() if key_data else None, expires_at=expires_at)


class CredentialProvider:
    """What the REST client and the websocket code ask before each request.
    `current()` is cheap when nothing is due; `invalidate()` after a 401."""

    def __init__(self, *, server: str, user: str, tls: TlsSettings | None, token: str = "",
                 basic: tuple[str, str] | None = None, token_file: WatchedFile | None = None,
                 cert: bytes | None = None, key: bytes | None = None,
                 cert_files: tuple[WatchedFile, WatchedFile] | None = None, plugin: ExecPlugin | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        self.server = server
        self.user = user
        self._tls = tls
        self._token = token
        self._basic = basic
        self._token_file = token_file
        self._cert, self._key = cert, key
        self._cert_files = cert_files
        self._plugin = plugin
        self._clock = clock
        self._files = [f for f in (token_file, *(cert_files or ())) if f is not None]
        self._creds: Credentials | None = None
        self._stale: Credentials | None = None  # answered 401: refresh before using them again
        self._generation = 0  # refreshes so far
        self._files_checked_at = float("-inf")
        self._exec: ExecCredential | None = None
        self._exec_refresh_at = float("inf")
        self._ssl_cache: tuple[tuple[bytes | None, bytes | None], ssl.SSLContext | None] | None = None
        self._lock: tuple[asyncio.AbstractEventLoop, asyncio.Lock] | None = None
        self.plugin_runs = 0

    @property
    def refreshable(self) -> bool:
        """Whether new credentials may differ (so a 401 is worth a retry)."""
        return bool(self._plugin or self._files)

    def _due(self, now: float) -> bool:
        if self._creds is None or (self._stale is not None and self._stale is self._creds):
            return True
        if self._plugin is not None and now >= self._exec_refresh_at:
            return True
        return bool(self._files) and now >= self._files_checked_at + FILE_CHECK_INTERVAL

    async def current(self) -> Credentials:
        creds = self._creds
        if creds is not None and not self._due(self._clock()):
            return creds
        generation = self._generation
        loop = asyncio.get_running_loop()
        if self._lock is None or self._lock[0] is not loop:  # a lock belongs to one event loop
            self._lock = (loop, asyncio.Lock())
        async with self._lock[1]:
            # Whoever waited while another caller refreshed takes that result.
            if self._creds is None or (self._generation == generation and self._due(self._clock())):
                self._creds = await asyncio.to_thread(self._refresh)
                self._generation += 1
            return self._creds

    def current_blocking(self) -> Credentials:
        """For setup code that runs in a worker thread before the loop uses the provider."""
        if self._creds is None or self._due(self._clock()):
            self._creds = self._refresh()
        return self._creds

    def invalidate(self, used: Credentials) -> bool:
        """The server answered 401 to `used`. Marks them stale (unless a newer
        set already replaced them) so the next current() refreshes; returns
        whether retrying with new credentials can help."""
        if not self.refreshable:
            return False
        if self._creds is used:
            self._stale = used
        return True

    def _refresh(self) -> Credentials:
        """Blocking: re-read what is due and build the headers and TLS context."""
        now = self._clock()
        forced = self._stale is not None and self._stale is self._creds
        self._stale = None
        if self._files and (forced or now >= self._files_checked_at + FILE_CHECK_INTERVAL):
            for f in self._files:
                f.refresh(now, force=forced)
            self._files_checked_at = now
        if self._plugin is not None and (forced or self._exec is None or now >= self._exec_refresh_at):
            self._exec = self._plugin.run()
            self.plugin_runs += 1
            self._exec_refresh_at = _refresh_time(now, self._exec.expires_at)
        headers: dict[str, str] = {}
        token = self._token
        if self._token_file is not None and self._token_file.content is not None:
            token = self._token_file.content.decode(errors="replace").strip() or token
        if self._exec is not None and self._exec.token:
            token = self._exec.token
        if token:
            headers["Authorization"] = f"Bearer {token}"
        elif self._basic is not None:
            basic = base64.b64encode(f"{self._basic[0]}:{self._basic[1]}".encode()).decode()
            headers["Authorization"] = f"Basic {basic}"
        cert, key = self._cert, self._key
        if self._cert_files is not None:
            cert, key = self._cert_files[0].content, self._cert_files[1].content
        if self._exec is not None and self._exec.cert:
            cert, key = self._exec.cert, self._exec.key
        ssl_context = self._ssl_context(cert, key)
        previous = self._creds
        if previous is not None and previous.headers == headers and previous.ssl_context is ssl_context:
            return previous  # the same object, so a 401 to it still marks it stale (see invalidate)
        return Credentials(headers=headers, ssl_context=ssl_context)

    def _ssl_context(self, cert: bytes | None, key: bytes | None) -> ssl.SSLContext | None:
        if self._tls is None:
            return None
        if self._ssl_cache is None or self._ssl_cache[0] != (cert, key):
            self._ssl_cache = ((cert, key), build_ssl_context(self._tls, cert, key))
        return self._ssl_cache[1]


def _refresh_time(now: float, expires_at: float | None) -> float:
    if expires_at is None:
        return float("inf")
    skew = min(MAX_EXPIRY_SKEW, max(0.0, expires_at - now) / 10)
    return expires_at - skew


def provider_for(ctx: ResolvedContext, server: str, clock: Callable[[], float] = time.time) -> CredentialProvider:
    """The provider for a resolved kubeconfig context. Static material (CA,
    certificate data) is read here; files and plugins on first use."""
    cluster, cbase = ctx.cluster.data, ctx.cluster.base
    user, ubase = ctx.user.data, ctx.user.base
    tls: TlsSettings | None = None
    ca: bytes | None = None
    if cluster.get("certificate-authority-data"):
        ca = decode_data(cluster["certificate-authority-data"], "certificate-authority-data")
    elif cluster.get("certificate-authority"):
        ca = read_file(resolve_path(str(cluster["certificate-authority"]), cbase), "certificate authority")
    if server.startswith("https://"):
        tls = TlsSettings(ca=None if cluster.get("insecure-skip-tls-verify") else ca,
                          insecure=bool(cluster.get("insecure-skip-tls-verify")),
                          server_name=str(cluster.get("tls-server-name") or ""))
    if user.get("auth-provider"):
        raise CredentialsError(f"user {ctx.user_name!r} uses an auth-provider plugin ("
                               f"{(user['auth-provider'] or {}).get('name', '?')}), which is not supported; "
                               "use an exec plugin")
    cert = key = None
    cert_files = None
    if user.get("client-certificate-data"):
        cert = decode_data(user["client-certificate-data"], "client-certificate-data")
    if user.get("client-key-data"):
        key = decode_data(user["client-key-data"], "client-key-data")
    if cert is None and key is None and user.get("client-certificate") and user.get("client-key"):
        cert_files = (WatchedFile(resolve_path(str(user["client-certificate"]), ubase), "client certificate"),
                      WatchedFile(resolve_path(str(user["client-key"]), ubase), "client key"))
    elif cert is None and user.get("client-certificate"):
        cert = read_file(resolve_path(str(user["client-certificate"]), ubase), "client certificate")
    elif key is None and user.get("client-key"):
        key = read_file(resolve_path(str(user["client-key"]), ubase), "client key")
    if cert_files is None and (cert is None) != (key is None):
        raise CredentialsError(f"user {ctx.user_name!r} has a client certificate without a key (or vice versa)")
    token = str(user.get("token") or "")
    token_file = None
    if user.get("tokenFile"):
        token_file = WatchedFile(resolve_path(str(user["tokenFile"]), ubase), "token file")
    basic = None
    if user.get("username") and user.get("password"):
        basic = (str(user["username"]), str(user["password"]))
    plugin = None
    # As in client-go, a plugin is used only when the user has no other credentials.
    if user.get("exec") and not (token or token_file or basic or cert or cert_files):
        info = {"server": server, "tls-server-name": str(cluster.get("tls-server-name") or ""),
                "insecure-skip-tls-verify": bool(cluster.get("insecure-skip-tls-verify")),
                "certificate-authority-data": base64.b64encode(ca).decode() if ca else "",
                "proxy-url": str(cluster.get("proxy-url") or ""),
                "config": (cluster.get("extensions") and _exec_extension(cluster["extensions"])) or None}
        plugin = ExecPlugin(user["exec"], ubase, {k: v for k, v in info.items() if v not in ("", None)})
    return CredentialProvider(server=server, user=ctx.user_name, tls=tls, token=token, basic=basic,
                              token_file=token_file, cert=cert, key=key, cert_files=cert_files, plugin=plugin,
                              clock=clock)


def _exec_extension(extensions: Any) -> Any:
    """The cluster extension client-go hands to plugins (provideClusterInfo)."""
    for ext in extensions if isinstance(extensions, list) else []:
        if isinstance(ext, dict) and ext.get("name") == "client.authentication.k8s.io/exec":
            return ext.get("extension")
    return None
