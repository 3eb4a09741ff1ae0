"""The base-image scenario end to end, driving `tiltpy` as a user would,
against the real testbed (Docker Engine + Kubernetes 1.20)."""
from __future__ import annotations

import json
import re
import subprocess
import time
from pathlib import Path

import pytest

from tests.e2e.harness import Up, copy_example, http_get, kubectl_json, tiltpy

pytestmark = pytest.mark.e2e
URL = "http://localhost:3000/"


def _image_layers(ref: str) -> list[str]:
    out = subprocess.run(["docker", "image", "inspect", ref], capture_output=True, text=True, check=True)
    return json.loads(out.stdout)[0]["RootFS"]["Layers"]


def _pod_images() -> list[str]:
    pods = kubectl_json("get", "pods", "-l", "app=nodejs-express-app")["items"]
    return [c["image"] for p in pods if not p["metadata"].get("deletionTimestamp")
            for c in p["spec"]["containers"]]


def _deployment_exists() -> bool:
    return subprocess.run(["kubectl", "get", "deployment", "nodejs-express-app"],
                          capture_output=True).returncode == 0


def test_tiltfile_typo_is_reported_with_file_and_line(testbed: dict, tmp_path: Path) -> None:
    project = copy_example("base-image", tmp_path)
    tiltfile = project / "Tiltfile"
    tiltfile.write_text(tiltfile.read_text().replace("docker_build('nodejs-express-app-image'",
                                                     "docker_biuld('nodejs-express-app-image'"))
    result = tiltpy("ci", cwd=project)
    assert result.returncode != 0
    line = next(i for i, text in enumerate(tiltfile.read_text().splitlines(), 1) if "docker_biuld" in text)
    assert f"Tiltfile:{line}" in result.stdout
    assert "docker_biuld" in result.stdout
    assert "Traceback (most recent call last):\n  File" not in result.stdout + result.stderr


def test_failing_run_step_fails_ci_with_the_build_error(testbed: dict, tmp_path: Path) -> None:
    project = copy_example("base-image", tmp_path)
    dockerfile = project / "base.dockerfile"
    dockerfile.write_text(dockerfile.read_text().replace(
        "RUN npm install", "RUN echo failing-on-purpose-$RANDOM && exit 3"))
    result = tiltpy("ci", "--timeout", "5m", cwd=project)
    assert result.returncode != 0
    # BuildKit names the step and its exit code (the classic builder said "returned a non-zero code: 3").
    assert "RUN echo failing-on-purpose-$RANDOM && exit 3: " in result.stdout
    assert "exit code: 3" in result.stdout
    assert "failing-on-purpose" in result.stdout
    assert 'resource "nodejs-express-app"' in result.stdout


def test_base_image_scenario(testbed: dict, tmp_path: Path) -> None:
    project = copy_example("base-image", tmp_path)
    token = str(time.time_ns())

    # Fresh inputs, so this run really builds both images.
    pkg = project / "package" / "package.json"
    pkg.write_text(pkg.read_text().replace('"license"', f'"x-tiltpy-test": "{token}",\n  "license"'))

    # 1. `tiltpy ci` builds base then app, deploys, and exits 0 once ready.
    ci = tiltpy("ci", "--timeout", "8m", cwd=project)
    assert ci.returncode == 0, ci.stdout[-4000:] + ci.stderr[-2000:]
    out = ci.stdout
    assert out.index("Building Dockerfile: [nodejs-express-base-image]") < \
        out.index("Building Dockerfile: [nodejs-express-app-image]")
    base_ref = re.search(r"FROM (nodejs-express-base-image:tilt-[0-9a-f]{16})", out).group(1)
    [image] = _pod_images()
    assert re.fullmatch(r"nodejs-express-app-image:tilt-[0-9a-f]{16}", image), image
    base_layers = _image_layers(base_ref)
    assert _image_layers(image)[: len(base_layers)] == base_layers, "app image is not built FROM the base"

    # 2. `up` with nothing changed rebuilds nothing and serves on localhost:3000.
    up = Up(project)
    try:
        up.wait_for(r"Reusing image nodejs-express-base-image:tilt-")
        up.wait_for(r"Reusing image nodejs-express-app-image:tilt-")
        assert "Hello from the base-image example" in http_get(URL, timeout=180)
        assert "Step 1/" not in up.output
        up.wait_for(r"nodejs-express-app listening on port 3000", timeout=60)  # pod logs are streamed
    finally:
        assert up.stop() == 0
    assert _deployment_exists(), "Ctrl-C must leave the deployment running"

    # 3. Editing server.js rebuilds only the app.
    server = project / "server.js"
    server.write_text(server.read_text().replace("Hello from the base-image example!", f"Hello {token}"))
    up = Up(project)
    try:
        up.wait_for(r"Reusing image nodejs-express-base-image:tilt-")
        up.wait_for(r"Built nodejs-express-app-image:tilt-")
        assert f"Hello {token}" in http_get(URL, timeout=180, expect=token)
        assert "Built nodejs-express-base-image" not in up.output
    finally:
        up.stop()

    # 4. Editing package/package.json rebuilds the base, then the app on it.
    pkg.write_text(pkg.read_text().replace(token, token + "-2"))
    up = Up(project)
    try:
        up.wait_for(r"Built nodejs-express-app-image:tilt-", timeout=400)
        out = up.output
        assert "Reusing image nodejs-express-base-image" not in out
        assert out.index("Built nodejs-express-base-image") < out.index("Built nodejs-express-app-image")
        assert f"Hello {token}" in http_get(URL, timeout=180, expect=token)
    finally:
        up.stop()

    # 5. `tiltpy down` deletes what the Tiltfile declares.
    down = tiltpy("down", cwd=project)
    assert down.returncode == 0, down.stdout + down.stderr
    assert not _deployment_exists()
