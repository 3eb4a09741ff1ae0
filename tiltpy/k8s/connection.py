"""How to reach the API server of a kubeconfig context: its URL, a TLS
context that trusts the cluster CA and presents the client certificate, and
the auth headers. Used by code that talks to the API directly (websocket
port-forward) rather than through lightkube's HTTP client."""
from __future__ import annotations

import base64
import json
import os
import ssl
import subprocess
import tempfile
from dataclasses import dataclass, field
from typing import Any

import yaml


class ClusterConnectionError(Exception):
    """The kubeconfig can't be turned into a connection; str() is for humans."""


@dataclass(frozen=True)
class ClusterConnection:
    server: str  # https://127.0.0.1:6443 (may carry a path prefix behind proxies)
    ssl_context: ssl.SSLContext | None  # None for plain http:// servers
    headers: dict[str, str] = field(default_factory=dict, repr=False)  # secrets: kept out of logs
    namespace: str = "default"
    context: str = ""


def _kubeconfig_paths() -> list[str]:
    env = os.environ.get("KUBECONFIG")
    if env:
        return [p for p in env.split(os.pathsep) if p]
    return [os.path.expanduser("~/.kube/config")]


def _merged() -> tuple[str, dict[str, dict[str, tuple[dict[str, Any], str]]]]:
    """kubectl's merge rule: for each named entry and for current-context, the
    first file that sets it wins. Each entry remembers its file's directory
    because relative paths in it are relative to that file."""
    current = ""
    tables: dict[str, dict[str, tuple[dict[str, Any], str]]] = {"contexts": {}, "clusters": {}, "users": {}}
    paths = _kubeconfig_paths()
    found = False
    for path in paths:
        try:
            with open(path, encoding="utf-8") as f:
                data = yaml.safe_load(f) or {}
        except FileNotFoundError:
            continue
        except (OSError, yaml.YAMLError) as e:
            raise ClusterConnectionError(f"cannot read kubeconfig {path}: {e}") from e
        if not isinstance(data, dict):
            raise ClusterConnectionError(f"cannot read kubeconfig {path}: not a mapping")
        found = True
        current = current or str(data.get("current-context") or "")
        base = os.path.dirname(os.path.abspath(path))
        for kind, key in (("contexts", "context"), ("clusters", "cluster"), ("users", "user")):
            for entry in data.get(kind) or []:
                name = entry.get("name") if isinstance(entry, dict) else None
                if name is not None and name not in tables[kind]:
                    tables[kind][name] = (entry.get(key) or {}, base)
    if not found:
        raise ClusterConnectionError(f"cannot read kubeconfig: none of {', '.join(paths)} exists")
    return current, tables


def _read(path: str, base: str, what: str) -> bytes:
    full = os.path.join(base, os.path.expanduser(path))
    try:
        with open(full, "rb") as f:
            return f.read()
    except OSError as e:
        raise ClusterConnectionError(f"cannot read {what} {full}: {e.strerror or e}") from e


def _data(value: str, what: str) -> bytes:
    try:
        return base64.b64decode(value, validate=False)
    except ValueError as e:
        raise ClusterConnectionError(f"cannot decode {what}: {e}") from e


def _exec_credential(spec: dict[str, Any], base: str) -> dict[str, Any]:
    """Run a client-go credential plugin (GKE, EKS, ...) once; its token may
    expire, so callers that live long should reload the connection."""
    cmd = [str(spec.get("command", ""))] + [str(a) for a in spec.get("args") or []]
    if "/" in cmd[0] and not os.path.isabs(cmd[0]):
        cmd[0] = os.path.join(base, cmd[0])  # relative plugin paths are relative to the kubeconfig
    env = dict(os.environ)
    env.update({e["name"]: e["value"] for e in spec.get("env") or [] if "name" in e})
    api = spec.get("apiVersion", "client.authentication.k8s.io/v1beta1")
    env["KUBERNETES_EXEC_INFO"] = json.dumps({"apiVersion": api, "kind": "ExecCredential", "spec": {"interactive": False}})
    try:
        out = subprocess.run(cmd, env=env, capture_output=True, check=True, timeout=60).stdout
        return json.loads(out).get("status") or {}
    except (OSError, subprocess.SubprocessError, ValueError) as e:
        raise ClusterConnectionError(f"cannot get credentials from exec plugin {cmd[0]}: {e}") from e


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
        raise ClusterConnectionError(f"cannot load client certificate/key: {e}") from e
    finally:
        for path in paths:
            try:
                os.unlink(path)
            except OSError:
                pass


def load_connection(context: str = "") -> ClusterConnection:
    """The connection kubectl would use for `context` (default: current)."""
    current, tables = _merged()
    name = context or current
    if not name:
        raise ClusterConnectionError(f"no current context in kubeconfig {os.pathsep.join(_kubeconfig_paths())}; "
                                     "set one with `kubectl config use-context`")
    if name not in tables["contexts"]:
        raise ClusterConnectionError(f"context {name!r} not found in kubeconfig")
    ctx_entry, _ = tables["contexts"][name]
    cluster_name = ctx_entry.get("cluster", "")
    if cluster_name not in tables["clusters"]:
        raise ClusterConnectionError(f"cluster {cluster_name!r} of context {name!r} not found in kubeconfig")
    cluster, cbase = tables["clusters"][cluster_name]
    user, ubase = tables["users"].get(ctx_entry.get("user", ""), ({}, ""))
    server = str(cluster.get("server") or "").rstrip("/")
    if not server.startswith(("https://", "http://")):
        raise ClusterConnectionError(f"cluster {cluster_name!r} has no usable server URL ({server!r})")

    headers: dict[str, str] = {}
    cert = key = None
    if user.get("exec"):
        status = _exec_credential(user["exec"], ubase)
        if status.get("token"):
            headers["Authorization"] = f"Bearer {status['token']}"
        if status.get("clientCertificateData") and status.get("clientKeyData"):
            cert, key = status["clientCertificateData"].encode(), status["clientKeyData"].encode()
    elif user.get("auth-provider"):
        raise ClusterConnectionError(f"user of context {name!r} uses an auth-provider plugin, which is not supported")
    if user.get("token"):
        headers["Authorization"] = f"Bearer {user['token']}"
    elif user.get("tokenFile"):
        headers["Authorization"] = f"Bearer {_read(user['tokenFile'], ubase, 'token file').decode().strip()}"
    elif user.get("username") and user.get("password"):
        basic = base64.b64encode(f"{user['username']}:{user['password']}".encode()).decode()
        headers["Authorization"] = f"Basic {basic}"
    if user.get("client-certificate-data"):
        cert = _data(user["client-certificate-data"], "client-certificate-data")
    elif user.get("client-certificate"):
        cert = _read(user["client-certificate"], ubase, "client certificate")
    if user.get("client-key-data"):
        key = _data(user["client-key-data"], "client-key-data")
    elif user.get("client-key"):
        key = _read(user["client-key"], ubase, "client key")
    if (cert is None) != (key is None):
        raise ClusterConnectionError(f"user of context {name!r} has a client certificate without a key (or vice versa)")

    sslctx: ssl.SSLContext | None = None
    if server.startswith("https://"):
        sslctx = ssl.create_default_context(ssl.Purpose.SERVER_AUTH)
        if cluster.get("insecure-skip-tls-verify"):
            sslctx.check_hostname = False
            sslctx.verify_mode = ssl.CERT_NONE
        else:
            ca: bytes | None = None
            if cluster.get("certificate-authority-data"):
                ca = _data(cluster["certificate-authority-data"], "certificate-authority-data")
            elif cluster.get("certificate-authority"):
                ca = _read(cluster["certificate-authority"], cbase, "certificate authority")
            if ca is not None:
                # A cluster CA replaces the system roots, as in client-go.
                sslctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
                try:
                    sslctx.load_verify_locations(cadata=ca.decode("ascii", errors="replace"))
                except (ssl.SSLError, ValueError) as e:
                    raise ClusterConnectionError(f"cannot load the CA of cluster {cluster_name!r}: {e}") from e
        if cert is not None and key is not None:
            _load_client_cert(sslctx, cert, key)
    return ClusterConnection(server=server, ssl_context=sslctx, headers=headers,
                             namespace=str(ctx_entry.get("namespace") or "default"), context=name)
