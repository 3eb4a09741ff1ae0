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
30 s); subscribers hear of each failure and of the recovery."""
from __future__ import annotations

import asyncio
import contextlib
from typing import Any, Callable, Protocol

from tiltpy.k8s.client import ClusterError, K8sClient

RETRY_MIN, RETRY_MAX = 2.0, 30.0

Pod = dict[str, Any]


class PodSubscriber(Protocol):
    selector: dict[str, str]  # every one of these labels must match (never empty)

    def pods_listed(self, namespace: str, pods: list[Pod]) -> None:
        """All the matching pods of the namespace, after a (re)list."""

    def pod_event(self, namespace: str, kind: str, pod: Pod) -> None:
        """ADDED, MODIFIED or DELETED (also: no longer matching)."""

    def watch_failed(self, namespace: str, err: ClusterError) -> None:
        """Listing or watching failed; the watch retries."""


def _matches(selector: dict[str, str], pod: Pod) -> bool:
    labels = (pod.get("metadata") or {}).get("labels") or {}
    return all(labels.get(k) == v for k, v in selector.items())


Report = Callable[[str, BaseException], None]  # (what failed, the exception): a bug in a subscriber


class _NamespaceWatch:
    def __init__(self, client: K8sClient, namespace: str, report: Report) -> None:
        self.client = client
        self.namespace = namespace
        self.report = report
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

    def _watch(self, namespace: str) -> _NamespaceWatch:
        watch = self._namespaces.get(namespace)
        if watch is None:
            watch = self._namespaces[namespace] = _NamespaceWatch(self.client, namespace, self.report)
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
            await _cancel(watch.task)

    @property
    def watching(self) -> list[str]:
        return sorted(self._namespaces)

    async def close(self) -> None:
        watches, self._namespaces = list(self._namespaces.values()), {}
        for watch in watches:
            await _cancel(watch.task)


async def _cancel(task: asyncio.Task[None] | None) -> None:
    if task is not None:
        task.cancel()
        with contextlib.suppress(BaseException):
            await task
