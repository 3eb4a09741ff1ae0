"""Images build with BuildKit, as Tilt builds them: cache and secret mounts
work, secrets stay out of the image, DOCKER_BUILDKIT=0 falls back to the
classic builder, and heredoc bodies are not Dockerfile instructions."""
from __future__ import annotations

import hashlib
import json
import os
import subprocess
import textwrap
import time
from pathlib import Path

import pytest

from tests.e2e.harness import http_get, kubectl_json, tiltpy, Up
from tests.k8s_yaml import deployment

pytestmark = pytest.mark.e2e

NAME = "tiltpy-e2e-buildkit"
PORT = 8093

BUILDKIT_DOCKERFILE = """\
FROM busybox
# A cache mount: its contents outlive the build but never reach the image.
RUN --mount=type=cache,target=/cache echo build >> /cache/builds && mkdir -p /www && wc -l < /cache/builds > /www/cache-runs
# A secret mount: readable during this RUN only.
RUN --mount=type=secret,id=token test "$(sha256sum < /run/secrets/token | cut -d' ' -f1)" = "{digest}" \\
    && echo secret-ok > /www/secret
COPY index.html /www/index.html
"""


def _project(root: Path, secret: str) -> Path:
    root.mkdir(parents=True)
    # The Dockerfile knows only the secret's digest, so finding the secret in the image means it leaked.
    (root / "Dockerfile").write_text(BUILDKIT_DOCKERFILE.format(digest=hashlib.sha256(secret.encode()).hexdigest()))
    (root / "index.html").write_text(f"hello from buildkit {time.time_ns()}\n")
    (root / "token.txt").write_text(secret)
    (root / "k8s.yaml").write_text(deployment(NAME, f"{NAME}-image", f"httpd -f -p {PORT} -h /www"))
    (root / "Tiltfile").write_text(textwrap.dedent(f"""\
        k8s_yaml('k8s.yaml')
        docker_build('{NAME}-image', '.', secret='id=token,src=token.txt', ignore=['token.txt'])
        k8s_resource('{NAME}', port_forwards={PORT})
        """))
    return root


def test_cache_and_secret_mounts_build_and_deploy(testbed: dict, tmp_path: Path) -> None:
    secret = f"s3cret-{time.time_ns()}"
    project = _project(tmp_path / "bk", secret)
    up = Up(project, "--port", "0")
    try:
        up.wait_for(r"images build with BuildKit", timeout=120)
        assert http_get(f"http://localhost:{PORT}/secret", timeout=240).strip() == "secret-ok"
        assert "hello from buildkit" in http_get(f"http://localhost:{PORT}/index.html")
        assert int(http_get(f"http://localhost:{PORT}/cache-runs").strip()) >= 1
        # The build's steps are in the resource's log, one header per step.
        up.wait_for(r"\[\d/4\] RUN --mount=type=secret")
        image = kubectl_json("get", "deployment", NAME)["spec"]["template"]["spec"]["containers"][0]["image"]
        assert image.startswith(f"{NAME}-image:tilt-")
        # The secret never reaches the image: not as a file, not in the history.
        container = subprocess.run(["docker", "create", image], capture_output=True, text=True,
                                   check=True).stdout.strip()
        try:
            filesystem = subprocess.run(["docker", "export", container], capture_output=True, check=True,
                                        timeout=120).stdout
        finally:
            subprocess.run(["docker", "rm", container], capture_output=True)
        assert b"secret-ok" in filesystem and secret.encode() not in filesystem
        history = subprocess.run(["docker", "history", "--no-trunc", image], capture_output=True, text=True)
        assert secret not in history.stdout

        # A save rebuilds; the cache mount kept what the first build wrote.
        mark = up.mark()
        (project / "index.html").write_text("second version\n")
        http_get(f"http://localhost:{PORT}/index.html", timeout=240, expect="second version")
        up.wait_for(r"Built .*tilt-", start=mark)
        assert http_get(f"http://localhost:{PORT}/secret").strip() == "secret-ok"
    finally:
        up.stop()
        tiltpy("down", cwd=project)


def test_missing_secret_file_fails_the_build_with_its_reason(testbed: dict, tmp_path: Path) -> None:
    project = _project(tmp_path / "nosecret", "x")
    (project / "token.txt").unlink()
    try:
        result = tiltpy("ci", "--timeout", "3m", cwd=project)
        assert result.returncode != 0
        assert f'resource "{NAME}"' in result.stdout
        assert "token.txt" in result.stdout  # the CLI names the secret source it could not read
        assert "Traceback" not in result.stdout + result.stderr
    finally:
        tiltpy("down", cwd=project)


def test_classic_builder_with_docker_buildkit_0(testbed: dict, tmp_path: Path) -> None:
    name = "tiltpy-e2e-classic"
    project = tmp_path / "classic"
    project.mkdir()
    (project / "Dockerfile").write_text("FROM busybox\nCOPY marker.txt /marker.txt\nRUN cat /marker.txt\n")
    (project / "marker.txt").write_text(f"classic {time.time_ns()}\n")
    (project / "k8s.yaml").write_text(deployment(name, f"{name}-image", "cat /marker.txt; sleep 3600"))
    (project / "Tiltfile").write_text(f"k8s_yaml('k8s.yaml')\ndocker_build('{name}-image', '.')\n")
    env_before = os.environ.get("DOCKER_BUILDKIT")
    os.environ["DOCKER_BUILDKIT"] = "0"
    try:
        result = tiltpy("ci", "--timeout", "3m", cwd=project)
    finally:
        if env_before is None:
            os.environ.pop("DOCKER_BUILDKIT")
        else:
            os.environ["DOCKER_BUILDKIT"] = env_before
    try:
        assert result.returncode == 0, result.stdout[-3000:]
        assert "the classic builder (DOCKER_BUILDKIT=0)" in result.stdout
        assert "Step 3/" in result.stdout  # the classic builder's own progress
        image = kubectl_json("get", "deployment", name)["spec"]["template"]["spec"]["containers"][0]["image"]
        assert image.startswith(f"{name}-image:tilt-")
        # A second run reuses the image on either path: same inputs, same tag.
        again = tiltpy("ci", "--timeout", "3m", cwd=project)
        assert again.returncode == 0 and f"Reusing image {image}" in again.stdout
    finally:
        tiltpy("down", cwd=project)


def test_heredoc_body_creates_no_image_dependency(testbed: dict, tmp_path: Path) -> None:
    project = tmp_path / "heredoc"
    (project / "other").mkdir(parents=True)
    (project / "other" / "Dockerfile").write_text("FROM busybox\n")
    (project / "app").mkdir()
    (project / "app" / "Dockerfile").write_text(
        "FROM busybox\nRUN <<EOF\nFROM other-image\necho hi\nEOF\nCOPY --from=other-image /bin/sh /sh2\n")
    (project / "app2").mkdir()
    (project / "app2" / "Dockerfile").write_text("FROM busybox\nRUN <<EOF\nFROM other-image\nEOF\n")
    (project / "k8s.yaml").write_text(deployment("hd-app", "app-image", "sleep 1") + "---\n"
                                      + deployment("hd-app2", "app2-image", "sleep 1"))
    (project / "Tiltfile").write_text("k8s_yaml('k8s.yaml')\ndocker_build('other-image', 'other')\n"
                                      "docker_build('app-image', 'app')\ndocker_build('app2-image', 'app2')\n")
    result = tiltpy("alpha", "tiltfile-result", cwd=project)
    assert result.returncode == 0, result.stderr
    manifests = {m["Name"]: m for m in json.loads(result.stdout)["Manifests"]}
    targets = {t["Ref"]: t for m in manifests.values() for t in m["ImageTargets"]}
    # app depends on other-image through COPY --from, never through the heredoc's text.
    assert targets["app-image"]["ImageDeps"] == ["other-image"]
    assert targets["app2-image"]["ImageDeps"] == []
    assert [t["Ref"] for t in manifests["hd-app2"]["ImageTargets"]] == ["app2-image"]
