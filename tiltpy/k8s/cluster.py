"""Which cluster we talk to, read from kubeconfig, and what kind of dev
cluster it is (Tilt's clusterid): that decides whether a context is safe to
deploy to and whether built images need a push."""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import yaml

# Product -> how the context (or its cluster) is named by that product's tooling.
_PRODUCTS = (
    ("docker-desktop", ("docker-desktop", "docker-for-desktop")),
    ("rancher-desktop", ("rancher-desktop",)),
    ("orbstack", ("orbstack",)),
    ("colima", ("colima",)),
    ("minikube", ("minikube",)),
    ("microk8s", ("microk8s",)),
    ("crc", ("crc",)),
    ("kind", ("kind-",)),
    ("k3d", ("k3d-",)),
    ("krucible", ("krucible-",)),
)
# Products whose nodes run on the Docker Engine the user builds with, so a
# locally built image is visible to the kubelet without a push.
_SHARES_LOCAL_DOCKER = {"docker-desktop", "rancher-desktop", "orbstack", "colima"}


def product_of(context: str, cluster: str = "") -> str:
    for name in (context, cluster):
        for product, prefixes in _PRODUCTS:
            if any(name == p or (p.endswith("-") and name.startswith(p)) for p in prefixes):
                return product
            if product in ("colima",) and name.startswith("colima-"):
                return product
    return "unknown"


def is_dev_context(context: str, cluster: str = "") -> bool:
    return product_of(context, cluster) != "unknown"


def shares_local_docker(product: str) -> bool:
    return product in _SHARES_LOCAL_DOCKER


@dataclass(frozen=True)
class KubeContext:
    name: str
    cluster: str
    namespace: str
    server: str


def kubeconfig_paths() -> list[str]:
    env = os.environ.get("KUBECONFIG")
    if env:
        return [p for p in env.split(os.pathsep) if p]
    return [os.path.expanduser("~/.kube/config")]


def current_context(override: str = "") -> KubeContext | None:
    """The context kubectl would use (or `override`), without contacting it."""
    merged: dict[str, Any] = {"contexts": [], "clusters": [], "current-context": ""}
    for path in kubeconfig_paths():
        try:
            with open(path, encoding="utf-8") as f:
                data = yaml.safe_load(f) or {}
        except (OSError, yaml.YAMLError):
            continue
        merged["contexts"] += data.get("contexts") or []
        merged["clusters"] += data.get("clusters") or []
        merged["current-context"] = merged["current-context"] or data.get("current-context", "")
    name = override or merged["current-context"]
    if not name:
        return None
    entry = next((c for c in merged["contexts"] if c.get("name") == name), None)
    if entry is None:
        return None
    ctx = entry.get("context") or {}
    cluster_name = ctx.get("cluster", "")
    cluster = next((c for c in merged["clusters"] if c.get("name") == cluster_name), {})
    return KubeContext(name=name, cluster=cluster_name, namespace=ctx.get("namespace") or "default",
                       server=(cluster.get("cluster") or {}).get("server", ""))
