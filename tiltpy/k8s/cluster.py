"""Which cluster we talk to, read from kubeconfig, and what kind of dev
cluster it is (Tilt's clusterid): that decides whether a context is safe to
deploy to and whether built images need a push."""
from __future__ import annotations

from dataclasses import dataclass

from tiltpy.k8s import kubeconfig

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


def current_context(override: str = "") -> KubeContext | None:
    """The context kubectl would use (or `override`), without contacting it;
    None when there is no usable kubeconfig."""
    try:
        config = kubeconfig.load()
    except kubeconfig.KubeconfigError:
        return None
    name = override or config.current_context
    entry = config.contexts.get(name)
    if not name or entry is None:
        return None
    cluster_name = str(entry.data.get("cluster") or "")
    cluster = config.clusters.get(cluster_name)
    return KubeContext(name=name, cluster=cluster_name, namespace=str(entry.data.get("namespace") or "default"),
                       server=str((cluster.data if cluster else {}).get("server") or ""))
