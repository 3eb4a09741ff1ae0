"""PortForward against the testbed's real Kubernetes 1.20 API server: many
sequential and concurrent connections, following a replaced pod, failing fast
for a missing pod and recovering afterwards, waiting while there is no pod."""
from __future__ import annotations

import asyncio
import json
import os
import socket
import statistics
import subprocess
import threading
import time
import urllib.request
import uuid
from collections.abc import Callable, Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import pytest

from tiltpy.k8s.connection import ClusterConnection, load_connection
from tiltpy.k8s.portforward import PortForward

pytestmark = pytest.mark.e2e

TESTBED_ENV = "/var/lib/testbed/env"
T = TypeVar("T")


def _testbed_kubeconfig() -> None:
    """`source /var/lib/testbed/env`, for the KUBECONFIG line only."""
    if os.environ.get("KUBECONFIG") or not os.path.exists(TESTBED_ENV):
        return
    with open(TESTBED_ENV, encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if line.startswith("export KUBECONFIG="):
                os.environ["KUBECONFIG"] = line.split("=", 1)[1].strip().strip("'\"")


def kubectl(*args: str, input: str | None = None, check: bool = True, timeout: float = 120) -> str:
    proc = subprocess.run(["kubectl", *args], input=input, capture_output=True, text=True, timeout=timeout)
    if check and proc.returncode != 0:
        raise AssertionError(f"kubectl {' '.join(args)} failed: {proc.stderr.strip()}")
    return proc.stdout


@pytest.fixture(scope="module")
def cluster() -> ClusterConnection:
    _testbed_kubeconfig()
    try:
        subprocess.run(["docker", "version", "--format", "{{.Server.Version}}"], capture_output=True, check=True, timeout=30)
    except (OSError, subprocess.SubprocessError) as e:
        pytest.fail(f"Docker is not available ({e}); start the testbed with ../shared/testbed/up")
    try:
        kubectl("get", "nodes", timeout=30)
    except (OSError, subprocess.SubprocessError, AssertionError) as e:
        pytest.fail(f"the Kubernetes testbed is not reachable ({e}); start it with ../shared/testbed/up "
                    f"and `source {TESTBED_ENV}`")
    return load_connection()


@pytest.fixture(scope="module")
def namespace(cluster: ClusterConnection) -> Iterator[str]:
    ns = f"tiltpy-pf-{uuid.uuid4().hex[:8]}"
    kubectl("create", "namespace", ns)
    # The namespace's default service account appears asynchronously; pods are rejected until it does.
    for _ in range(60):
        if kubectl("-n", ns, "get", "serviceaccount", "default", check=False).strip():
            break
        time.sleep(0.5)
    yield ns
    kubectl("delete", "namespace", ns, "--wait=false", check=False)


def create_pod(ns: str, name: str) -> None:
    pod = {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": ns, "labels": {"app": "pf-test"}},
        "spec": {
            "terminationGracePeriodSeconds": 0,  # httpd as PID 1 ignores SIGTERM
            "automountServiceAccountToken": False,
            "containers": [{
                "name": "web", "image": "busybox", "imagePullPolicy": "Never",
                "command": ["sh", "-c", "mkdir -p /www && echo hello-$(hostname) > /www/index.html"
                                        " && exec httpd -f -p 8080 -h /www"],
                "ports": [{"containerPort": 8080}],
                "readinessProbe": {"exec": {"command": ["test", "-f", "/www/index.html"]}, "periodSeconds": 1},
            }],
        },
    }
    kubectl("apply", "-f", "-", input=json.dumps(pod))
    kubectl("-n", ns, "wait", "--for=condition=Ready", f"pod/{name}", "--timeout=120s", timeout=150)


def delete_pod(ns: str, name: str) -> None:
    kubectl("-n", ns, "delete", "pod", name, "--grace-period=0", "--force", "--wait=true", timeout=150)


class LoopThread:
    """An event loop in a thread, so the blocking HTTP clients of the test can run beside it."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def run(self, coro: Coroutine[Any, Any, T], timeout: float = 30) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def call(self, fn: Callable[[], T]) -> T:
        async def wrapper() -> T:
            return fn()
        return self.run(wrapper())

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(port: int, timeout: float = 10) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/index.html", timeout=timeout) as resp:
        return resp.read().decode().strip()


def test_portforward_follows_pod_and_never_wedges(cluster: ClusterConnection, namespace: str) -> None:
    first, second = "web-a", "web-b"
    create_pod(namespace, first)
    logs: list[str] = []
    port = free_port()
    lt = LoopThread()
    pf = PortForward(cluster, namespace, port, 8080, log=logs.append)
    try:
        lt.run(pf.start())
        lt.call(lambda: pf.set_pod(first))

        # Another listener on the same port must fail with a message naming it.
        clash = PortForward(cluster, namespace, port, 8080, log=logs.append)
        with pytest.raises(OSError, match=str(port)):
            lt.run(clash.start())

        for _ in range(20):
            assert get(port) == f"hello-{first}"
        with ThreadPoolExecutor(10) as pool:
            bodies = list(pool.map(lambda _: get(port), range(10)))
        assert bodies == [f"hello-{first}"] * 10

        latencies = []
        for _ in range(50):
            t0 = time.perf_counter()
            assert get(port) == f"hello-{first}"
            latencies.append(time.perf_counter() - t0)
        print(f"\nport-forward GET latency over 50 requests: median {statistics.median(latencies) * 1000:.1f} ms, "
              f"min {min(latencies) * 1000:.1f} ms, max {max(latencies) * 1000:.1f} ms")

        # The pod goes away while still selected: GETs fail fast instead of hanging. (The
        # first may still be answered through the websocket kept ready to the old pod, if
        # its container outlives the API object; the next ones need a new websocket.)
        delete_pod(namespace, first)
        t0 = time.perf_counter()
        try:
            get(port, timeout=30)
        except OSError:
            pass
        with pytest.raises(OSError):
            get(port, timeout=30)
        assert time.perf_counter() - t0 < 5

        create_pod(namespace, second)
        lt.call(lambda: pf.set_pod(second))
        assert get(port) == f"hello-{second}"

        # A name that doesn't exist: the connection is closed quickly and logged.
        lt.call(lambda: pf.set_pod("no-such-pod"))
        n_logs = len(logs)
        t0 = time.perf_counter()
        with pytest.raises(OSError):
            get(port, timeout=30)
        assert time.perf_counter() - t0 < 5
        assert any("no-such-pod" in line and "not found" in line for line in logs[n_logs:]), logs

        # No pod at all: a connection waits for one, and is answered once there is one.
        lt.call(lambda: pf.set_pod(None))
        with ThreadPoolExecutor(1) as pool:
            t0 = time.perf_counter()
            waiting = pool.submit(get, port, 30)
            time.sleep(1.0)
            assert not waiting.done()
            lt.call(lambda: pf.set_pod(second))
            assert waiting.result(30) == f"hello-{second}"
            assert time.perf_counter() - t0 >= 1.0

        # Back to a real pod: the listener still works.
        for _ in range(5):
            assert get(port) == f"hello-{second}"
        with ThreadPoolExecutor(10) as pool:
            assert list(pool.map(lambda _: get(port), range(10))) == [f"hello-{second}"] * 10
    finally:
        lt.run(pf.stop())
        lt.close()
    # After stop() the port can be listened on again (as a restarted forward would).
    async def relisten() -> None:
        server = await asyncio.start_server(lambda r, w: None, "127.0.0.1", port)
        server.close()
        await server.wait_closed()
    asyncio.run(relisten())
