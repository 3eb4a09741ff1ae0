"""Deploying a resource's Kubernetes objects: where images must go (push or
not), injecting the built refs, applying in a safe order, and deleting."""
from __future__ import annotations

import asyncio
import functools
from dataclasses import dataclass
from typing import Any, Callable

import yaml

from tiltpy.model.images import BuiltImage
from tiltpy.image.dockerfile import ref_matches
from tiltpy.k8s.client import ClusterError, Forbidden, K8sClient, NotFound
from tiltpy.k8s.cluster import product_of, shares_local_docker
from tiltpy.k8s.jsonpath import inject_images
from tiltpy.k8s.objects import ImageInjection, inject, object_id, with_default_protocols
from tiltpy.model.manifest import Manifest, TiltfileResult

# Objects others depend on go first; the rest keep the YAML's order.
_APPLY_FIRST = ("Namespace", "CustomResourceDefinition", "ServiceAccount", "ConfigMap", "Secret",
                "PersistentVolumeClaim")


class NoRegistry(ClusterError):
    pass


@dataclass(frozen=True)
class DeployTarget:
    product: str
    registry: str = ""  # push here ("" = the cluster uses the local engine's images)
    registry_from_cluster: str = ""

    def describe(self) -> str:
        if self.registry:
            return f"pushing images to {self.registry}"
        return "building on the cluster's container runtime (no push)"


_REGISTRY_HOSTING = "/api/v1/namespaces/kube-public/configmaps/local-registry-hosting"


async def _registry_from_cluster(client: K8sClient, log: Callable[[str], None]) -> tuple[str, str]:
    """KEP-1755: the kube-public/local-registry-hosting ConfigMap. Missing,
    not readable by this user (RBAC) or unreadable: no registry advertised."""
    try:
        cm = await client.get_path(_REGISTRY_HOSTING)
    except (NotFound, Forbidden):
        return "", ""
    except ClusterError as err:
        log(f"WARNING: cannot read the cluster's registry hosting ConfigMap (kube-public/local-registry-hosting): "
            f"{err}; assuming the cluster advertises no registry")
        return "", ""
    try:
        hosting = yaml.safe_load(((cm.get("data") or {}).get("localRegistryHosting.v1")) or "") or {}
        if not isinstance(hosting, dict):
            raise ValueError("not a mapping")
        return str(hosting.get("host") or ""), str(hosting.get("hostFromContainerRuntime") or "")
    except (yaml.YAMLError, ValueError, AttributeError) as err:
        log(f"WARNING: ignoring kube-public/local-registry-hosting: its localRegistryHosting.v1 is unreadable ({err})")
        return "", ""


async def registry_hosting(client: K8sClient) -> tuple[str, str, list[str]]:
    """What the cluster advertises (host, host from the container runtime),
    and the warnings to log about it; asked as soon as the cluster is reached."""
    warnings: list[str] = []
    host, from_runtime = await _registry_from_cluster(client, warnings.append)
    return host, from_runtime, warnings


async def resolve_deploy_target(client: K8sClient, result: TiltfileResult,
                                log: Callable[[str], None] = lambda _: None,
                                hosting: tuple[str, str, list[str]] | None = None) -> DeployTarget:
    product = product_of(client.conn.context)
    if hosting is None:
        hosting = await registry_hosting(client)
    host, from_runtime, warnings = hosting
    for warning in warnings:
        log(warning)
    if host:
        return DeployTarget(product, host, from_runtime or host)
    if result.default_registry:
        return DeployTarget(product, result.default_registry,
                            result.default_registry_from_cluster or result.default_registry)
    if shares_local_docker(product):
        return DeployTarget(product)
    return DeployTarget(product, "", "")


def objects_to_apply(manifest: Manifest, images: dict[str, BuiltImage]) -> list[dict[str, Any]]:
    assert manifest.k8s is not None
    injections = []
    for target in manifest.image_targets:
        if target.ref in manifest.k8s.image_refs and target.ref in images:
            injections.append(ImageInjection(
                matches=functools.partial(ref_matches, target.ref),
                cluster_ref=images[target.ref].cluster_ref,
                match_in_env_vars=target.match_in_env_vars,
                command=target.entrypoint,
                args=target.container_args,
            ))
    objects = inject(list(manifest.k8s.objects), injections, manifest.name)
    if manifest.k8s.image_locators:
        # k8s_kind(image_json_path=...): images named elsewhere than in pod specs.
        for obj in objects:
            for target in manifest.image_targets:
                if target.ref in images:
                    inject_images(obj, manifest.k8s.image_locators,
                                  matches=functools.partial(ref_matches, target.ref),
                                  new_ref=images[target.ref].cluster_ref)
    return objects


def apply_order(objects: list[dict[str, Any]]) -> list[dict[str, Any]]:
    def rank(obj: dict[str, Any]) -> int:
        kind = obj.get("kind", "")
        return _APPLY_FIRST.index(kind) if kind in _APPLY_FIRST else len(_APPLY_FIRST)
    return sorted(objects, key=rank)  # stable: YAML order within a rank


async def apply_objects(client: K8sClient, objects: list[dict[str, Any]], log: Callable[[str], None]) -> None:
    for obj in apply_order(objects):
        oid = object_id(obj)
        try:
            await client.apply(with_default_protocols(obj))
        except ClusterError as err:
            raise ClusterError(f"applying {oid.kind} {oid.name}: {err}") from None
        log(f"  applied {oid.kind.lower()}/{oid.name}")


async def delete_objects(client: K8sClient, objects: list[dict[str, Any]], log: Callable[[str], None],
                         wait_secs: float = 60) -> None:
    """Delete in reverse apply order, then wait until they are gone. Every
    object is tried; failures are reported together at the end."""
    ordered = list(reversed(apply_order(objects)))
    deleted = []
    failures: list[str] = []
    for obj in ordered:
        annotations = (obj.get("metadata") or {}).get("annotations") or {}
        oid = object_id(obj)
        if annotations.get("tilt.dev/down-policy") == "keep":
            log(f"  keeping {oid.kind.lower()}/{oid.name} (tilt.dev/down-policy: keep)")
            continue
        if oid.kind == "Namespace":
            log(f"  keeping namespace/{oid.name} (namespaces are not deleted)")
            continue
        try:
            if await client.delete(obj):
                log(f"  deleted {oid.kind.lower()}/{oid.name}")
                deleted.append(obj)
        except ClusterError as err:
            log(f"  ERROR: cannot delete {oid.kind.lower()}/{oid.name}: {err}")
            failures.append(f"{oid.kind.lower()}/{oid.name}: {err}")
    loop = asyncio.get_running_loop()
    deadline = loop.time() + wait_secs
    for obj in deleted:
        try:
            while loop.time() < deadline and await client.get(obj) is not None:
                await asyncio.sleep(0.5)
        except ClusterError:
            pass  # it was deleted; whether it is gone yet is not worth failing over
    if failures:
        raise ClusterError(f"{len(failures)} object(s) could not be deleted: " + "; ".join(failures))
