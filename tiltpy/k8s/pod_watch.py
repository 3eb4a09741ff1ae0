"""One pod watch per namespace, shared by every resource that follows pods
there, each pod handed to the subscribers whose label selector it matches.

A watch per resource would hold one API-server connection (and one stream
of events) per resource: 200 services, 200 watches. Here 200 services in a
namespace share one list + watch; a subscriber registers the labels its pods
carry (`tiltpy.dev/resource=<name>`, or a custom deploy's matchLabels) and is
told about the pods that match, as a label-selector watch would: a full set
after each (re)list, then ADDED / MODIFIED / DELETED (a pod whose labels stop
matching is DELETED for that subscriber).

The watch lists again after the server ends it or answers ERROR (e.g. a
resourceVersion too old), and retries failures with backoff (2 s doubling to
30 s); subscribers hear of each failure and of the recovery.

Beside it, one watch of the namespace's Kubernetes events: as in Tilt,
warnings (FailedScheduling, BackOff, Unhealthy probes, FailedMount, a
ReplicaSet's FailedCreate, ...) and the Normal Pulling / Pulled of images,
created since tiltpy started, each update of an event once. An event about
a pod goes to the subscribers of that pod (one that arrives before its pod
waits for it); about another object, to the subscribers that deployed it or,
for a ReplicaSet, its owner (looked up once per ReplicaSet)."""
from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any, Callable, Protocol

from tiltpy.k8s.client import ClusterError, Forbidden, K8sClient

RETRY_MIN, RETRY_MAX = 2.0, 30.0
LOGGED_EVENTS = frozenset({"Pulling", "Pulled"})  # the Normal events worth a log line (Tilt's ShouldLogEvent)
MAX_PENDING_EVENTS = 200  # events about pods not seen yet, per namespace
MAX_TOLD_EVENTS = 5000  # updates already told, per namespace (so a relist repeats none)

Pod = dict[str, Any]


class PodSubscriber(Protocol):
    selector: dict[str, str]  # every one of these labels must match (never empty)

    def pods_listed(self, namespace: str, pods: list[Pod]) -> None:
        """All the matching pods of the namespace, after a (re)list."""

    def pod_event(self, namespace: str, kind: str, pod: Pod) -> None:
        """ADDED, MODIFIED or DELETED (also: no longer matching)."""

    def watch_failed(self, namespace: str, err: ClusterError) -> None:
        """Listing or watching failed; the watch retries."""

    def k8s_event(self, namespace: str, event: dict[str, Any]) -> None:
        """A Kubernetes event (core/v1 Event) about one of the matching pods,
        or about an object this subscriber owns."""

    def owns(self, namespace: str, kind: str, name: str) -> bool:
        """Did this subscriber deploy that object (its events are its own)?"""


def worth_logging(event: dict[str, Any], since: str) -> bool:
    """Tilt's rule: a warning, or an image being pulled; and not from before we started."""
    created = (event.get("metadata") or {}).get("creationTimestamp") or ""
    return created >= since and (event.get("type") != "Normal" or event.get("reason") in LOGGED_EVENTS)


def _matches(selector: dict[str, str], pod: Pod) -> bool:
    labels = (pod.get("metadata") or {}).get("labels") or {}
    return all(labels.get(k) == v for k, v in selector.items())


Report = Callable[[str, BaseException], None]  # (what failed, the exception): a bug in a subscriber


class _NamespaceWatch:
    def __init__(self, client: K8sClient, namespace: str, report: Report, since: str) -> None:
        self.client = client
        self.namespace = namespace
        self.report = report
        self.since = since  # RFC 3339, whole seconds: events created before are not told
        self.events_task: asyncio.Task[None] | None = None
        self._told: dict[str, tuple[Any, ...]] = {}  # event uid -> the update told
        self._pending: dict[str, list[dict[str, Any]]] = {}  # pod name -> events that came before it
        self._replica_set_owners: dict[str, list[tuple[str, str]]] = {}  # name -> owners' (kind, name)
        self._awaiting_owners: dict[str, list[dict[str, Any]]] = {}  # ReplicaSet name -> events, while looked up
        self._lookups: set[asyncio.Task[None]] = set()
        self.pods: dict[str, Pod] = {}
        self.listed = False
        # Subscribers by one of their selector's labels (the first, sorted):
        # a pod is offered only to the subscribers of the labels it carries.
        self._by_label: dict[tuple[str, str], list[PodSubscriber]] = {}
        self.task: asyncio.Task[None] | None = None

        self.pinned = False  # watched ahead of its subscribers (see PodWatches.pin)

    @property
    def empty(self) -> bool:
        return not self._by_label and not self.pinned

    def add(self, subscriber: PodSubscriber) -> None:
        key = min(subscriber.selector.items())
        self._by_label.setdefault(key, []).append(subscriber)
        if self.listed:
            self._tell(subscriber.pods_listed, [p for p in self.pods.values() if _matches(subscriber.selector, p)])
        self.start()

    def start(self) -> None:
        if self.task is None:
            self.task = asyncio.create_task(self._run(), name=f"pod watch {self.namespace}")
        if self.events_task is None:
            self.events_task = asyncio.create_task(self._run_events(), name=f"event watch {self.namespace}")

    async def stop(self) -> None:
        for task in [self.task, self.events_task, *self._lookups]:
            await _cancel(task)

    def remove(self, subscriber: PodSubscriber) -> None:
        key = min(subscriber.selector.items())
        subscribers = self._by_label.get(key, [])
        if subscriber in subscribers:
            subscribers.remove(subscriber)
        if not subscribers:
            self._by_label.pop(key, None)

    def _subscribers_of(self, pod: Pod | None) -> list[PodSubscriber]:
        if pod is None:
            return []
        labels = (pod.get("metadata") or {}).get("labels") or {}
        found: list[PodSubscriber] = []
        for item in labels.items():
            for subscriber in self._by_label.get(item, ()):
                if _matches(subscriber.selector, pod):
                    found.append(subscriber)
        return found

    def _all_subscribers(self) -> list[PodSubscriber]:
        return [s for subscribers in self._by_label.values() for s in subscribers]

    async def _run(self) -> None:
        path = f"/api/v1/namespaces/{self.namespace}/pods"
        retry_in = RETRY_MIN
        while True:
            try:
                pods, version = await self.client.list_pods(self.namespace, "")
                retry_in = RETRY_MIN
                self.pods = {p["metadata"]["name"]: p for p in pods}
                self.listed = True
                for subscriber in self._all_subscribers():
                    self._tell(subscriber.pods_listed, [p for p in pods if _matches(subscriber.selector, p)])
                for name in [n for n in self._pending if n in self.pods]:
                    for k8s_event in self._pending.pop(name):
                        self._event(k8s_event)
                async for event in self.client.watch(path, {"resourceVersion": version}):
                    kind, pod = event.get("type"), event.get("object") or {}
                    if kind == "BOOKMARK":
                        continue
                    if kind == "ERROR":
                        break  # e.g. resourceVersion too old: list again
                    self._apply(str(kind), pod)
            except asyncio.CancelledError:
                raise
            except ClusterError as err:
                for subscriber in self._all_subscribers():
                    self._tell(subscriber.watch_failed, err)
                await asyncio.sleep(retry_in)
                retry_in = min(retry_in * 2, RETRY_MAX)

    def _apply(self, kind: str, pod: Pod) -> None:
        name = (pod.get("metadata") or {}).get("name", "")
        before = self.pods.get(name)
        if kind == "DELETED":
            self.pods.pop(name, None)
            for subscriber in self._subscribers_of(pod) or self._subscribers_of(before):
                self._tell(subscriber.pod_event, "DELETED", pod)
            return
        self.pods[name] = pod
        now = self._subscribers_of(pod)
        for subscriber in self._subscribers_of(before):
            if subscriber not in now:  # its labels changed: gone, for this subscriber
                self._tell(subscriber.pod_event, "DELETED", pod)
        for subscriber in now:
            self._tell(subscriber.pod_event, kind, pod)
        for k8s_event in self._pending.pop(name, []):
            self._event(k8s_event)

    async def _run_events(self) -> None:
        path = f"/api/v1/namespaces/{self.namespace}/events"
        params: dict[str, str] = {}
        retry_in = RETRY_MIN
        while True:
            try:
                listed = await self.client.get_path_params(path, params)
                retry_in = RETRY_MIN
                for k8s_event in listed.get("items") or []:
                    self._event(k8s_event)
                version = (listed.get("metadata") or {}).get("resourceVersion", "")
                async for change in self.client.watch(path, {**params, "resourceVersion": version}):
                    kind = change.get("type")
                    if kind == "ERROR":
                        break  # list again
                    if kind in ("ADDED", "MODIFIED"):
                        self._event(change.get("object") or {})
            except asyncio.CancelledError:
                raise
            except Forbidden:
                return  # no right to read events here: pods are still followed, without them
            except ClusterError:  # the pod watch tells subscribers of the cluster's failures
                await asyncio.sleep(retry_in)
                retry_in = min(retry_in * 2, RETRY_MAX)
            except Exception as err:  # noqa: BLE001 - a bug of ours: reported, and the watch goes on
                self.report(f"following events in namespace {self.namespace}", err)
                await asyncio.sleep(retry_in)
                retry_in = min(retry_in * 2, RETRY_MAX)

    def _event(self, k8s_event: dict[str, Any]) -> None:
        if not worth_logging(k8s_event, self.since):
            return
        meta = k8s_event.get("metadata") or {}
        key = meta.get("uid") or meta.get("name") or ""
        update = (k8s_event.get("count"), k8s_event.get("lastTimestamp"), k8s_event.get("message"))
        if self._told.get(key) == update:
            return  # seen again after a relist
        involved = k8s_event.get("involvedObject") or {}
        kind, name = str(involved.get("kind") or ""), str(involved.get("name") or "")
        if kind != "Pod":
            self._object_event(k8s_event, kind, name, key, update)
            return
        pod = self.pods.get(name)
        if pod is None:  # the pod watch has not told of it yet
            self._pending.setdefault(name, []).append(k8s_event)
            while sum(len(v) for v in self._pending.values()) > MAX_PENDING_EVENTS:
                del self._pending[next(iter(self._pending))]
            return
        self._tell_event(self._subscribers_of(pod), k8s_event, key, update)

    def _tell_event(self, subscribers: list[PodSubscriber], k8s_event: dict[str, Any], key: str,
                    update: tuple[Any, ...]) -> None:
        self._told[key] = update
        if len(self._told) > MAX_TOLD_EVENTS:
            for old in list(self._told)[:MAX_TOLD_EVENTS // 2]:
                del self._told[old]
        for subscriber in subscribers:
            self._tell(subscriber.k8s_event, k8s_event)

    def _owners_of(self, kind: str, name: str) -> list[PodSubscriber]:
        owners = []
        for subscriber in self._all_subscribers():
            try:
                if subscriber.owns(self.namespace, kind, name):
                    owners.append(subscriber)
            except Exception as err:  # noqa: BLE001 - reported; the others still hear of it
                self.report(f"following events in namespace {self.namespace}", err)
        return owners

    def _object_event(self, k8s_event: dict[str, Any], kind: str, name: str, key: str,
                      update: tuple[Any, ...]) -> None:
        owners = self._owners_of(kind, name)
        if not owners and kind == "ReplicaSet":  # a Deployment's: its owner is what was deployed
            if name in self._awaiting_owners:
                self._awaiting_owners[name].append(k8s_event)
                return
            if name not in self._replica_set_owners:
                self._awaiting_owners[name] = [k8s_event]
                task = asyncio.ensure_future(self._look_up_owners(name))
                self._lookups.add(task)
                task.add_done_callback(self._lookups.discard)
                return
            owners = [s for owner_kind, owner in self._replica_set_owners[name]
                      for s in self._owners_of(owner_kind, owner)]
        if owners:
            self._tell_event(owners, k8s_event, key, update)

    async def _look_up_owners(self, name: str) -> None:
        try:
            replica_set = await self.client.get_path(f"/apis/apps/v1/namespaces/{self.namespace}/replicasets/{name}")
            refs = (replica_set.get("metadata") or {}).get("ownerReferences") or []
            owners = [(str(r.get("kind") or ""), str(r.get("name") or "")) for r in refs]
        except asyncio.CancelledError:
            raise
        except ClusterError:
            owners = []  # gone, or not ours to read: its events stay unattributed
        except Exception as err:  # noqa: BLE001 - a bug of ours: reported, not left in a dropped task
            self.report(f"following events in namespace {self.namespace}", err)
            owners = []
        self._replica_set_owners[name] = owners
        if len(self._replica_set_owners) > MAX_TOLD_EVENTS:
            del self._replica_set_owners[next(iter(self._replica_set_owners))]
        for k8s_event in self._awaiting_owners.pop(name, []):
            self._event(k8s_event)

    def _tell(self, method: Callable[..., None], *args: Any) -> None:
        """One subscriber's bug must not end the watch the others share."""
        try:
            method(self.namespace, *args)
        except Exception as err:  # noqa: BLE001 - reported, and the watch goes on
            self.report(f"following pods in namespace {self.namespace}", err)


class PodWatches:
    """The shared pod watches of one cluster connection."""

    def __init__(self, client: K8sClient, report: Report = lambda what, err: None) -> None:
        self.client = client
        self.report = report
        self._namespaces: dict[str, _NamespaceWatch] = {}
        self.since = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())  # events from now on

    def _watch(self, namespace: str) -> _NamespaceWatch:
        watch = self._namespaces.get(namespace)
        if watch is None:
            watch = self._namespaces[namespace] = _NamespaceWatch(self.client, namespace, self.report, self.since)
        return watch

    def subscribe(self, namespace: str, subscriber: PodSubscriber) -> None:
        self._watch(namespace).add(subscriber)

    def pin(self, namespace: str) -> None:
        """Watch `namespace` from now on, subscribers or not: a resource that
        will deploy there finds its pods already listed once it has applied."""
        watch = self._watch(namespace)
        watch.pinned = True
        watch.start()

    async def unsubscribe(self, namespace: str, subscriber: PodSubscriber) -> None:
        """Stop telling `subscriber`; the namespace's watch ends with its last subscriber."""
        watch = self._namespaces.get(namespace)
        if watch is None:
            return
        watch.remove(subscriber)
        if watch.empty:
            del self._namespaces[namespace]
            await watch.stop()

    @property
    def watching(self) -> list[str]:
        return sorted(self._namespaces)

    async def close(self) -> None:
        watches, self._namespaces = list(self._namespaces.values()), {}
        for watch in watches:
            await watch.stop()


async def _cancel(task: asyncio.Task[None] | None) -> None:
    if task is not None:
        task.cancel()
        with contextlib.suppress(BaseException):
            await task
