"""Faults injected on the testbed while `up` runs: the API server restarted,
the pod deleted, a crash loop fixed by a save, a port-forward's pod killed
mid-request, the Docker Engine restarted. Each checks what the user sees."""
from __future__ import annotations

import json
import re
import socket
import subprocess
import time
from pathlib import Path

import pytest

from tests.e2e.harness import REPO, Up, http_get, live_pods, tiltpy
from tests.k8s_yaml import deployment

pytestmark = pytest.mark.e2e

TESTBED_UP = REPO.parent / "shared" / "testbed" / "up"
PIDS = Path("/var/lib/testbed/pids")

# Prints a numbered tick every 0.2 s and serves its own pod name.
SERVER = ("mkdir -p /www && hostname > /www/index.html && httpd -p {port} -h /www && "
          "i=0; while true; do i=$((i+1)); echo tick $i; sleep 0.2; done")


def _project(root: Path, name: str, port: int, command: str | None = None) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "Dockerfile").write_text("FROM busybox\nCOPY version.txt /version.txt\n")
    (root / "version.txt").write_text(f"{time.time_ns()}\n")
    (root / "k8s.yaml").write_text(deployment(name, f"{name}-image", command or SERVER.format(port=port)))
    (root / "Tiltfile").write_text(f"k8s_yaml('k8s.yaml')\ndocker_build('{name}-image', '.')\n"
                                   f"k8s_resource('{name}', port_forwards={port})\n")
    return root


def _ticks(output: str) -> list[int]:
    return [int(m.group(1)) for m in re.finditer(r"│ tick (\d+)$", output, re.M)]


def _kill_daemon(name: str) -> None:
    """Stop one of the testbed's daemons (SIGTERM, then SIGKILL after 10 s)."""
    pid = int((PIDS / f"{name}.pid").read_text())
    subprocess.run(["kill", str(pid)], check=True)
    deadline = time.monotonic() + 10
    while Path(f"/proc/{pid}").exists():
        if time.monotonic() > deadline:
            subprocess.run(["kill", "-9", str(pid)])
            deadline = time.monotonic() + 10
        time.sleep(0.2)


def _restart_testbed() -> None:
    """The testbed's `up` starts whatever is not running."""
    for attempt in range(2):
        done = subprocess.run([str(TESTBED_UP)], capture_output=True, text=True, timeout=600)
        if done.returncode == 0:
            return
    raise AssertionError(f"the testbed did not come back: {done.stderr[-2000:]}")


def _pod_names(name: str) -> list[str]:
    return [p["metadata"]["name"] for p in live_pods(f"app={name}")]


def test_api_server_restart_loses_and_repeats_no_log_line(testbed: dict, tmp_path: Path) -> None:
    name, port = "tiltpy-e2e-apirestart", 8096
    project = _project(tmp_path / "api", name, port)
    up = Up(project, "--port", "10372")
    try:
        up.wait_for(r"│ tick 5$", timeout=240)
        pod = http_get(f"http://localhost:{port}/index.html").strip()
        _kill_daemon("apiserver")
        time.sleep(4)  # the pod keeps printing while nobody can read its logs
        _restart_testbed()
        mark = up.mark()
        # Ticks printed during the outage arrive, and the stream follows on.
        last_before = max(_ticks(up.output))
        up.wait_for(rf"│ tick {last_before + 40}$", timeout=120, start=mark)
        ticks = _ticks(up.output)
        assert ticks == list(range(1, ticks[-1] + 1)), "a tick was lost or repeated"
        # The port-forward and the status are right again.
        assert http_get(f"http://localhost:{port}/index.html", timeout=60).strip() == pod
        up.wait_for(rf"Forwarding .* of pod {pod}", timeout=5)
        status = json.loads(tiltpy("get", name, "-o", "json", "--port", "10372", cwd=project).stdout)
        assert (status["updateStatus"], status["runtimeStatus"]) == ("ok", "ok")
    finally:
        up.stop()
        tiltpy("down", cwd=project)


def test_deleted_pod_is_followed_and_a_crash_loop_is_fixed_by_a_save(testbed: dict, tmp_path: Path) -> None:
    name, port = "tiltpy-e2e-podfault", 8097
    project = _project(tmp_path / "pod", name, port)
    up = Up(project, "--port", "0")
    try:
        first = http_get(f"http://localhost:{port}/index.html", timeout=240).strip()
        subprocess.run(["kubectl", "delete", "pod", first, "--wait=false"], check=True, capture_output=True)
        deadline = time.monotonic() + 120
        while True:
            try:
                second = http_get(f"http://localhost:{port}/index.html", timeout=5).strip()
            except AssertionError:
                second = ""
            if second and second != first:
                break
            assert time.monotonic() < deadline, "the forward never reached the new pod"
            time.sleep(0.5)
        mark = up.mark()
        up.wait_for(r"│ tick \d+$", start=mark, timeout=60)  # the new pod's logs stream
        # Break it: the container crash-loops; the resource says so.
        (project / "k8s.yaml").write_text(deployment(name, f"{name}-image", "echo about to crash; exit 3"))
        up.wait_for(r"exited with code 3|CrashLoopBackOff", start=mark, timeout=180)
        # Fix it with a save: it runs and serves again.
        mark = up.mark()
        (project / "k8s.yaml").write_text(deployment(name, f"{name}-image", SERVER.format(port=port)))
        up.wait_for(r"│ tick 3$", start=mark, timeout=180)
        assert http_get(f"http://localhost:{port}/index.html", timeout=60).strip().startswith(name)
    finally:
        up.stop()
        tiltpy("down", cwd=project)


def test_port_forward_pod_killed_mid_request(testbed: dict, tmp_path: Path) -> None:
    name, port = "tiltpy-e2e-pfkill", 8098
    project = _project(tmp_path / "pf", name, port)
    up = Up(project, "--port", "0")
    try:
        first = http_get(f"http://localhost:{port}/index.html", timeout=240).strip()
        # A request in flight: the connection is open, the request not finished.
        held = socket.create_connection(("127.0.0.1", port), timeout=10)
        held.sendall(b"GET /index.html HTTP/1.1\r\nHost: x\r\n")
        time.sleep(0.5)
        subprocess.run(["kubectl", "delete", "pod", first, "--grace-period=0", "--force"],
                       check=True, capture_output=True)
        held.settimeout(30)
        killed = time.monotonic()
        try:
            got = held.recv(4096)
        except OSError:
            got = b""
        held.close()
        # That connection failed, at once: no answer from the dead pod, no wait for a timeout.
        assert first.encode() not in got
        assert time.monotonic() - killed < 10
        # The next connection reaches the new pod.
        deadline = time.monotonic() + 120
        while True:
            try:
                answer = http_get(f"http://localhost:{port}/index.html", timeout=5).strip()
            except AssertionError:
                answer = ""
            if answer and answer != first:
                break
            assert time.monotonic() < deadline, "no new pod behind the forward"
            time.sleep(0.5)
        assert answer in _pod_names(name)
    finally:
        up.stop()
        tiltpy("down", cwd=project)


def test_docker_engine_restart(testbed: dict, tmp_path: Path) -> None:
    name, port = "tiltpy-e2e-dockerd", 8099
    project = _project(tmp_path / "dockerd", name, port)
    up = Up(project, "--port", "0")
    restarted = False
    try:
        http_get(f"http://localhost:{port}/index.html", timeout=240)
        _kill_daemon("dockerd")
        mark = up.mark()
        (project / "version.txt").write_text("during the outage\n")
        # The build fails, clearly, and says the next change retries.
        up.wait_for(r"ERROR: cannot reach the Docker Engine .*is dockerd running", start=mark, timeout=120)
        _restart_testbed()
        restarted = True
        # The kubelet restarts the pod on the restarted engine; the next save builds and deploys.
        mark = up.mark()
        (project / "version.txt").write_text("after the outage\n")
        up.wait_for(r"Update done", start=mark, timeout=300)
        pod_cmd = ["kubectl", "exec", f"deploy/{name}", "--", "cat", "/version.txt"]
        deadline = time.monotonic() + 120
        while subprocess.run(pod_cmd, capture_output=True, text=True).stdout.strip() != "after the outage":
            assert time.monotonic() < deadline, "the new image never ran"
            time.sleep(1)
        http_get(f"http://localhost:{port}/index.html", timeout=120)
        # Still BuildKit: an engine outage is not a reason to fall back to the classic builder.
        assert "building with the classic builder from now on" not in up.output
    finally:
        up.stop()
        if not restarted:
            _restart_testbed()
        tiltpy("down", cwd=project)
