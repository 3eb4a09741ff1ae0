"""The KubernetesApply and KubernetesDiscovery controllers (Tilt's
`v1alpha1.kubernetes_apply` / `kubernetes_discovery`).

KubernetesApply applies its YAML (server-side apply, like every resource's
YAML), records the result in its status and, as Tilt does, creates a
KubernetesDiscovery of the same name that follows the pods of what it
applied; deleting it deletes what it applied. KubernetesDiscovery watches
pods (descendants of the watched objects, or matching extra selectors),
lists them in its status, streams their logs into the owning resource's log
and forwards the ports its template asks for."""
from __future__ import annotations

import asyncio
import contextlib
import hashlib
from typing import Any, Callable

from tiltpy.engine.controllers import Log, owning_resource
from tiltpy.engine.k8s_deploy import apply_objects, delete_objects
from tiltpy.engine.store import API_VERSION, ObjectStore, now_micro
from tiltpy.k8s.client import ClusterError, K8sClient
from tiltpy.k8s.objects import dump_yaml_stream, object_id, parse_yaml_stream, selector_matches
from tiltpy.k8s.portforward import PortForward

ClientGetter = Callable[[], K8sClient]  # raises ClusterError when there is no cluster connection


class KubernetesApplyController:
    kind = "KubernetesApply"

    def __init__(self, store: ObjectStore, log: Log, client: ClientGetter) -> None:
        self.store = store
        self.log = log
        self._client = client
        self._applied: dict[str, tuple[str, list[dict[str, Any]]]] = {}  # name -> (input hash, objects)

    def dependencies(self, obj: dict[str, Any]) -> list[tuple[str, str]]:
        return []

    async def reconcile(self, name: str, obj: dict[str, Any] | None) -> None:
        previous = self._applied.get(name)
        if obj is None:
            self._applied.pop(name, None)
            self.store.delete("KubernetesDiscovery", name)
            if previous is not None:
                await delete_objects(self._client(), previous[1], lambda text: self.log("(Tiltfile)", text))
            return
        spec = obj.get("spec") or {}
        yaml_text = spec.get("yaml") or ""
        input_hash = hashlib.sha256(yaml_text.encode()).hexdigest()
        if previous is not None and previous[0] == input_hash:
            return
        resource = owning_resource(obj)
        status = {**(obj.get("status") or {}), "lastApplyStartTime": now_micro()}
        status.pop("error", None)
        if spec.get("applyCmd"):
            raise ClusterError("applyCmd is not supported for v1alpha1.kubernetes_apply; give yaml")
        objects = parse_yaml_stream(yaml_text)
        client = self._client()
        await apply_objects(client, objects, lambda text: self.log(resource, text))
        applied = [o for o in (await asyncio.gather(*(client.get(o) for o in objects))) if o]
        self._applied[name] = (input_hash, objects)
        status.update(resultYAML=dump_yaml_stream(applied), appliedInputHash=input_hash, lastApplyTime=now_micro())
        self.store.update_status("KubernetesApply", name, status)
        template = spec.get("kubernetesDiscoveryTemplateSpec") or {}
        watches = [{"uid": (o.get("metadata") or {}).get("uid", ""), "name": object_id(o).name,
                    "namespace": object_id(o).namespace or client.namespace} for o in applied]
        self.store.apply({
            "apiVersion": API_VERSION, "kind": "KubernetesDiscovery",
            "metadata": {"name": name, "annotations": dict((obj.get("metadata") or {}).get("annotations") or {})},
            "spec": {"watches": watches, "extraSelectors": list(template.get("extraSelectors") or []),
                     "portForwardTemplateSpec": spec.get("portForwardTemplateSpec")},
        })

    async def close(self) -> None:
        pass


class _Following:
    def __init__(self) -> None:
        self.tasks: list[asyncio.Task[None]] = []
        self.logs: dict[tuple[str, str, str], asyncio.Task[None]] = {}
        self.forwards: list[PortForward] = []
        self.pods: dict[str, dict[str, Any]] = {}
        self.owners: dict[str, set[str]] = {}  # owner uid -> ancestor uids (ReplicaSet -> Deployment)

    async def stop(self) -> None:
        tasks = [*self.tasks, *self.logs.values()]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(BaseException):
                await task
        for forward in self.forwards:
            await forward.stop()


class KubernetesDiscoveryController:
    kind = "KubernetesDiscovery"

    def __init__(self, store: ObjectStore, log: Log, client: ClientGetter, host: str = "127.0.0.1") -> None:
        self.store = store
        self.log = log
        self._client = client
        self._host = host
        self._following: dict[str, tuple[str, _Following]] = {}

    def dependencies(self, obj: dict[str, Any]) -> list[tuple[str, str]]:
        return []

    async def reconcile(self, name: str, obj: dict[str, Any] | None) -> None:
        spec_key = repr((obj or {}).get("spec"))
        current = self._following.get(name)
        if current is not None and (obj is None or current[0] != spec_key):
            await current[1].stop()
            del self._following[name]
        if obj is None or (current is not None and current[0] == spec_key):
            return
        spec = obj.get("spec") or {}
        client = self._client()
        following = _Following()
        self._following[name] = (spec_key, following)
        resource = owning_resource(obj)
        namespaces = sorted({w.get("namespace") or client.namespace for w in spec.get("watches") or []}
                            or {client.namespace})
        for forward in (spec.get("portForwardTemplateSpec") or {}).get("forwards") or []:
            pf = PortForward(client.conn, namespaces[0], int(forward.get("localPort") or forward["containerPort"]),
                             int(forward["containerPort"]), host=forward.get("host") or self._host,
                             log=lambda text: self.log(resource, f"port-forward: {text}"))
            await pf.start()
            following.forwards.append(pf)
        self.store.update_status("KubernetesDiscovery", name, {
            "monitorStartTime": now_micro(), "pods": [], "running": {"startTime": now_micro()}})
        for namespace in namespaces:
            following.tasks.append(asyncio.create_task(self._watch(name, obj, namespace, following)))

    async def _watch(self, name: str, obj: dict[str, Any], namespace: str, following: _Following) -> None:
        client = self._client()
        path = f"/api/v1/namespaces/{namespace}/pods"
        while True:
            try:
                pods, version = await client.list_pods(namespace, "")
                for pod in pods:
                    await self._seen(name, obj, pod, following)
                self._publish(name, obj, following)
                async for event in client.watch(path, {"resourceVersion": version}):
                    kind, pod = event.get("type"), event.get("object") or {}
                    if kind == "BOOKMARK":
                        continue
                    if kind == "ERROR":
                        break
                    if kind == "DELETED":
                        following.pods.pop((pod.get("metadata") or {}).get("uid", ""), None)
                    else:
                        await self._seen(name, obj, pod, following)
                    self._publish(name, obj, following)
            except ClusterError as err:
                self.log(owning_resource(obj), f"WARNING: KubernetesDiscovery {name}: {err}; retrying")
                await asyncio.sleep(2)

    async def _ancestors(self, pod: dict[str, Any], following: _Following) -> set[str]:
        """UIDs of the pod's owners and theirs (Deployment → ReplicaSet → Pod)."""
        found: set[str] = set()
        client = self._client()
        namespace = pod["metadata"].get("namespace", "")
        for ref in pod["metadata"].get("ownerReferences") or []:
            uid = ref.get("uid", "")
            found.add(uid)
            if uid not in following.owners:
                following.owners[uid] = set()
                if ref.get("kind") in ("ReplicaSet", "Job"):
                    group = "apps/v1" if ref["kind"] == "ReplicaSet" else "batch/v1"
                    plural = "replicasets" if ref["kind"] == "ReplicaSet" else "jobs"
                    with contextlib.suppress(ClusterError):
                        owner = await client.get_path(f"/apis/{group}/namespaces/{namespace}/{plural}/{ref['name']}")
                        following.owners[uid] = {r.get("uid", "") for r in
                                                 (owner.get("metadata") or {}).get("ownerReferences") or []}
            found |= following.owners[uid]
        return found

    async def _seen(self, name: str, obj: dict[str, Any], pod: dict[str, Any], following: _Following) -> None:
        spec = obj.get("spec") or {}
        meta = pod.get("metadata") or {}
        watched = {w.get("uid") for w in spec.get("watches") or [] if w.get("uid")}
        names = {(w.get("namespace"), w.get("name")) for w in spec.get("watches") or [] if w.get("name")}
        labels = meta.get("labels") or {}
        matches = any(selector_matches(s.get("matchLabels") or {}, labels) for s in spec.get("extraSelectors") or []
                      if s.get("matchLabels"))
        matches = matches or meta.get("uid") in watched or (meta.get("namespace"), meta.get("name")) in names
        if not matches and watched:
            matches = bool(await self._ancestors(pod, following) & watched)
        if not matches:
            return
        following.pods[meta.get("uid", "")] = pod
        self._follow_logs(obj, pod, following)

    def _follow_logs(self, obj: dict[str, Any], pod: dict[str, Any], following: _Following) -> None:
        meta = pod["metadata"]
        resource = owning_resource(obj)
        for cs in (pod.get("status") or {}).get("containerStatuses") or []:
            container_id = cs.get("containerID") or ""
            if not container_id or not ({"running", "terminated"} & set(cs.get("state") or {})):
                continue
            key = (meta["namespace"], meta["name"], container_id)
            if key not in following.logs:
                following.logs[key] = asyncio.create_task(
                    self._stream(resource, meta["namespace"], meta["name"], cs["name"]))

    async def _stream(self, resource: str, namespace: str, pod: str, container: str) -> None:
        with contextlib.suppress(ClusterError):
            async for line in self._client().stream_logs(namespace, pod, container):
                self.log(resource, line)

    def _publish(self, name: str, obj: dict[str, Any], following: _Following) -> None:
        pods = [_pod_status(p) for p in sorted(following.pods.values(),
                                               key=lambda p: (p["metadata"].get("creationTimestamp", ""),
                                                              p["metadata"]["name"]))]
        current = self.store.get("KubernetesDiscovery", name)
        if current is None:
            return
        status = {**current["status"], "pods": pods}
        self.store.update_status("KubernetesDiscovery", name, status)
        ready = [p["name"] for p in pods if p["phase"] == "Running" and not p["deleting"]
                 and all(c["ready"] for c in p["containers"])]
        for forward in following.forwards:
            target = ready[-1] if ready else None
            if forward.pod != target:
                forward.set_pod(target)

    async def close(self) -> None:
        for _, following in self._following.values():
            await following.stop()
        self._following.clear()


def _pod_status(pod: dict[str, Any]) -> dict[str, Any]:
    meta, status = pod.get("metadata") or {}, pod.get("status") or {}
    owner = next(iter(meta.get("ownerReferences") or []), None)
    return {
        "uid": meta.get("uid", ""), "name": meta.get("name", ""), "namespace": meta.get("namespace", ""),
        "createdAt": meta.get("creationTimestamp", ""), "phase": status.get("phase", ""),
        "deleting": bool(meta.get("deletionTimestamp")),
        "conditions": [{"type": c.get("type", ""), "status": c.get("status", "")} for c in status.get("conditions") or []],
        "containers": [{"name": cs.get("name", ""), "id": cs.get("containerID", ""), "ready": bool(cs.get("ready")),
                        "image": cs.get("image", ""), "restarts": cs.get("restartCount", 0),
                        "state": cs.get("state") or {}} for cs in status.get("containerStatuses") or []],
        "status": status.get("reason") or status.get("phase", ""),
        "errors": [],
        "owner": {"name": owner.get("name", ""), "kind": owner.get("kind", ""),
                  "apiVersion": owner.get("apiVersion", "")} if owner else None,
    }
