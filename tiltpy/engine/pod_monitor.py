"""Follows the pods of one Kubernetes resource after it is deployed: their
readiness and crashes (the resource's runtime status), their logs, and where
its port-forwards point (the newest ready pod).

Driven by the namespace's shared pod watch (k8s/pod_watch.py), which hands
this monitor the pods carrying its labels; no polling, and no watch of its
own. Readiness is decided on the event that reports it."""
from __future__ import annotations

import asyncio
import contextlib
from typing import Any, Callable

from tiltpy.engine.forwards import ResourceForwards
from tiltpy.k8s.client import ClusterError, Forbidden, K8sClient
from tiltpy.k8s.log_cursor import LogCursor
from tiltpy.k8s.objects import RESOURCE_LABEL, TEMPLATE_HASH_LABEL, resource_label
from tiltpy.k8s.pod_watch import PodWatches
from tiltpy.model.manifest import Manifest
from tiltpy.model.runtime import RuntimeState

# Waiting reasons that mean the container will not start without a change.
_FATAL_WAITING = {"CrashLoopBackOff", "ErrImagePull", "ImagePullBackOff", "CreateContainerConfigError",
                  "InvalidImageName", "CreateContainerError", "RunContainerError", "ErrImageNeverPull"}


def _pod_ready(pod: dict[str, Any]) -> bool:
    if (pod.get("metadata") or {}).get("deletionTimestamp"):
        return False
    if (pod.get("status") or {}).get("phase") != "Running":
        return False
    conditions = (pod.get("status") or {}).get("conditions") or []
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)


def pod_problem(pod: dict[str, Any]) -> str:
    """Why this pod won't become ready by itself, or ''."""
    status = pod.get("status") or {}
    name = (pod.get("metadata") or {}).get("name", "")
    if status.get("phase") == "Failed":
        return f"pod {name} failed: {status.get('reason', '')} {status.get('message', '')}".strip()
    for cs in (status.get("initContainerStatuses") or []) + (status.get("containerStatuses") or []):
        waiting = (cs.get("state") or {}).get("waiting") or {}
        if waiting.get("reason") in _FATAL_WAITING:
            detail = waiting.get("message", "")
            last = ((cs.get("lastState") or {}).get("terminated") or {})
            if last:
                detail = f"last exit code {last.get('exitCode')} ({last.get('reason', '')}) {detail}".strip()
            return f"pod {name}: container {cs.get('name')} {waiting['reason']}{': ' + detail if detail else ''}"
        terminated = (cs.get("state") or {}).get("terminated") or {}
        if terminated and terminated.get("exitCode", 0) != 0 and status.get("phase") != "Succeeded":
            return (f"pod {name}: container {cs.get('name')} exited with code {terminated.get('exitCode')}"
                    f" ({terminated.get('reason', '')})")
    return ""


def parse_selector(text: str) -> dict[str, str]:
    """'a=b,c=d' (equality terms only, as matchLabels give) → {'a': 'b', 'c': 'd'}."""
    out = {}
    for term in text.split(","):
        key, _, value = term.partition("=")
        if key.strip():
            out[key.strip()] = value.strip()
    return out


class PodMonitor:
    def __init__(self, client: K8sClient, manifest: Manifest, namespaces: list[str], *,
                 log: Callable[[str], None], on_change: Callable[[], None], watches: PodWatches,
                 forwards: ResourceForwards | None = None, selector: str = "",
                 log_lines: Callable[[list[str]], None] | None = None) -> None:
        self.client = client
        # Our own label on the pods we deployed; k8s_custom_deploy's pods carry
        # only their workload's labels, so the caller passes those instead.
        self.selector = parse_selector(selector) if selector else {RESOURCE_LABEL: resource_label(manifest.name)}
        self.manifest = manifest
        self.namespaces = namespaces or [client.namespace]
        self.log = log
        self.log_lines = log_lines or self._log_each
        self.on_change = on_change
        self.watches = watches
        self.forwards = forwards
        self.state = RuntimeState()
        self.template_hashes: set[str] = set()
        self._pods: dict[str, dict[str, Any]] = {}
        self._log_tasks: dict[tuple[str, str, str], asyncio.Task[None]] = {}
        self._watch_errors: dict[str, str] = {}  # namespace -> the failure last logged
        self._started = False

    def _log_each(self, texts: list[str]) -> None:
        for text in texts:
            self.log(text)

    async def start(self) -> None:
        self._started = True
        for namespace in self.namespaces:
            self.watches.subscribe(namespace, self)

    async def stop(self) -> None:
        if self._started:
            self._started = False
            for namespace in self.namespaces:
                await self.watches.unsubscribe(namespace, self)
        tasks = list(self._log_tasks.values())
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(BaseException):
                await task

    def expect(self, template_hashes: set[str]) -> None:
        """A new rollout was applied: only pods of these templates count now."""
        self.template_hashes = template_hashes
        self._evaluate()

    # -- what the shared watch tells -------------------------------------------
    def pods_listed(self, namespace: str, pods: list[dict[str, Any]]) -> None:
        self._recovered(namespace)
        self._pods = {k: v for k, v in self._pods.items() if not k.startswith(namespace + "/")}
        for pod in pods:
            self._pods[f"{namespace}/{pod['metadata']['name']}"] = pod
        self._evaluate()

    def pod_event(self, namespace: str, kind: str, pod: dict[str, Any]) -> None:
        key = f"{namespace}/{pod['metadata']['name']}"
        if kind == "DELETED":
            self._pods.pop(key, None)
        else:
            self._pods[key] = pod
        self._evaluate()

    def watch_failed(self, namespace: str, err: ClusterError) -> None:
        if str(err) != self._watch_errors.get(namespace):  # a lasting problem is logged once, not every retry
            self.log(f"WARNING: watching pods: {err}; retrying")
            self._watch_errors[namespace] = str(err)
        if isinstance(err, Forbidden):  # RBAC: without the pods there is no readiness to wait for
            self.state.status, self.state.error = "error", f"cannot watch pods in namespace {namespace}: {err}"
            self.on_change()

    def k8s_event(self, namespace: str, event: dict[str, Any]) -> None:
        """Into the resource's log as Tilt writes it: `[event: pod NAME] MESSAGE`
        (`pod NAMESPACE/NAME` outside the default namespace)."""
        involved = event.get("involvedObject") or {}
        where = involved.get("name") or ""
        if involved.get("namespace") not in (None, "", "default"):
            where = f"{involved['namespace']}/{where}"
        kind = str(involved.get("kind") or "pod").lower()
        self.log(f"[event: {kind} {where}] {str(event.get('message') or '').strip()}")

    def owns(self, namespace: str, kind: str, name: str) -> bool:
        if self.manifest.k8s is None or namespace not in self.namespaces:
            return False
        return any(o.get("kind") == kind and (o.get("metadata") or {}).get("name") == name
                   for o in self.manifest.k8s.objects)

    def _recovered(self, namespace: str) -> None:
        self._watch_errors.pop(namespace, None)

    # -- state ------------------------------------------------------------------
    def running_containers(self, image: str) -> list[tuple[str, str, str, str]]:
        """(namespace, pod, container, container ID) of each running container
        that runs `image`, in the pods of the latest rollout."""
        out = []
        for pod in self._current_pods():
            meta, status = pod["metadata"], pod.get("status") or {}
            if meta.get("deletionTimestamp"):
                continue
            wanted = {c["name"] for c in (pod.get("spec") or {}).get("containers") or [] if c.get("image") == image}
            for cs in status.get("containerStatuses") or []:
                if cs.get("name") in wanted and "running" in (cs.get("state") or {}) and cs.get("containerID"):
                    out.append((meta["namespace"], meta["name"], cs["name"], cs["containerID"]))
        return out

    def _current_pods(self) -> list[dict[str, Any]]:
        pods = []
        for pod in self._pods.values():
            labels = (pod.get("metadata") or {}).get("labels") or {}
            template_hash = labels.get(TEMPLATE_HASH_LABEL)
            if self.template_hashes and template_hash not in self.template_hashes:
                continue
            pods.append(pod)
        pods.sort(key=lambda p: (p["metadata"].get("creationTimestamp", ""), p["metadata"]["name"]))
        return pods

    def _evaluate(self) -> None:
        if not self._started:
            return
        current = self._current_pods()
        for pod in current:  # pods of older rollouts (or an earlier run) are not this resource's logs
            self._ensure_log_streams(pod)
        live = [p for p in current if not p["metadata"].get("deletionTimestamp")]
        newest = live[-1] if live else None
        ready = [p for p in live if _pod_ready(p)]
        succeeded = [p for p in live if (p.get("status") or {}).get("phase") == "Succeeded"]
        readiness = self.manifest.k8s.pod_readiness if self.manifest.k8s else "wait"
        problem = pod_problem(newest) if newest else ""
        old = (self.state.status, self.state.error, self.state.pod)
        if problem:
            self.state.status, self.state.error = "error", problem
        elif readiness == "ignore" or (ready and readiness == "wait") or succeeded:
            self.state.status, self.state.error = "ok", ""
        else:
            self.state.status, self.state.error = "pending", ""
        target = ready[-1] if ready else None
        self.state.pod = (newest or {}).get("metadata", {}).get("name", "")
        self.state.pod_phase = ((newest or {}).get("status") or {}).get("phase", "")
        self.state.restarts = sum(cs.get("restartCount", 0) for cs in
                                  ((newest or {}).get("status") or {}).get("containerStatuses") or [])
        if self.forwards is not None:
            live_names = {p["metadata"]["name"] for p in self._pods.values()
                          if not (p.get("metadata") or {}).get("deletionTimestamp")}
            self.forwards.drop_connections_except(live_names)
            self.forwards.set_pod(target["metadata"]["name"] if target else None)
        if old != (self.state.status, self.state.error, self.state.pod):
            if problem and old[1] != problem:
                self.log(f"ERROR: {problem}")
            self.on_change()

    # -- logs -------------------------------------------------------------------
    def _ensure_log_streams(self, pod: dict[str, Any]) -> None:
        meta = pod["metadata"]
        for cs in ((pod.get("status") or {}).get("initContainerStatuses") or []) + \
                ((pod.get("status") or {}).get("containerStatuses") or []):
            container_id = cs.get("containerID") or ""
            state = cs.get("state") or {}
            if not container_id or not ("running" in state or "terminated" in state):
                continue
            key = (meta["namespace"], meta["name"], container_id)
            if key not in self._log_tasks:
                self._log_tasks[key] = asyncio.create_task(
                    self._stream(meta["namespace"], meta["name"], cs["name"], cs.get("restartCount", 0),
                                 container_id))

    async def _stream(self, namespace: str, pod: str, container: str, restarts: int,
                      container_id: str) -> None:
        """Follow one container instance's log. A stream that breaks while the
        container still runs (API server restart) is resumed where it broke."""
        prefix = "" if len(self._containers_of(namespace, pod)) <= 1 else f"[{container}] "
        if restarts:
            self.log(f"Container {container} of pod {pod} restarted ({restarts} restarts)")
        cursor = LogCursor()
        delay = 0.5
        said = ""
        while True:
            try:
                async for batch in self.client.stream_log_batches(namespace, pod, container,
                                                                  since_time=cursor.since_time(), timestamps=True):
                    shown: list[str] = []
                    for line in batch:
                        text = cursor.accept(line)
                        if text is None:
                            continue
                        if text is line:  # no timestamp: the kubelet's own message ("unable to retrieve ...")
                            if text != said:
                                shown.append(prefix + text)
                                said = text
                            continue
                        shown.append(prefix + text if prefix else text)
                        delay, said = 0.5, ""
                    if shown:
                        self.log_lines(shown)
            except Forbidden as err:
                self.log(f"WARNING: cannot stream the logs of pod {pod}: {err}")
                return
            except ClusterError:
                pass
            if not self._still_running(namespace, pod, container_id):
                return  # it ended (its replacement gets its own stream)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)
            if not self._still_running(namespace, pod, container_id):
                return
            cursor.reconnecting()

    def _still_running(self, namespace: str, pod: str, container_id: str) -> bool:
        """Does the watch still see this container instance running?"""
        obj = self._pods.get(f"{namespace}/{pod}")
        if obj is None or (obj.get("metadata") or {}).get("deletionTimestamp"):
            return False
        statuses = ((obj.get("status") or {}).get("initContainerStatuses") or []) + \
            ((obj.get("status") or {}).get("containerStatuses") or [])
        return any(cs.get("containerID") == container_id and "running" in (cs.get("state") or {})
                   for cs in statuses)

    def _containers_of(self, namespace: str, pod: str) -> list[str]:
        spec = (self._pods.get(f"{namespace}/{pod}") or {}).get("spec") or {}
        return [c.get("name", "") for c in spec.get("containers") or []]
