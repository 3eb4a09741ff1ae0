"""Which cluster we talk to, read from kubeconfig, and what kind of dev
cluster it is (Tilt's clusterid): that decides whether a context is safe to
deploy to and whether built images need a push."""
from __future__ import annotations

import json
import os
from dataclasses import dataclass

from tiltpy.k8s import kubeconfig
from tiltpy.user_cache import cache_path, read_json_object, write_atomically

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
    """The kubeconfig context a command works with, named but not contacted."""

    name: str
    cluster: str
    namespace: str
    server: str


def current_context(override: str = "") -> KubeContext | None:
    """The context kubectl would use (or `override`), without contacting it;
    None when there is no usable kubeconfig. Remembered for the kubeconfig
    files as they are now (see _ContextMemo): every command asks this."""
    memo = _ContextMemo(override)
    found, context = memo.recall()
    if not found:
        context = _read_current_context(override)
        memo.remember(context)
    return context


class _ContextMemo:
    """Which context the kubeconfig files named when each had this mtime,
    ctime, size and inode: reading them takes PyYAML (~25 ms to import),
    which a dry Tiltfile load otherwise no longer needs. Kept in the user's
    cache directory; only names and the server URL, never credentials."""

    MAX_ENTRIES = 20

    def __init__(self, override: str) -> None:
        self._path = cache_path("kube-contexts.json")
        self._entries = read_json_object(self._path)
        self._key: str | None = None
        files = []
        for path in kubeconfig.kubeconfig_paths():
            try:
                st = os.stat(path)
                files.append([os.path.abspath(path), st.st_mtime_ns, st.st_ctime_ns, st.st_size, st.st_ino])
            except FileNotFoundError:
                files.append([os.path.abspath(path), None])
            except OSError:
                return  # unreadable metadata: no memo
        self._key = json.dumps([override, files])

    def recall(self) -> tuple[bool, KubeContext | None]:
        """(whether these files' context is known, the context: None for no usable kubeconfig)."""
        if self._key is None or self._key not in self._entries:
            return False, None
        entry = self._entries[self._key]
        if entry is None:
            return True, None
        if isinstance(entry, list) and len(entry) == 4 and all(isinstance(v, str) for v in entry):
            return True, KubeContext(*entry)
        return False, None

    def remember(self, context: KubeContext | None) -> None:
        if self._key is None or (context is not None and "@" in context.server):
            return  # a server URL with a user in it is not written down
        self._entries.pop(self._key, None)
        self._entries[self._key] = None if context is None else \
            [context.name, context.cluster, context.namespace, context.server]
        kept = dict(list(self._entries.items())[-self.MAX_ENTRIES:])
        write_atomically(self._path, json.dumps(kept).encode())


def _read_current_context(override: str) -> KubeContext | None:
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
