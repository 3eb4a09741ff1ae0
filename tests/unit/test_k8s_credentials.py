"""Kubeconfig merging, the credentials provider's refresh rules (with a fake
clock and real plugin scripts), and the REST/websocket clients' 401 retry,
timeouts and RBAC handling against small local servers."""
from __future__ import annotations

import asyncio
import json
import os
import ssl
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
import yaml
from websockets.asyncio.server import serve
from websockets.exceptions import InvalidStatus

from tiltpy.engine.k8s_deploy import resolve_deploy_target
from tiltpy.k8s import client as client_module
from tiltpy.k8s import credentials as creds_module
from tiltpy.k8s import kubeconfig
from tiltpy.k8s.client import ClusterError, K8sClient
from tiltpy.k8s.connection import ClusterConnection, ClusterConnectionError, load_connection, open_websocket
from tiltpy.k8s.credentials import CredentialsError, build_ssl_context, provider_for, TlsSettings
from tiltpy.model.manifest import TiltfileResult

EXPIRY = "2030-01-01T00:00:00Z"
EXPIRY_EPOCH = 1893456000.0

# A plugin that counts its runs in argv[1] and prints the n-th of the
# comma-separated tokens in argv[2] (the last one from then on), expiring at argv[3].
PLUGIN = textwrap.dedent("""\
    import json, os, sys
    count_file, tokens = sys.argv[1], sys.argv[2].split(",")
    n = (int(open(count_file).read() or 0) if os.path.exists(count_file) else 0) + 1
    open(count_file, "w").write(str(n))
    status = {"token": tokens[min(n, len(tokens)) - 1]}
    if len(sys.argv) > 3:
        status["expirationTimestamp"] = sys.argv[3]
    with open(count_file + ".env", "w") as f:
        json.dump({"info": os.environ.get("KUBERNETES_EXEC_INFO"), "extra": os.environ.get("EXTRA")}, f)
    print(json.dumps({"apiVersion": "client.authentication.k8s.io/v1beta1", "kind": "ExecCredential",
                      "status": status}))
    """)


class FakeClock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def write_kubeconfig(path: Path, user: dict[str, Any], *, server: str = "http://127.0.0.1:1",
                     cluster_extra: dict[str, Any] | None = None) -> Path:
    path.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": "ctx",
        "clusters": [{"name": "c", "cluster": {"server": server, **(cluster_extra or {})}}],
        "contexts": [{"name": "ctx", "context": {"cluster": "c", "user": "u", "namespace": "ns1"}}],
        "users": [{"name": "u", "user": user}],
    }))
    return path


def plugin_user(tmp_path: Path, tokens: str, expiry: str | None = None, **extra: Any) -> dict[str, Any]:
    script = tmp_path / "plugin.py"
    script.write_text(PLUGIN)
    args = [str(script), str(tmp_path / "runs"), tokens] + ([expiry] if expiry else [])
    return {"exec": {"apiVersion": "client.authentication.k8s.io/v1beta1", "command": sys.executable,
                     "args": args, **extra}}


def runs(tmp_path: Path) -> int:
    path = tmp_path / "runs"
    return int(path.read_text()) if path.exists() else 0


def provider(path: Path, clock: FakeClock | None = None, server: str = "http://127.0.0.1:1"):
    config = kubeconfig.load([str(path)])
    return provider_for(kubeconfig.resolve(config), server, clock=clock or FakeClock(EXPIRY_EPOCH - 100))


# -- kubeconfig ----------------------------------------------------------------

def test_merge_first_file_wins_and_paths_stay_relative_to_their_file(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    first = tmp_path / "a" / "config"
    second = tmp_path / "b" / "config"
    first.write_text(yaml.safe_dump({
        "current-context": "",
        "clusters": [{"name": "c", "cluster": {"server": "https://first"}}],
        "users": [{"name": "u", "user": {"tokenFile": "token"}}],
    }))
    second.write_text(yaml.safe_dump({
        "current-context": "ctx",
        "clusters": [{"name": "c", "cluster": {"server": "https://second"}},
                     {"name": "d", "cluster": {"server": "https://d"}}],
        "contexts": [{"name": "ctx", "context": {"cluster": "c", "user": "u"}}],
        "users": [{"name": "u", "user": {"token": "ignored"}}],
    }))
    config = kubeconfig.load([str(tmp_path / "missing"), str(first), str(second)])
    assert config.current_context == "ctx"  # the first file that sets it
    ctx = kubeconfig.resolve(config)
    assert ctx.cluster.data["server"] == "https://first"
    assert ctx.user.data == {"tokenFile": "token"}
    assert kubeconfig.resolve_path(ctx.user.data["tokenFile"], ctx.user.base) == str(tmp_path / "a" / "token")
    assert set(config.clusters) == {"c", "d"}
    assert ctx.namespace == "default"


def test_kubeconfig_paths_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KUBECONFIG", os.pathsep.join(["/x", "", "/y", "/x"]))
    assert kubeconfig.kubeconfig_paths() == ["/x", "/y"]
    monkeypatch.setenv("KUBECONFIG", "")
    assert kubeconfig.kubeconfig_paths() == [os.path.expanduser("~/.kube/config")]


def test_resolve_errors_name_what_is_missing(tmp_path: Path) -> None:
    with pytest.raises(kubeconfig.KubeconfigError, match="none of"):
        kubeconfig.load([str(tmp_path / "nope")])
    bad = tmp_path / "bad"
    bad.write_text("- a list\n")
    with pytest.raises(kubeconfig.KubeconfigError, match="not a mapping"):
        kubeconfig.load([str(bad)])
    config = kubeconfig.merge([({"contexts": [{"name": "x", "context": {"cluster": "gone"}}]}, "/")], ["/k"])
    with pytest.raises(kubeconfig.KubeconfigError, match="no current context"):
        kubeconfig.resolve(config)
    with pytest.raises(kubeconfig.KubeconfigError, match="context 'y' not found"):
        kubeconfig.resolve(config, "y")
    with pytest.raises(kubeconfig.KubeconfigError, match="cluster 'gone' of context 'x'"):
        kubeconfig.resolve(config, "x")


def test_load_connection(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write_kubeconfig(tmp_path / "config", {"token": "abc"}, server="https://h:6443/prefix/",
                            cluster_extra={"insecure-skip-tls-verify": True, "proxy-url": "socks5://proxy"})
    monkeypatch.setenv("KUBECONFIG", str(path))
    conn = load_connection()
    assert (conn.server, conn.namespace, conn.context, conn.proxy_url) == \
        ("https://h:6443/prefix", "ns1", "ctx", "socks5://proxy:1080")
    assert conn.websocket_url("/api") == "wss://h:6443/prefix/api"
    creds = conn.credentials.current_blocking()
    assert creds.headers == {"Authorization": "Bearer abc"}
    assert creds.ssl_context is not None and creds.ssl_context.verify_mode == ssl.CERT_NONE
    write_kubeconfig(path, {"token": "abc"}, cluster_extra={"proxy-url": "ftp://proxy"})
    with pytest.raises(ClusterConnectionError, match="proxy-url"):
        load_connection()
    write_kubeconfig(path, {"client-certificate-data": "eA=="})
    with pytest.raises(ClusterConnectionError, match="without a key"):
        load_connection()
    write_kubeconfig(path, {"auth-provider": {"name": "gcp"}})
    with pytest.raises(ClusterConnectionError, match="auth-provider plugin \\(gcp\\)"):
        load_connection()


def test_tls_server_name_is_used_for_sni_and_verification() -> None:
    ctx = build_ssl_context(TlsSettings(ca=None, insecure=False, server_name="kubernetes"))
    obj = ctx.wrap_bio(ssl.MemoryBIO(), ssl.MemoryBIO(), server_hostname="127.0.0.1")
    assert obj.server_hostname == "kubernetes"
    assert ctx.check_hostname and ctx.verify_mode == ssl.CERT_REQUIRED
    plain = build_ssl_context(TlsSettings(ca=None, insecure=False, server_name=""))
    assert plain.wrap_bio(ssl.MemoryBIO(), ssl.MemoryBIO(), server_hostname="host").server_hostname == "host"


# -- exec plugins ------------------------------------------------------------------

def test_plugin_token_is_reused_until_shortly_before_it_expires(tmp_path: Path) -> None:
    clock = FakeClock(EXPIRY_EPOCH - 100)
    prov = provider(write_kubeconfig(tmp_path / "config", plugin_user(tmp_path, "t1,t2,t3", EXPIRY)), clock)
    first = prov.current_blocking()
    assert first.headers == {"Authorization": "Bearer t1"} and runs(tmp_path) == 1
    clock.now = EXPIRY_EPOCH - 10.5  # a 100 s token is renewed 10 s before it expires
    assert prov.current_blocking() is first and runs(tmp_path) == 1
    clock.now = EXPIRY_EPOCH - 10
    assert prov.current_blocking().headers == {"Authorization": "Bearer t2"} and runs(tmp_path) == 2


def test_short_lived_token_is_renewed_a_tenth_of_its_life_early(tmp_path: Path) -> None:
    clock = FakeClock(EXPIRY_EPOCH - 5)
    prov = provider(write_kubeconfig(tmp_path / "config", plugin_user(tmp_path, "t1,t2", EXPIRY)), clock)
    prov.current_blocking()
    clock.now = EXPIRY_EPOCH - 0.6
    prov.current_blocking()
    assert runs(tmp_path) == 1
    clock.now = EXPIRY_EPOCH - 0.5
    assert prov.current_blocking().headers["Authorization"] == "Bearer t2"


def test_401_refreshes_once_and_only_for_the_credentials_that_failed(tmp_path: Path) -> None:
    prov = provider(write_kubeconfig(tmp_path / "config", plugin_user(tmp_path, "bad,good")))  # no expiry
    bad = prov.current_blocking()
    assert prov.current_blocking() is bad and runs(tmp_path) == 1
    assert prov.invalidate(bad)
    good = prov.current_blocking()
    assert good.headers["Authorization"] == "Bearer good" and runs(tmp_path) == 2
    assert prov.invalidate(bad)  # a late 401 to the old token: the new one stays
    assert prov.current_blocking() is good and runs(tmp_path) == 2


def test_concurrent_callers_share_one_plugin_run(tmp_path: Path) -> None:
    clock = FakeClock(EXPIRY_EPOCH - 100)
    prov = provider(write_kubeconfig(tmp_path / "config", plugin_user(tmp_path, "t1,t2", EXPIRY)), clock)

    async def many() -> list[Any]:
        return await asyncio.gather(*(prov.current() for _ in range(20)))

    assert {c.headers["Authorization"] for c in asyncio.run(many())} == {"Bearer t1"}
    clock.now = EXPIRY_EPOCH
    assert {c.headers["Authorization"] for c in asyncio.run(many())} == {"Bearer t2"}
    assert runs(tmp_path) == 2


def test_plugin_environment_and_cluster_info(tmp_path: Path) -> None:
    user = plugin_user(tmp_path, "t", env=[{"name": "EXTRA", "value": "x"}], provideClusterInfo=True)
    path = write_kubeconfig(tmp_path / "config", user, server="https://h:1",
                            cluster_extra={"tls-server-name": "kubernetes", "proxy-url": "http://p:3128"})
    provider(path, server="https://h:1").current_blocking()
    seen = json.loads((tmp_path / "runs.env").read_text())
    assert seen["extra"] == "x"
    info = json.loads(seen["info"])
    assert info["kind"] == "ExecCredential" and info["spec"]["interactive"] is False
    assert info["spec"]["cluster"] == {"server": "https://h:1", "tls-server-name": "kubernetes",
                                       "insecure-skip-tls-verify": False, "proxy-url": "http://p:3128"}


def test_plugin_failures_are_explained(tmp_path: Path) -> None:
    def failing(code: str, **extra: Any) -> str:
        script = tmp_path / "fail.py"
        script.write_text(code)
        user = {"exec": {"apiVersion": "client.authentication.k8s.io/v1beta1", "command": sys.executable,
                         "args": [str(script)], **extra}}
        with pytest.raises(CredentialsError) as info:
            provider(write_kubeconfig(tmp_path / "config", user)).current_blocking()
        return str(info.value)

    assert "exited with code 3: no login" in failing("import sys; print('no login', file=sys.stderr); sys.exit(3)")
    assert "no ExecCredential JSON" in failing("print('hello')")
    assert "apiVersion 'client.authentication.k8s.io/v1'" in failing(
        "print('{\"apiVersion\": \"client.authentication.k8s.io/v1\", \"kind\": \"ExecCredential\"}')")
    assert "neither a token nor a client certificate" in failing(
        "print('{\"apiVersion\": \"client.authentication.k8s.io/v1beta1\", \"kind\": \"ExecCredential\"}')")
    missing = {"exec": {"command": "tiltpy-no-such-plugin", "installHint": "install it with brew"}}
    with pytest.raises(CredentialsError, match="not found; install it with brew"):
        provider(write_kubeconfig(tmp_path / "config", missing)).current_blocking()
    always = {"exec": {"command": "x", "interactiveMode": "Always"}}
    with pytest.raises(CredentialsError, match="interactive terminal"):
        provider(write_kubeconfig(tmp_path / "config", always))


def test_relative_plugin_command_is_relative_to_the_kubeconfig(tmp_path: Path) -> None:
    (tmp_path / "bin").mkdir()
    plugin = tmp_path / "bin" / "plugin"
    plugin.write_text(f"#!{sys.executable}\n" + PLUGIN)
    plugin.chmod(0o755)
    user = {"exec": {"apiVersion": "client.authentication.k8s.io/v1beta1", "command": "./bin/plugin",
                     "args": [str(tmp_path / "runs"), "rel"]}}
    creds = provider(write_kubeconfig(tmp_path / "config", user)).current_blocking()
    assert creds.headers == {"Authorization": "Bearer rel"}


def test_static_credentials_win_over_a_plugin(tmp_path: Path) -> None:
    user = {**plugin_user(tmp_path, "plugin"), "token": "static"}
    prov = provider(write_kubeconfig(tmp_path / "config", user))
    creds = prov.current_blocking()
    assert creds.headers == {"Authorization": "Bearer static"} and runs(tmp_path) == 0
    assert not prov.invalidate(creds)  # nothing could change: a 401 is final
    basic = provider(write_kubeconfig(tmp_path / "config", {"username": "me", "password": "pw"})).current_blocking()
    assert basic.headers == {"Authorization": "Basic bWU6cHc="}


# -- token files ------------------------------------------------------------------

def test_token_file_is_reread_when_it_changes(tmp_path: Path) -> None:
    token = tmp_path / "token"
    token.write_text("one\n")
    clock = FakeClock(1000.0)
    prov = provider(write_kubeconfig(tmp_path / "config", {"tokenFile": "token"}), clock)
    first = prov.current_blocking()
    assert first.headers == {"Authorization": "Bearer one"}
    token.write_text("two-two\n")
    assert prov.current_blocking() is first  # checked at most once a second
    clock.now += creds_module.FILE_CHECK_INTERVAL
    assert prov.current_blocking().headers == {"Authorization": "Bearer two-two"}
    token.unlink()  # a failed re-read keeps the last good token
    clock.now += creds_module.FILE_REREAD_INTERVAL
    assert prov.current_blocking().headers == {"Authorization": "Bearer two-two"}


def test_token_file_is_reread_after_a_401_even_if_unchanged_on_disk(tmp_path: Path) -> None:
    token = tmp_path / "token"
    token.write_text("aaa")
    prov = provider(write_kubeconfig(tmp_path / "config", {"tokenFile": str(token)}), FakeClock(1000.0))
    first = prov.current_blocking()
    stat = os.stat(token)
    token.write_text("bbb")  # same size; keep the old mtime so only a forced read can see it
    os.utime(token, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert prov.invalidate(first)
    assert prov.current_blocking().headers == {"Authorization": "Bearer bbb"}


def test_missing_token_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(CredentialsError, match="cannot read token file"):
        provider(write_kubeconfig(tmp_path / "config", {"tokenFile": "nope"})).current_blocking()


# -- the REST client and websockets against a local server ----------------------------

class FakeApiServer:
    """HTTP/1.1 on loopback: accepts `good`, answers 401 otherwise; paths in
    `forbidden` answer 403; /slow never answers."""

    def __init__(self, good: str = "Bearer good", forbidden: tuple[str, ...] = ()) -> None:
        self.good = good
        self.forbidden = forbidden
        self.requests: list[tuple[str, str]] = []
        self.server: asyncio.Server | None = None

    async def __aenter__(self) -> str:
        self.server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        return f"http://127.0.0.1:{self.server.sockets[0].getsockname()[1]}"

    async def __aexit__(self, *exc: Any) -> None:
        assert self.server is not None
        self.server.close()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode().split("\r\n")
                path = lines[0].split(" ")[1].split("?")[0]
                headers = dict(line.split(": ", 1) for line in lines[1:] if ": " in line)
                length = int(headers.get("Content-Length", headers.get("content-length", "0")))
                await reader.readexactly(length)
                auth = headers.get("Authorization", headers.get("authorization", ""))
                self.requests.append((path, auth))
                if path == "/slow":
                    await asyncio.sleep(30)
                if auth != self.good:
                    status, body = "401 Unauthorized", {"kind": "Status", "message": "Unauthorized"}
                elif path in self.forbidden:
                    status, body = "403 Forbidden", {"kind": "Status", "message": f"{path} is forbidden"}
                else:
                    status, body = "200 OK", {"gitVersion": "v1.20.2", "path": path}
                data = json.dumps(body).encode()
                writer.write(f"HTTP/1.1 {status}\r\nContent-Type: application/json\r\n"
                             f"Content-Length: {len(data)}\r\n\r\n".encode() + data)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.CancelledError):
            writer.close()  # the client left, or the test's server is shutting down


def connection(path: Path, server: str) -> ClusterConnection:
    config = kubeconfig.resolve(kubeconfig.load([str(path)]))
    return ClusterConnection(server=server, credentials=provider_for(config, server), namespace="ns1",
                             context="ctx")


def test_rest_client_retries_once_after_401_with_a_fresh_plugin_token(tmp_path: Path) -> None:
    path = write_kubeconfig(tmp_path / "config", plugin_user(tmp_path, "bad,good"))

    async def scenario() -> None:
        fake = FakeApiServer()
        async with fake as url:
            client = K8sClient(connection(path, url))
            try:
                results = await asyncio.gather(*(client.check() for _ in range(5)))
                assert results == ["v1.20.2"] * 5
                assert runs(tmp_path) == 2  # five 401s, one refresh
                assert await client.check() == "v1.20.2"
                assert runs(tmp_path) == 2
            finally:
                await client.close()

    asyncio.run(scenario())


def test_rest_client_gives_up_after_the_retry(tmp_path: Path) -> None:
    path = write_kubeconfig(tmp_path / "config", plugin_user(tmp_path, "bad"))
    static = write_kubeconfig(tmp_path / "static", {"token": "bad"})

    async def scenario() -> None:
        fake = FakeApiServer()
        async with fake as url:
            for config, expected_requests, expected_runs in ((path, 2, 2), (static, 1, 2)):
                fake.requests.clear()
                client = K8sClient(connection(config, url))
                try:
                    with pytest.raises(ClusterError, match="401 Unauthorized .*refused the credentials of context ctx"):
                        await client.check()
                finally:
                    await client.close()
                assert len(fake.requests) == expected_requests
                assert runs(tmp_path) == expected_runs

    asyncio.run(scenario())


def test_watch_stream_retries_after_401(tmp_path: Path) -> None:
    path = write_kubeconfig(tmp_path / "config", plugin_user(tmp_path, "bad,good"))

    async def scenario() -> None:
        fake = FakeApiServer()
        async with fake as url:
            client = K8sClient(connection(path, url))
            try:
                events = [e async for e in client.watch("/api/v1/pods", {})]
                assert events == [{"gitVersion": "v1.20.2", "path": "/api/v1/pods"}]
            finally:
                await client.close()

    asyncio.run(scenario())


def test_a_request_that_gets_no_answer_is_a_clear_cluster_error(tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    import httpx

    monkeypatch.setattr(client_module, "REQUEST_TIMEOUT", httpx.Timeout(connect=1.0, read=0.3, write=1, pool=1))
    path = write_kubeconfig(tmp_path / "config", {"token": "good"})

    async def scenario() -> None:
        async with FakeApiServer("Bearer good") as url:
            client = K8sClient(connection(path, url))
            try:
                with pytest.raises(ClusterError, match=r"did not answer GET /slow within 0.3 s"):
                    await client.get_path("/slow")
            finally:
                await client.close()

    asyncio.run(scenario())


def test_forbidden_registry_configmap_means_no_registry(tmp_path: Path) -> None:
    path = write_kubeconfig(tmp_path / "config", {"token": "good"})
    configmap = "/api/v1/namespaces/kube-public/configmaps/local-registry-hosting"

    async def scenario() -> None:
        async with FakeApiServer("Bearer good", forbidden=(configmap,)) as url:
            client = K8sClient(connection(path, url))
            try:
                target = await resolve_deploy_target(client, TiltfileResult("Tiltfile"), print)
                assert target.registry == ""
                warnings: list[str] = []
                unreachable = K8sClient(connection(path, "http://127.0.0.1:1"))
                target = await resolve_deploy_target(unreachable, TiltfileResult("Tiltfile"), warnings.append)
                await unreachable.close()
                assert target.registry == "" and "WARNING: cannot read" in warnings[0]
            finally:
                await client.close()

    asyncio.run(scenario())


def test_websocket_retries_once_after_401(tmp_path: Path) -> None:
    path = write_kubeconfig(tmp_path / "config", plugin_user(tmp_path, "bad,good"))
    seen: list[str] = []

    def check(connection: Any, request: Any) -> Any:
        seen.append(request.headers.get("Authorization", ""))
        if request.headers.get("Authorization") != "Bearer good":
            return connection.respond(401, "Unauthorized\n")
        return None

    async def scenario() -> None:
        async with serve(lambda ws: ws.send(b"\x01hi"), "127.0.0.1", 0, process_request=check,
                         subprotocols=["v4.channel.k8s.io"]) as server:
            port = server.sockets[0].getsockname()[1]
            conn = connection(path, f"http://127.0.0.1:{port}")
            async with await open_websocket(conn, "/x", ["v4.channel.k8s.io"], open_timeout=5) as ws:
                assert await ws.recv() == b"\x01hi"
            assert seen == ["Bearer bad", "Bearer good"]
            static = connection(write_kubeconfig(tmp_path / "static", {"token": "bad"}), f"http://127.0.0.1:{port}")
            with pytest.raises(InvalidStatus):
                await open_websocket(static, "/x", ["v4.channel.k8s.io"], open_timeout=5)

    asyncio.run(scenario())


def test_pod_watch_forbidden_is_the_resources_error_logged_once(tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    from tiltpy.engine.pod_monitor import PodMonitor
    from tiltpy.k8s import pod_watch
    from tiltpy.model.manifest import K8sTarget, Manifest

    monkeypatch.setattr(pod_watch, "RETRY_MIN", 0.05)
    path = write_kubeconfig(tmp_path / "config", {"token": "good"})
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": {"containers": []}}
    manifest = Manifest(name="res", k8s=K8sTarget(objects=(pod,)))

    async def scenario() -> tuple[list[str], str]:
        fake = FakeApiServer("Bearer good", forbidden=("/api/v1/namespaces/ns1/pods",))
        async with fake as url:
            client = K8sClient(connection(path, url))
            logs: list[str] = []
            watches = pod_watch.PodWatches(client)
            monitor = PodMonitor(client, manifest, ["ns1"], log=logs.append, on_change=lambda: None,
                                 watches=watches)
            await monitor.start()
            while len(fake.requests) < 3:  # a few retries, backing off
                await asyncio.sleep(0.05)
            await monitor.stop()
            assert watches.watching == []  # the namespace's watch ended with its last subscriber
            await client.close()
            return logs, monitor.state.status + ": " + monitor.state.error

    logs, state = asyncio.run(scenario())
    assert state.startswith("error: cannot watch pods in namespace ns1: GET /api/v1/namespaces/ns1/pods: 403")
    assert len(logs) == 1 and logs[0].startswith("WARNING: watching pods:"), logs


def test_a_new_client_certificate_gets_a_new_http_client_and_the_old_one_closes() -> None:
    from tiltpy.k8s.credentials import CredentialProvider, Credentials

    async def scenario() -> None:
        conn = ClusterConnection(server="https://127.0.0.1:1", credentials=CredentialProvider(
            server="https://127.0.0.1:1", user="u", tls=None))
        client = K8sClient(conn)
        first = Credentials({}, ssl.create_default_context())
        second = Credentials({}, ssl.create_default_context())
        old = client._session_for(first)
        assert client._session_for(Credentials({"x": "y"}, first.ssl_context)) is old  # same identity, same client
        old.users += 1  # a stream still running on the old client
        new = client._session_for(second)
        assert new is not old and old.retired and not old.http.is_closed
        await client._release(old)
        assert old.http.is_closed and not new.http.is_closed
        await client.close()
        assert new.http.is_closed

    asyncio.run(scenario())
