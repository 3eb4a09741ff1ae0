"""The shared pod watch (one list + watch per namespace, pods dispatched by
label) and the log stream's raw HTTP path, against a small HTTP/1.1 server
on loopback that speaks the API server's list, watch and log answers."""
from __future__ import annotations

import asyncio
import json
import random
from typing import Any

import pytest

from tiltpy.k8s.client import ClusterError, K8sClient, NotFound
from tiltpy.k8s.connection import ClusterConnection
from tiltpy.k8s.credentials import CredentialProvider
from tiltpy.k8s.pod_watch import PodWatches
from tiltpy.k8s.raw_stream import split_lines


def pod(name: str, **labels: str) -> dict[str, Any]:
    return {"metadata": {"name": name, "namespace": "ns", "labels": labels}, "status": {}}


class FakeCluster:
    """Answers GET /api/v1/namespaces/ns/pods (list, or a watch fed by the
    test through `events`) and pod logs (`logs[pod]`, sent as HTTP chunks
    of random sizes); counts the requests."""

    def __init__(self) -> None:
        self.pods: list[dict[str, Any]] = []
        self.events: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue()
        self.k8s_events: list[dict[str, Any]] = []  # the namespace's Event objects, listed
        self.k8s_event_changes: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue()
        self.objects: dict[str, dict[str, Any]] = {}  # GET path -> object
        self.logs: dict[str, bytes] = {}
        self.requests: list[str] = []
        self.watching = 0
        self.server: asyncio.Server | None = None

    async def __aenter__(self) -> K8sClient:
        self.server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        url = f"http://127.0.0.1:{self.server.sockets[0].getsockname()[1]}"
        return K8sClient(ClusterConnection(server=url, credentials=CredentialProvider(server=url, user="u", tls=None),
                                           namespace="ns", context="ctx"))

    async def __aexit__(self, *exc: Any) -> None:
        assert self.server is not None
        self.server.close()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = (await reader.readuntil(b"\r\n\r\n")).decode()
                target = head.split(" ")[1]
                self.requests.append(target)
                path, _, query = target.partition("?")
                if path.endswith("/log"):
                    await self._log(path.split("/")[-2], writer)
                    return
                if path in self.objects:
                    body = json.dumps(self.objects[path]).encode()
                    writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                                 b"Content-Length: %d\r\n\r\n%s" % (len(body), body))
                    await writer.drain()
                    continue
                if path.endswith("/events"):
                    if "watch=1" in query:
                        await self._watch(reader, writer, self.k8s_event_changes, counted=False)
                        return
                    items = self.k8s_events
                elif "watch=1" in query:
                    await self._watch(reader, writer, self.events)
                    return
                else:
                    items = self.pods
                body = json.dumps({"items": items, "metadata": {"resourceVersion": "1"}}).encode()
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                             b"Content-Length: %d\r\n\r\n%s" % (len(body), body))
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    async def _watch(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                     queue: asyncio.Queue[dict[str, Any] | None], counted: bool = True) -> None:
        self.watching += counted
        writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
        client_gone = asyncio.ensure_future(reader.read())
        try:
            while True:
                next_event = asyncio.ensure_future(queue.get())
                await asyncio.wait({next_event, client_gone}, return_when=asyncio.FIRST_COMPLETED)
                if not next_event.done():
                    next_event.cancel()
                    return
                if (event := next_event.result()) is None:
                    writer.write(b"0\r\n\r\n")
                    return
                data = json.dumps(event).encode() + b"\n"
                writer.write(b"%x\r\n%s\r\n" % (len(data), data))
                await writer.drain()
        finally:
            client_gone.cancel()
            self.watching -= counted

    async def _log(self, name: str, writer: asyncio.StreamWriter) -> None:
        if name not in self.logs:
            body = json.dumps({"kind": "Status", "message": f'pods "{name}" not found'}).encode()
            writer.write(b"HTTP/1.1 404 Not Found\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
            return
        data = self.logs[name]
        writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
        rng = random.Random(7)
        pos = 0
        while pos < len(data):  # chunks that cut lines anywhere, and bytes written in odd pieces
            size = rng.choice([1, 3, 50, 201, 4000])
            piece = data[pos:pos + size]
            pos += size
            frame = b"%x\r\n%s\r\n" % (len(piece), piece)
            cut = rng.randrange(len(frame))
            writer.write(frame[:cut])
            await writer.drain()
            writer.write(frame[cut:])
        writer.write(b"0\r\n\r\n")
        await writer.drain()


class Recorder:
    def __init__(self, **selector: str) -> None:
        self.selector = selector
        self.seen: list[tuple[str, str]] = []
        self.deployed: set[tuple[str, str]] = set()  # (kind, name)

    def owns(self, namespace: str, kind: str, name: str) -> bool:
        return (kind, name) in self.deployed

    def pods_listed(self, namespace: str, pods: list[dict[str, Any]]) -> None:
        self.seen.append(("LISTED", ",".join(p["metadata"]["name"] for p in pods)))

    def pod_event(self, namespace: str, kind: str, pod: dict[str, Any]) -> None:
        self.seen.append((kind, pod["metadata"]["name"]))

    def watch_failed(self, namespace: str, err: ClusterError) -> None:
        self.seen.append(("FAILED", str(err)))

    def k8s_event(self, namespace: str, event: dict[str, Any]) -> None:
        self.seen.append(("EVENT", f"{event['involvedObject']['name']}: {event['message']}"))


async def _until(condition: Any, timeout: float = 5) -> None:
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.01)


def test_one_watch_per_namespace_dispatched_by_label() -> None:
    async def scenario() -> None:
        fake = FakeCluster()
        fake.pods = [pod("a-1", res="a"), pod("b-1", res="b"), pod("other", app="x")]
        async with fake as client:
            watches = PodWatches(client)
            a, b = Recorder(res="a"), Recorder(res="b")
            watches.subscribe("ns", a)
            watches.subscribe("ns", b)
            await _until(lambda: fake.watching == 1 and a.seen and b.seen)
            late = Recorder(res="a", tier="web")
            watches.subscribe("ns", late)  # the namespace is listed: it is told at once, no new request
            assert late.seen == [("LISTED", "")]
            for event in [{"type": "ADDED", "object": pod("a-2", res="a", tier="web")},
                          {"type": "MODIFIED", "object": pod("b-1", res="a")},  # relabelled: b loses it
                          {"type": "DELETED", "object": pod("a-1", res="a")},
                          {"type": "ADDED", "object": pod("c-1", res="c")}]:
                fake.events.put_nowait(event)
            await _until(lambda: len(a.seen) == 4 and len(b.seen) == 2)
            assert a.seen == [("LISTED", "a-1"), ("ADDED", "a-2"), ("MODIFIED", "b-1"), ("DELETED", "a-1")]
            assert b.seen == [("LISTED", "b-1"), ("DELETED", "b-1")]
            assert late.seen == [("LISTED", ""), ("ADDED", "a-2")]
            lists = [r for r in fake.requests if "watch=1" not in r and "/pods" in r]
            assert len(lists) == 1 and fake.watching == 1  # three subscribers, one list, one watch
            for subscriber in (a, b):
                await watches.unsubscribe("ns", subscriber)
            assert watches.watching == ["ns"]
            await watches.unsubscribe("ns", late)
            assert watches.watching == []
            await _until(lambda: fake.watching == 0)  # the last one out ends the watch
            await client.close()

    asyncio.run(scenario())


def test_the_watch_lists_again_after_the_server_ends_it() -> None:
    async def scenario() -> None:
        fake = FakeCluster()
        fake.pods = [pod("a-1", res="a")]
        async with fake as client:
            watches = PodWatches(client)
            a = Recorder(res="a")
            watches.subscribe("ns", a)
            await _until(lambda: fake.watching == 1)
            fake.pods = [pod("a-2", res="a")]
            fake.events.put_nowait(None)  # the server ends the watch
            await _until(lambda: ("LISTED", "a-2") in a.seen and fake.watching == 1)
            await watches.close()
            await client.close()

    asyncio.run(scenario())


def test_a_subscriber_bug_is_reported_and_the_others_go_on() -> None:
    reported: list[str] = []

    class Broken(Recorder):
        def pod_event(self, namespace: str, kind: str, pod: dict[str, Any]) -> None:
            raise RuntimeError("bug")

    async def scenario() -> None:
        fake = FakeCluster()
        async with fake as client:
            watches = PodWatches(client, report=lambda what, err: reported.append(f"{what}: {err}"))
            broken, fine = Broken(res="a"), Recorder(res="a")
            watches.subscribe("ns", broken)
            watches.subscribe("ns", fine)
            await _until(lambda: fake.watching == 1)
            fake.events.put_nowait({"type": "ADDED", "object": pod("a-1", res="a")})
            fake.events.put_nowait({"type": "ADDED", "object": pod("a-2", res="a")})
            await _until(lambda: len(fine.seen) == 3)
            await watches.close()
            await client.close()

    asyncio.run(scenario())
    assert reported == ["following pods in namespace ns: bug"] * 2


def test_log_stream_read_in_blocks_gives_every_line_once_in_order() -> None:
    lines = [f"2026-12-02T13:00:{i // 1000:02d}.{i:09d}Z line {i} " + "x" * (i % 300) for i in range(5000)]
    lines.insert(17, "2026-12-02T13:00:00.1Z with é and a \r")  # UTF-8, a CR before the newline

    async def scenario() -> list[str]:
        fake = FakeCluster()
        fake.logs["p"] = ("\n".join(lines) + "\nno newline at the end").encode()
        async with fake as client:
            got: list[str] = []
            batches = 0
            async for batch in client.stream_log_batches("ns", "p", "c", timestamps=True):
                got += batch
                batches += 1
            with pytest.raises(NotFound, match='pods "q" not found'):
                async for _ in client.stream_log_batches("ns", "q", "c"):
                    pass
            await client.close()
            assert batches < len(got) / 5  # blocks, not a call per line
            return got

    got = asyncio.run(scenario())
    expected = [line.rstrip("\r") for line in lines] + ["no newline at the end"]
    assert got == expected


def test_split_lines_keeps_memory_bounded() -> None:
    lines, rest = split_lines(b"ab", b"c\nde\nf", max_line=10)
    assert (lines, rest) == ([b"abc", b"de"], b"f")
    lines, rest = split_lines(b"", b"x" * 11, max_line=10)
    assert (lines, rest) == ([b"x" * 11], b"")


def k8s_event(uid: str, pod_name: str, message: str, *, type_: str = "Warning", reason: str = "BackOff",
              created: str = "2999-01-01T00:00:00Z", count: int = 1) -> dict[str, Any]:
    return {"metadata": {"uid": uid, "name": f"{pod_name}.{uid}", "creationTimestamp": created},
            "involvedObject": {"kind": "Pod", "name": pod_name, "namespace": "ns"},
            "type": type_, "reason": reason, "message": message, "count": count, "lastTimestamp": created}


def test_kubernetes_events_reach_the_subscribers_of_their_pod_as_tilt_chooses_them() -> None:
    async def scenario() -> None:
        fake = FakeCluster()
        fake.pods = [pod("a-1", res="a"), pod("b-1", res="b")]
        fake.k8s_events = [
            k8s_event("1", "a-1", "Back-off restarting failed container"),
            k8s_event("2", "a-1", "Started container", type_="Normal", reason="Started"),  # not worth a line
            k8s_event("3", "a-1", "Pulling image \"a\"", type_="Normal", reason="Pulling"),
            k8s_event("4", "b-1", "old news", created="2000-01-01T00:00:00Z"),  # from before tiltpy started
        ]
        async with fake as client:
            watches = PodWatches(client)
            a, b = Recorder(res="a"), Recorder(res="b")
            watches.subscribe("ns", a)
            watches.subscribe("ns", b)
            await _until(lambda: ("EVENT", 'a-1: Pulling image "a"') in a.seen)
            assert [e for e in a.seen if e[0] == "EVENT"] == [
                ("EVENT", "a-1: Back-off restarting failed container"), ("EVENT", 'a-1: Pulling image "a"')]
            # An update of an event is told; the same update again (a relist) is not.
            await fake.k8s_event_changes.put({"type": "MODIFIED", "object": k8s_event(
                "1", "a-1", "Back-off restarting failed container", count=2)})
            await fake.k8s_event_changes.put({"type": "MODIFIED", "object": k8s_event(
                "1", "a-1", "Back-off restarting failed container", count=2)})
            # An event about a pod the pod watch has not told of yet waits for it.
            await fake.k8s_event_changes.put({"type": "ADDED", "object": k8s_event(
                "5", "b-2", "0/1 nodes are available", reason="FailedScheduling")})
            await _until(lambda: len([e for e in a.seen if e[0] == "EVENT"]) == 3)
            await asyncio.sleep(0.1)
            assert not [e for e in b.seen if e[0] == "EVENT"]
            await fake.events.put({"type": "ADDED", "object": pod("b-2", res="b")})
            await _until(lambda: ("EVENT", "b-2: 0/1 nodes are available") in b.seen)
            assert len([e for e in a.seen if e[0] == "EVENT"]) == 3
            await watches.close()

    asyncio.run(scenario())


def test_a_pod_monitor_logs_an_event_as_tilt_does() -> None:
    from tiltpy.engine.pod_monitor import PodMonitor

    logs: list[str] = []
    monitor = PodMonitor.__new__(PodMonitor)  # only the logging is exercised
    monitor.log = logs.append
    monitor.k8s_event("default", k8s_event("1", "web-1", " Readiness probe failed: HTTP probe failed \n"))
    elsewhere = k8s_event("2", "web-2", "Back-off pulling image")
    elsewhere["involvedObject"]["namespace"] = "team"
    monitor.k8s_event("team", elsewhere)
    default = k8s_event("3", "web-3", "Pulling image \"web\"", type_="Normal", reason="Pulling")
    default["involvedObject"]["namespace"] = "default"
    monitor.k8s_event("default", default)
    assert logs == ["[event: pod ns/web-1] Readiness probe failed: HTTP probe failed",
                    "[event: pod team/web-2] Back-off pulling image",
                    '[event: pod web-3] Pulling image "web"']


def test_events_about_other_objects_go_to_who_deployed_them_or_a_replica_sets_owner() -> None:
    async def scenario() -> None:
        fake = FakeCluster()
        fake.objects["/apis/apps/v1/namespaces/ns/replicasets/web-5d4f"] = {
            "metadata": {"name": "web-5d4f", "ownerReferences": [{"kind": "Deployment", "name": "web"}]}}
        quota = k8s_event("1", "web-5d4f", 'Error creating: pods "web-5d4f-x" is forbidden: exceeded quota',
                          reason="FailedCreate")
        quota["involvedObject"]["kind"] = "ReplicaSet"
        job = k8s_event("2", "migrate", "Job has reached the specified backoff limit", reason="BackoffLimitExceeded")
        job["involvedObject"]["kind"] = "Job"
        stranger = k8s_event("3", "someone-else", "not ours", reason="FailedCreate")
        stranger["involvedObject"]["kind"] = "ReplicaSet"
        fake.k8s_events = [quota, job, stranger]
        async with fake as client:
            watches = PodWatches(client)
            web, migrate = Recorder(res="web"), Recorder(res="migrate")
            web.deployed.add(("Deployment", "web"))
            migrate.deployed.add(("Job", "migrate"))
            watches.subscribe("ns", web)
            watches.subscribe("ns", migrate)
            await _until(lambda: any(e[0] == "EVENT" for e in web.seen) and any(e[0] == "EVENT" for e in migrate.seen))
            await asyncio.sleep(0.1)
            assert [e for e in web.seen if e[0] == "EVENT"] == [
                ("EVENT", 'web-5d4f: Error creating: pods "web-5d4f-x" is forbidden: exceeded quota')]
            assert [e for e in migrate.seen if e[0] == "EVENT"] == [
                ("EVENT", "migrate: Job has reached the specified backoff limit")]
            lookups = [r for r in fake.requests if "replicasets" in r]
            assert lookups == ["/apis/apps/v1/namespaces/ns/replicasets/web-5d4f",
                               "/apis/apps/v1/namespaces/ns/replicasets/someone-else"]
            await watches.close()

    asyncio.run(scenario())
