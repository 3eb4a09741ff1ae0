"""`tiltpy ci` outcomes on small busybox projects: crashes, apply errors,
the registry push path, and `down` deleting exactly what was declared."""
from __future__ import annotations

import re
import subprocess
import textwrap
import time
from pathlib import Path

import pytest

from tests.k8s_yaml import deployment
from tests.e2e.harness import TILTPY, Up, kubectl_json, tiltpy

pytestmark = pytest.mark.e2e


def make_project(root: Path, name: str, command: str, *, extra_tiltfile: str = "", extra_yaml: str = "",
                 readiness: str = "") -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "Dockerfile").write_text("FROM busybox\nCOPY marker.txt /marker.txt\n")
    (root / "marker.txt").write_text(f"{name} {time.time_ns()}\n")
    probe = textwrap.indent(readiness, " " * 10) if readiness else ""
    (root / "k8s.yaml").write_text(deployment(name, f"{name}-image", command, extra=probe) + extra_yaml)
    (root / "Tiltfile").write_text(textwrap.dedent(f"""\
        k8s_yaml('k8s.yaml')
        docker_build('{name}-image', '.')
        """) + extra_tiltfile)
    return root


def test_crashing_pod_fails_ci_with_reason(testbed: dict, tmp_path: Path) -> None:
    project = make_project(tmp_path / "crash", "tiltpy-e2e-crash", "echo about to crash; exit 7")
    try:
        result = tiltpy("ci", "--timeout", "4m", cwd=project)
        assert result.returncode != 0
        assert 'resource "tiltpy-e2e-crash"' in result.stdout
        assert "exit" in result.stdout.lower() and ("7" in result.stdout)
        assert "about to crash" in result.stdout  # the pod's logs were streamed
    finally:
        tiltpy("down", cwd=project)


def test_apply_error_fails_ci(testbed: dict, tmp_path: Path) -> None:
    bad_service = textwrap.dedent("""\
        ---
        apiVersion: v1
        kind: Service
        metadata:
          name: tiltpy-e2e-badsvc
        spec:
          type: NotAType
          ports: [{port: 80}]
        """)
    project = make_project(tmp_path / "apply", "tiltpy-e2e-apply", "sleep 3600", extra_yaml=bad_service)
    try:
        result = tiltpy("ci", "--timeout", "3m", cwd=project)
        assert result.returncode != 0
        assert "NotAType" in result.stdout
        assert "uncategorized" in result.stdout
    finally:
        tiltpy("down", cwd=project)


def test_never_ready_pod_fails_ci_on_timeout(testbed: dict, tmp_path: Path) -> None:
    probe = "readinessProbe:\n  exec: {command: ['false']}\n  periodSeconds: 1\n"
    project = make_project(tmp_path / "unready", "tiltpy-e2e-unready", "sleep 3600", readiness=probe)
    try:
        result = tiltpy("ci", "--timeout", "20s", cwd=project)
        assert result.returncode != 0
        assert "timeout" in result.stdout and "tiltpy-e2e-unready" in result.stdout
        # The kubelet's events about the pod are in the resource's log, as Tilt shows them.
        assert re.search(r"\[event: pod tiltpy-e2e-unready-\S+\] Readiness probe failed", result.stdout), \
            result.stdout[-3000:]
    finally:
        tiltpy("down", cwd=project)


def test_a_replica_sets_failure_to_create_pods_is_in_the_resources_log(testbed: dict, tmp_path: Path) -> None:
    """The event is about the Deployment's ReplicaSet, not a pod (there is none): found through its owner."""
    name = namespace = "tiltpy-e2e-quota"
    subprocess.run(["kubectl", "create", "namespace", namespace], capture_output=True)
    quota = f"apiVersion: v1\nkind: ResourceQuota\nmetadata: {{name: no-pods, namespace: {namespace}}}\n" \
            "spec: {hard: {pods: '0'}}\n"
    subprocess.run(["kubectl", "apply", "-f", "-"], input=quota, text=True, check=True, capture_output=True)
    root = tmp_path / "quota"
    root.mkdir()
    (root / "Dockerfile").write_text("FROM busybox\n")
    (root / "k8s.yaml").write_text(deployment(name, f"{name}-image", "sleep 3600", namespace=namespace))
    (root / "Tiltfile").write_text(f"k8s_yaml('k8s.yaml')\ndocker_build('{name}-image', '.')\n")
    try:
        result = tiltpy("ci", "--timeout", "20s", cwd=root)
        assert result.returncode != 0
        assert re.search(rf"\[event: replicaset {namespace}/{name}-\S+\] Error creating: .*exceeded quota",
                         result.stdout), result.stdout[-3000:]
    finally:
        tiltpy("down", cwd=root)
        subprocess.run(["kubectl", "delete", "namespace", namespace, "--wait=false"], capture_output=True)


def test_default_registry_pushes_and_deploys_registry_ref(testbed: dict, tmp_path: Path) -> None:
    project = make_project(tmp_path / "push", "tiltpy-e2e-push", "sleep 3600",
                           extra_tiltfile="default_registry('localhost:5005')\n")
    try:
        result = tiltpy("ci", "--timeout", "4m", cwd=project)
        assert result.returncode == 0, result.stdout[-3000:]
        assert "Pushing localhost:5005/tiltpy-e2e-push-image:tilt-" in result.stdout
        pods = kubectl_json("get", "pods", "-l", "app=tiltpy-e2e-push")["items"]
        images = {c["image"] for p in pods for c in p["spec"]["containers"]}
        assert any(i.startswith("localhost:5005/tiltpy-e2e-push-image:tilt-") for i in images), images
        tags = subprocess.run(["curl", "-s", "http://localhost:5005/v2/tiltpy-e2e-push-image/tags/list"],
                              capture_output=True, text=True).stdout
        assert "tilt-" in tags
    finally:
        down = tiltpy("down", cwd=project)
    assert down.returncode == 0
    assert subprocess.run(["kubectl", "get", "deployment", "tiltpy-e2e-push"], capture_output=True).returncode != 0


def test_missing_cluster_is_a_clear_error(testbed: dict, tmp_path: Path) -> None:
    """ci fails naming the cluster; up reports it and keeps running."""
    import os

    project = make_project(tmp_path / "nocluster", "tiltpy-e2e-nocluster", "sleep 3600")
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(textwrap.dedent("""\
        apiVersion: v1
        kind: Config
        current-context: docker-desktop
        clusters: [{name: gone, cluster: {server: "https://127.0.0.1:1", insecure-skip-tls-verify: true}}]
        contexts: [{name: docker-desktop, context: {cluster: gone, user: nobody}}]
        users: [{name: nobody, user: {token: x}}]
        """))
    env = {**os.environ, "KUBECONFIG": str(kubeconfig)}
    result = subprocess.run([*TILTPY, "ci", "--timeout", "1m"], cwd=project,
                            capture_output=True, text=True, env=env, timeout=120)
    assert result.returncode != 0
    assert "Kubernetes cluster unreachable" in result.stdout and "127.0.0.1:1" in result.stdout
    assert "Traceback" not in result.stdout + result.stderr

    up = Up(project, "--port", "0", env=env)
    try:
        up.wait_for("Kubernetes cluster unreachable", timeout=60)
        time.sleep(3)
        assert up.proc.poll() is None, "up must keep running when the cluster is missing"
    finally:
        up.stop()


def test_k8s_grace_period_lets_a_crashing_pod_try_again(testbed: dict, tmp_path: Path) -> None:
    project = make_project(tmp_path / "grace", "tiltpy-e2e-grace", "echo crash; exit 3",
                           extra_tiltfile="ci_settings(k8s_grace_period='12s')\n")
    try:
        started = time.monotonic()
        result = tiltpy("ci", "--timeout", "3m", cwd=project)
        elapsed = time.monotonic() - started
        assert result.returncode != 0
        assert "exited with code 3" in result.stdout
        assert elapsed >= 12, f"failed after {elapsed:.1f}s, inside the grace period"
    finally:
        tiltpy("down", cwd=project)
