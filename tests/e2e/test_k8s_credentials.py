"""Cluster credentials against the testbed's real API server (RBAC on): an
exec plugin whose tokens expire every few seconds through a whole `tiltpy
up` session, the 401 → refresh → retry path on REST and websockets, client
certificates (files, data, from a plugin), tls-server-name,
insecure-skip-tls-verify, HTTP and SOCKS5 proxy-urls, and a ServiceAccount
with a narrow Role running `tiltpy ci`."""
from __future__ import annotations

import asyncio
import base64
import json
import os
import struct
import subprocess
import sys
import textwrap
import time
import uuid
from pathlib import Path
from typing import Any, Iterator

import pytest
import yaml

from tests.e2e.harness import Up, http_get, tiltpy
from tests.k8s_yaml import deployment
from tiltpy.k8s import kubeconfig
from tiltpy.k8s.client import ClusterError, K8sClient
from tiltpy.k8s.connection import ClusterConnection, load_connection
from tiltpy.k8s.exec import exec_in_container
from tiltpy.k8s.portforward import PortForward

pytestmark = pytest.mark.e2e

PKI = Path("/var/lib/testbed/k8s/pki")
# Prints an ExecCredential and counts its runs in argv[1]: the n-th run
# returns the n-th of the comma-separated tokens in argv[2] (the last one
# from then on), valid for argv[3] seconds when given. Optional argv[4:6]:
# files with a client certificate and key to return instead of a token.
PLUGIN = textwrap.dedent("""\
    import datetime, json, os, sys
    count_file, tokens = sys.argv[1], sys.argv[2].split(",")
    n = (int(open(count_file).read() or 0) if os.path.exists(count_file) else 0) + 1
    open(count_file, "w").write(str(n))
    status = {}
    if tokens[0]:
        status["token"] = tokens[min(n, len(tokens)) - 1]
    if len(sys.argv) > 3 and sys.argv[3] != "-":
        expires = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=float(sys.argv[3]))
        status["expirationTimestamp"] = expires.strftime("%Y-%m-%dT%H:%M:%SZ")
    if len(sys.argv) > 5:
        status["clientCertificateData"] = open(sys.argv[4]).read()
        status["clientKeyData"] = open(sys.argv[5]).read()
    print(json.dumps({"apiVersion": "client.authentication.k8s.io/v1beta1", "kind": "ExecCredential",
                      "status": status}))
    """)


def kubectl(*args: str, input: str | None = None, check: bool = True, env: dict[str, str] | None = None,
            timeout: float = 120) -> str:
    proc = subprocess.run(["kubectl", *args], input=input, capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, **(env or {})})
    if check and proc.returncode != 0:
        raise AssertionError(f"kubectl {' '.join(args)} failed: {proc.stderr.strip()}")
    return proc.stdout


@pytest.fixture(scope="module")
def testbed_cluster(testbed: dict) -> dict[str, Any]:
    """The testbed's cluster entry and admin token (the kubeconfig's user, the
    admin line of tokens.csv)."""
    ctx = kubeconfig.resolve(kubeconfig.load())
    cluster = dict(ctx.cluster.data)
    if cluster.get("certificate-authority") and not cluster.get("certificate-authority-data"):
        path = kubeconfig.resolve_path(cluster.pop("certificate-authority"), ctx.cluster.base)
        cluster["certificate-authority-data"] = base64.b64encode(Path(path).read_bytes()).decode()
    token = ctx.user.data.get("token")
    assert token, "the testbed kubeconfig's user has a token"
    return {"cluster": cluster, "token": str(token)}


def write_kubeconfig(path: Path, cluster: dict[str, Any], user: dict[str, Any], namespace: str = "default",
                     **cluster_changes: Any) -> Path:
    entry = {**cluster, **cluster_changes}
    for key, value in cluster_changes.items():
        if value is None:
            entry.pop(key)
    # Named like the testbed's context, so tiltpy treats it as the local dev cluster it is.
    path.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": "docker-desktop",
        "clusters": [{"name": "testbed", "cluster": entry}],
        "contexts": [{"name": "docker-desktop", "context": {"cluster": "testbed", "user": "u",
                                                            "namespace": namespace}}],
        "users": [{"name": "u", "user": user}],
    }))
    return path


def plugin_user(dir: Path, tokens: str, lifetime: float | None = None, cert: tuple[Path, Path] | None = None,
                name: str = "plugin") -> tuple[dict[str, Any], Path]:
    script = dir / f"{name}.py"
    script.write_text(PLUGIN)
    counter = dir / f"{name}.runs"
    args = [str(script), str(counter), tokens, str(lifetime) if lifetime else "-"]
    if cert:
        args += [str(cert[0]), str(cert[1])]
    return {"exec": {"apiVersion": "client.authentication.k8s.io/v1beta1", "command": sys.executable,
                     "args": args, "interactiveMode": "Never"}}, counter


def plugin_runs(counter: Path) -> int:
    return int(counter.read_text()) if counter.exists() else 0


def connect(path: Path, monkeypatch: pytest.MonkeyPatch) -> ClusterConnection:
    monkeypatch.setenv("KUBECONFIG", str(path))
    return load_connection()


@pytest.fixture(scope="module")
def web_pod(testbed: dict) -> Iterator[tuple[str, str]]:
    """A namespace with one ready busybox httpd pod: (namespace, pod)."""
    ns = f"tiltpy-cred-{uuid.uuid4().hex[:8]}"
    kubectl("create", "namespace", ns)
    for _ in range(60):  # pods are refused until the namespace's default ServiceAccount exists
        if kubectl("-n", ns, "get", "serviceaccount", "default", check=False).strip():
            break
        time.sleep(0.5)
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web", "namespace": ns},
           "spec": {"terminationGracePeriodSeconds": 0, "automountServiceAccountToken": False,
                    "containers": [{"name": "web", "image": "busybox", "imagePullPolicy": "Never",
                                    "command": ["sh", "-c", "mkdir -p /www && echo cred-ok > /www/index.html"
                                                            " && exec httpd -f -p 8080 -h /www"]}]}}
    kubectl("apply", "-f", "-", input=json.dumps(pod))
    kubectl("-n", ns, "wait", "--for=condition=Ready", "pod/web", "--timeout=120s", timeout=150)
    yield ns, "web"
    kubectl("delete", "namespace", ns, "--wait=false", check=False)


async def _fetch(port: int) -> str:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"GET /index.html HTTP/1.0\r\nHost: localhost\r\n\r\n")
    await writer.drain()
    data = await asyncio.wait_for(reader.read(), 20)
    writer.close()
    return data.decode(errors="replace")


async def exercise(conn: ClusterConnection, pod: tuple[str, str]) -> None:
    """REST, exec and port-forward with one connection: each must work."""
    ns, name = pod
    client = K8sClient(conn)
    try:
        assert (await client.check()).startswith("v1.20")
        assert (await client.get_path(f"/api/v1/namespaces/{ns}/pods/{name}"))["metadata"]["name"] == name
    finally:
        await client.close()
    result = await exec_in_container(conn, ns, name, "web", ["cat", "/www/index.html"])
    assert (result.exit_code, result.stdout.strip()) == (0, "cred-ok")
    logs: list[str] = []
    with_port = PortForward(conn, ns, 0, 8080, log=logs.append)
    await with_port.start()
    try:
        with_port.set_pod(name)
        assert with_port._server is not None
        port = with_port._server.sockets[0].getsockname()[1]
        answer = await _fetch(port)
        assert "cred-ok" in answer, (answer, logs)
    finally:
        await with_port.stop()


# -- exec plugins ----------------------------------------------------------------------

def test_401_refreshes_the_plugin_token_and_retries_rest_and_websockets(
        testbed_cluster: dict, web_pod: tuple[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    good = testbed_cluster["token"]
    # REST first: the first token is refused, the plugin runs again, the request is retried.
    user, counter = plugin_user(tmp_path, f"not-a-valid-token,{good}", name="rest")
    conn = connect(write_kubeconfig(tmp_path / "rest.yaml", testbed_cluster["cluster"], user), monkeypatch)
    asyncio.run(exercise(conn, web_pod))
    assert plugin_runs(counter) == 2
    # A websocket (exec) first.
    user, counter = plugin_user(tmp_path, f"not-a-valid-token,{good}", name="exec")
    conn = connect(write_kubeconfig(tmp_path / "exec.yaml", testbed_cluster["cluster"], user), monkeypatch)
    result = asyncio.run(exec_in_container(conn, web_pod[0], web_pod[1], "web", ["echo", "via-exec"]))
    assert result.stdout.strip() == "via-exec" and plugin_runs(counter) == 2
    # A plugin that only ever has a bad token: one retry, then a clear error.
    user, counter = plugin_user(tmp_path, "not-a-valid-token", name="bad")
    conn = connect(write_kubeconfig(tmp_path / "bad.yaml", testbed_cluster["cluster"], user), monkeypatch)

    async def refused() -> None:
        client = K8sClient(conn)
        try:
            with pytest.raises(ClusterError, match="401 .*refused the credentials of context docker-desktop"):
                await client.check()
        finally:
            await client.close()

    asyncio.run(refused())
    assert plugin_runs(counter) == 2


def test_up_keeps_working_across_plugin_token_expiries(testbed_cluster: dict, tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """Tokens live 6 s; for about a minute the app answers through the
    port-forward, synced edits (exec updates) and a rebuild reach it, and
    pod status and logs keep coming."""
    lifetime = 6
    user, counter = plugin_user(tmp_path, testbed_cluster["token"], lifetime=lifetime)
    monkeypatch.setenv("KUBECONFIG", str(write_kubeconfig(tmp_path / "kubeconfig", testbed_cluster["cluster"], user)))
    name, port = "tiltpy-e2e-cred", 18741
    project = tmp_path / "project"
    (project / "www").mkdir(parents=True)
    (project / "www" / "index.html").write_text("v0\n")
    (project / "Dockerfile").write_text("FROM busybox\nCOPY www /www\nENV BUILD=1\n")
    (project / "k8s.yaml").write_text(deployment(
        name, f"{name}-image", f"(i=0; while true; do i=$((i+1)); echo cred-tick $i; sleep 1; done) & "
                               f"exec httpd -f -p {port} -h /www"))
    (project / "Tiltfile").write_text(textwrap.dedent(f"""\
        k8s_yaml('k8s.yaml')
        docker_build('{name}-image', '.', live_update=[sync('www', '/www')])
        k8s_resource('{name}', port_forwards={port})
        """))
    url = f"http://localhost:{port}/index.html"
    up = Up(project, "--update-mode", "exec")
    try:
        http_get(url, timeout=180, expect="v0")
        up.wait_for(r"cred-tick \d+", timeout=60)
        started = time.monotonic()
        edit = 0
        while time.monotonic() - started < 4 * lifetime:  # live updates over several expiries
            edit += 1
            (project / "www" / "index.html").write_text(f"edit-{edit}\n")
            http_get(url, timeout=30, expect=f"edit-{edit}")
            time.sleep(lifetime / 2)
        assert "live updates via exec" in up.output

        # A rebuild: a new pod to watch, new log streams, the port-forward follows it.
        mark = up.mark()
        (project / "Dockerfile").write_text(f"FROM busybox\nCOPY www /www\nENV BUILD={time.time_ns()}\n")
        up.wait_for(rf"Built {name}-image:tilt-", timeout=120, start=mark)
        up.wait_for(r"Forwarding .* of pod", timeout=120, start=mark)
        up.wait_for(r"cred-tick \d+", timeout=60, start=up.mark())
        http_get(url, timeout=60, expect=f"edit-{edit}")
        time.sleep(2 * lifetime)  # idle past two more expiries, then everything still works
        mark = up.mark()
        up.wait_for(r"cred-tick \d+", timeout=30, start=mark)
        (project / "www" / "index.html").write_text("last\n")
        http_get(url, timeout=30, expect="last")
        runs = plugin_runs(counter)
        print(f"the plugin ran {runs} times in {time.monotonic() - started:.0f} s")
        assert runs >= 4, f"the plugin ran {runs} times in {time.monotonic() - started:.0f} s"
        for problem in ("401", "Unauthorized", "Traceback", "WARNING: watching pods"):
            assert problem not in up.output, problem
    finally:
        up.stop()
        print(up.output[-6000:])
        tiltpy("down", cwd=project)


# -- TLS and proxies ---------------------------------------------------------------------

@pytest.fixture(scope="module")
def client_cert(tmp_path_factory: pytest.TempPathFactory, testbed: dict) -> tuple[Path, Path]:
    """A client certificate for a cluster admin, signed by the testbed's CA."""
    dir = tmp_path_factory.mktemp("cert")
    key, csr, crt = dir / "client.key", dir / "client.csr", dir / "client.crt"
    subprocess.run(["openssl", "req", "-new", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(csr),
                    "-subj", "/O=system:masters/CN=tiltpy-e2e"], check=True, capture_output=True)
    subprocess.run(["openssl", "x509", "-req", "-in", str(csr), "-CA", str(PKI / "ca.crt"), "-CAkey",
                    str(PKI / "ca.key"), "-CAcreateserial", "-CAserial", str(dir / "ca.srl"), "-days", "1",
                    "-out", str(crt)], check=True, capture_output=True)
    return crt, key


def test_client_certificates_files_data_and_from_a_plugin(
        testbed_cluster: dict, web_pod: tuple[str, str], client_cert: tuple[Path, Path], tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    crt, key = client_cert
    cluster = testbed_cluster["cluster"]
    files = {"client-certificate": str(crt), "client-key": str(key)}
    data = {"client-certificate-data": base64.b64encode(crt.read_bytes()).decode(),
            "client-key-data": base64.b64encode(key.read_bytes()).decode()}
    plugin, counter = plugin_user(tmp_path, "", cert=(crt, key))
    for label, user in (("files", files), ("data", data), ("plugin", plugin)):
        conn = connect(write_kubeconfig(tmp_path / f"{label}.yaml", cluster, user), monkeypatch)
        assert "Authorization" not in conn.credentials.current_blocking().headers, label
        asyncio.run(exercise(conn, web_pod))
    assert plugin_runs(counter) == 1


def test_tls_server_name_and_insecure_skip_verify(testbed_cluster: dict, web_pod: tuple[str, str], tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    cluster, user = testbed_cluster["cluster"], {"token": testbed_cluster["token"]}
    api = cluster["server"].split("://", 1)[1].rstrip("/")
    # Reach the API server by an address its certificate does not name (a
    # relay on 127.0.0.2); tls-server-name names what the certificate says.
    relay = TunnelProxy("relay", target=api)

    async def scenario() -> None:
        address = (await relay.start("127.0.0.2")).split("://", 1)[1]
        try:
            conn = await asyncio.to_thread(connect, write_kubeconfig(
                tmp_path / "sni.yaml", cluster, user, server=f"https://{address}", **{"tls-server-name": "kubernetes"}),
                monkeypatch)
            await exercise(conn, web_pod)
            for label, changes in (("no name", {}), ("wrong name", {"tls-server-name": "not-the-api-server.example"})):
                conn = await asyncio.to_thread(connect, write_kubeconfig(
                    tmp_path / "bad.yaml", cluster, user, server=f"https://{address}", **changes), monkeypatch)
                client = K8sClient(conn)
                try:
                    with pytest.raises(ClusterError, match="CERTIFICATE_VERIFY_FAILED|certificate verify failed"):
                        await client.check()
                finally:
                    await client.close()
            # insecure-skip-tls-verify accepts it whatever the name.
            conn = await asyncio.to_thread(connect, write_kubeconfig(
                tmp_path / "insecure.yaml", cluster, user, server=f"https://{address}",
                **{"insecure-skip-tls-verify": True, "certificate-authority-data": None}), monkeypatch)
            await exercise(conn, web_pod)
        finally:
            await relay.stop()

    asyncio.run(scenario())


class TunnelProxy:
    """An HTTP CONNECT or SOCKS5 (no auth) proxy on loopback that records the
    destinations it was asked for; or ("relay") a plain TCP relay to `target`."""

    def __init__(self, kind: str, target: str = "") -> None:
        self.kind = kind
        self.target = target
        self.destinations: list[str] = []
        self.server: asyncio.Server | None = None

    async def start(self, host: str = "127.0.0.1") -> str:
        self.server = await asyncio.start_server(self._handle, host, 0)
        scheme = {"http": "http", "socks5": "socks5", "relay": "tcp"}[self.kind]
        return f"{scheme}://{host}:{self.server.sockets[0].getsockname()[1]}"

    async def stop(self) -> None:
        assert self.server is not None
        self.server.close()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            if self.kind == "relay":
                host, port = self.target.rsplit(":", 1)
            elif self.kind == "http":
                head = (await reader.readuntil(b"\r\n\r\n")).decode()
                host, port = head.split(" ")[1].rsplit(":", 1)
            else:
                _, n = await reader.readexactly(2)
                await reader.readexactly(n)
                writer.write(b"\x05\x00")  # no authentication
                _, _, _, atyp = await reader.readexactly(4)
                if atyp == 3:
                    host = (await reader.readexactly((await reader.readexactly(1))[0])).decode()
                elif atyp == 1:
                    host = ".".join(str(b) for b in await reader.readexactly(4))
                else:
                    raise ValueError(f"address type {atyp}")
                port = str(struct.unpack("!H", await reader.readexactly(2))[0])
            self.destinations.append(f"{host}:{port}")
            up_reader, up_writer = await asyncio.open_connection(host, int(port))
            if self.kind == "http":
                writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
            elif self.kind == "socks5":
                writer.write(b"\x05\x00\x00\x01" + bytes(4) + b"\x00\x00")

            async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
                try:
                    while data := await src.read(65536):
                        dst.write(data)
                        await dst.drain()
                finally:
                    dst.close()

            await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer), return_exceptions=True)
        except (OSError, ValueError, asyncio.IncompleteReadError, asyncio.CancelledError):
            writer.close()


@pytest.mark.parametrize("kind", ["http", "socks5"])
def test_proxy_url_carries_rest_exec_and_port_forward(kind: str, testbed_cluster: dict, web_pod: tuple[str, str],
                                                      tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cluster, user = testbed_cluster["cluster"], {"token": testbed_cluster["token"]}
    proxy = TunnelProxy(kind)

    async def scenario() -> None:
        url = await proxy.start()
        try:
            conn = await asyncio.to_thread(connect, write_kubeconfig(
                tmp_path / "proxy.yaml", cluster, user, **{"proxy-url": url, "tls-server-name": "kubernetes"}),
                monkeypatch)
            await exercise(conn, web_pod)
        finally:
            await proxy.stop()

    asyncio.run(scenario())
    server = cluster["server"].split("://", 1)[1].rstrip("/")
    # The REST client (one pooled connection at least), the exec and the port-forward all went through it.
    assert proxy.destinations.count(server) >= 3, proxy.destinations


# -- RBAC -------------------------------------------------------------------------------

NARROW_ROLE = """\
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {{name: tiltpy-dev, namespace: {ns}}}
rules:
- apiGroups: [apps]
  resources: [deployments]
  verbs: [get, list, watch, create, update, patch, delete]
- apiGroups: [""]
  resources: [pods]
  verbs: [get, list, watch]
- apiGroups: [""]
  resources: [pods/log]
  verbs: [get]
- apiGroups: [""]
  resources: [pods/exec, pods/portforward]
  verbs: [create, get]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {{name: tiltpy-dev, namespace: {ns}}}
roleRef: {{apiGroup: rbac.authorization.k8s.io, kind: Role, name: tiltpy-dev}}
subjects: [{{kind: ServiceAccount, name: dev, namespace: {ns}}}]
"""


def test_service_account_with_a_narrow_role_can_run_ci(testbed_cluster: dict, tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    ns = f"tiltpy-rbac-{uuid.uuid4().hex[:8]}"
    admin = os.environ["KUBECONFIG"]
    kubectl("create", "namespace", ns)
    try:
        kubectl("-n", ns, "create", "serviceaccount", "dev")
        kubectl("apply", "-f", "-", input=NARROW_ROLE.format(ns=ns))
        token = ""
        for _ in range(60):  # Kubernetes 1.20 creates the token secret by itself, soon after
            secret = kubectl("-n", ns, "get", "serviceaccount", "dev", "-o", "jsonpath={.secrets[0].name}").strip()
            if secret:
                token = base64.b64decode(kubectl("-n", ns, "get", "secret", secret, "-o",
                                                 "jsonpath={.data.token}")).decode()
                break
            time.sleep(0.5)
        assert token, "no token secret for the ServiceAccount"
        path = write_kubeconfig(tmp_path / "kubeconfig", testbed_cluster["cluster"], {"token": token}, namespace=ns)
        env = {"KUBECONFIG": str(path)}
        assert kubectl("auth", "can-i", "get", "configmaps", "-n", "kube-public", check=False, env=env).strip() == "no"
        assert kubectl("auth", "can-i", "create", "deployments", env=env).strip() == "yes"

        name = "tiltpy-e2e-rbac"
        project = tmp_path / "project"
        project.mkdir()
        (project / "Dockerfile").write_text("FROM busybox\n")
        # Ready only after it printed, so its log line has been streamed when `ci` ends.
        probe = "          readinessProbe: {exec: {command: [test, -f, /tmp/ready]}, periodSeconds: 1}\n"
        (project / "k8s.yaml").write_text(deployment(name, f"{name}-image", "echo rbac-started; touch /tmp/ready; "
                                                     "sleep 3600", extra=probe))
        (project / "Tiltfile").write_text(f"k8s_yaml('k8s.yaml')\ndocker_build('{name}-image', '.')\n")
        monkeypatch.setenv("KUBECONFIG", str(path))
        result = tiltpy("ci", "--timeout", "3m", cwd=project)
        print(result.stdout[-4000:], result.stderr[-2000:])
        assert result.returncode == 0
        assert "rbac-started" in result.stdout
        assert "Traceback" not in result.stdout + result.stderr
        assert "WARNING" not in result.stdout and "forbidden" not in result.stdout
        assert kubectl("-n", ns, "get", "deployment", name, "-o", "name").strip() == f"deployment.apps/{name}"
    finally:
        kubectl("delete", "namespace", ns, "--wait=false", env={"KUBECONFIG": admin})
