"""custom_build and k8s_custom_deploy on the testbed: the user's commands
build and deploy; tiltpy injects the built ref, follows the pods, and
`down` runs delete_cmd."""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from tests.e2e.harness import kubectl_json, tiltpy

pytestmark = pytest.mark.e2e
PROJECT = Path(__file__).parent / "projects" / "custom"


def _deployment_exists(name: str) -> bool:
    return subprocess.run(["kubectl", "get", "deployment", name], capture_output=True).returncode == 0


def test_custom_build_and_custom_deploy(testbed: dict, tmp_path: Path) -> None:
    project = tmp_path / "custom"
    shutil.copytree(PROJECT, project)
    try:
        result = tiltpy("ci", "--timeout", "3m", cwd=project)
        assert result.returncode == 0, result.stdout[-3000:]
        assert "EXPECTED_REF=tiltpy-e2e-cb-image:tilt-build-" in result.stdout
        assert "Custom Build: [tiltpy-e2e-cb-image]" in result.stdout
        pods = kubectl_json("get", "pods", "-l", "app=tiltpy-e2e-cb")["items"]
        images = {c["image"] for p in pods if not p["metadata"].get("deletionTimestamp") for c in p["spec"]["containers"]}
        assert any(i.startswith("tiltpy-e2e-cb-image:tilt-") for i in images), images
        assert _deployment_exists("tiltpy-e2e-cd")
        assert "apply_cmd reported 1 object(s)" in result.stdout
    finally:
        down = tiltpy("down", cwd=project)
    assert down.returncode == 0, down.stdout
    assert not _deployment_exists("tiltpy-e2e-cb")
    assert not _deployment_exists("tiltpy-e2e-cd"), "down must run delete_cmd"
