"""ext://restart_process on Kubernetes: after a live update the process
restarts in the same container, so a file read at start shows the change."""
from __future__ import annotations

import shutil
import time
from pathlib import Path

import pytest

from tests.e2e.harness import Up, http_get, kubectl_json, tiltpy

pytestmark = pytest.mark.e2e
PROJECT = Path(__file__).parent / "projects" / "restart"


def test_docker_build_with_restart_restarts_after_sync(testbed: dict, tmp_path: Path) -> None:
    project = tmp_path / "restart"
    shutil.copytree(PROJECT, project)
    up = Up(project, "--port", "0")
    try:
        assert http_get("http://localhost:8040/at-start.txt", timeout=180).strip() == "v1"
        pods = [p["metadata"]["name"] for p in kubectl_json("get", "pods", "-l", "app=tiltpy-e2e-restart")["items"]
                if not p["metadata"].get("deletionTimestamp")]
        token = f"v2-{time.time_ns()}"
        (project / "www" / "msg.txt").write_text(token + "\n")
        up.wait_for(f"started with {token}", timeout=60)
        assert http_get("http://localhost:8040/at-start.txt", timeout=30, expect=token).strip() == token
        after = [p["metadata"]["name"] for p in kubectl_json("get", "pods", "-l", "app=tiltpy-e2e-restart")["items"]
                 if not p["metadata"].get("deletionTimestamp")]
        assert after == pods, "the process restarts inside the same pod"
    finally:
        up.stop()
        print(up.output[-4000:])
        tiltpy("down", cwd=project)
