"""Editing the Tiltfile (or a file it reads) under `tiltpy up`: only the
resources whose definition changed are updated; a broken Tiltfile leaves
everything running."""
from __future__ import annotations

import re
import textwrap
import time
from pathlib import Path

import pytest

from tests.e2e.harness import Up, http_get, tiltpy

pytestmark = pytest.mark.e2e


def _deployment(name: str, port: int, greeting: str) -> str:
    return textwrap.dedent(f"""\
        apiVersion: apps/v1
        kind: Deployment
        metadata: {{name: {name}}}
        spec:
          selector: {{matchLabels: {{app: {name}}}}}
          template:
            metadata: {{labels: {{app: {name}}}}}
            spec:
              terminationGracePeriodSeconds: 1
              containers:
              - name: httpd
                image: tiltpy-e2e-reload-image
                env: [{{name: GREETING, value: "{greeting}"}}]
                command: ["sh", "-c", "mkdir -p /www && echo $GREETING > /www/index.html && httpd -f -p {port} -h /www"]
        """)


def test_reload_updates_only_changed_resources(testbed: dict, tmp_path: Path, watcher: str) -> None:
    project = tmp_path / "reload"
    project.mkdir()
    (project / "Dockerfile").write_text("FROM busybox\n")
    (project / "a.yaml").write_text(_deployment("tiltpy-e2e-ra", 8011, "alpha"))
    (project / "b.yaml").write_text(_deployment("tiltpy-e2e-rb", 8012, "beta"))
    tiltfile = textwrap.dedent("""\
        k8s_yaml(['a.yaml', 'b.yaml'])
        docker_build('tiltpy-e2e-reload-image', '.')
        k8s_resource('tiltpy-e2e-ra', port_forwards=8011)
        k8s_resource('tiltpy-e2e-rb', port_forwards=8012)
        """)
    (project / "Tiltfile").write_text(tiltfile)
    up = Up(project)
    try:
        up.wait_for(watcher, timeout=60)
        http_get("http://localhost:8011/", timeout=180, expect="alpha")
        http_get("http://localhost:8012/", timeout=60, expect="beta")

        # A file the Tiltfile read changes: only its resource is redeployed.
        mark = up.mark()
        (project / "b.yaml").write_text(_deployment("tiltpy-e2e-rb", 8012, "gamma"))
        up.wait_for(r"reloading the Tiltfile", timeout=30, start=mark)
        http_get("http://localhost:8012/", timeout=120, expect="gamma")
        after = up.output.splitlines()[mark:]
        assert any(re.search(r"tiltpy-e2e-rb\s*│ Updating: its Tiltfile definition changed", l) for l in after)
        assert not any(re.search(r"tiltpy-e2e-ra\s*│ Updating", l) for l in after)

        # A broken Tiltfile: an error naming the line, resources keep serving.
        mark = up.mark()
        (project / "Tiltfile").write_text(tiltfile + "k8s_resource('tiltpy-e2e-ra', port_forwards=[oops])\n")
        up.wait_for(r"Tiltfile:5", timeout=30, start=mark)
        up.wait_for(r"Resources keep running", timeout=30, start=mark)
        time.sleep(1)
        assert "alpha" in http_get("http://localhost:8011/", timeout=10)
        assert "gamma" in http_get("http://localhost:8012/", timeout=10)

        # Fixed again: loads, and nothing needs updating.
        mark = up.mark()
        (project / "Tiltfile").write_text(tiltfile)
        up.wait_for(r"Successfully loaded Tiltfile", timeout=30, start=mark)
        time.sleep(2)
        assert not any("Updating" in l for l in up.output.splitlines()[mark:])
    finally:
        up.stop()
        print(up.output[-6000:])
        tiltpy("down", cwd=project)


def test_bad_input_is_a_message_in_ci_and_under_up(testbed: dict, tmp_path: Path) -> None:
    """A directory where the Tiltfile should be, a non-UTF-8 Tiltfile, YAML
    whose names aren't strings: `ci` says so and exits 1; under `up` a reload
    says so and keeps running. Never a Python traceback."""
    project = tmp_path / "bad"
    (project / "dir-tiltfile").mkdir(parents=True)
    result = tiltpy("ci", "-f", "dir-tiltfile", cwd=project)
    assert result.returncode == 1 and "it is a directory" in result.stdout
    (project / "k.yaml").write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: 123}\n")
    (project / "Tiltfile").write_text("k8s_yaml('k.yaml')\n")
    result = tiltpy("ci", cwd=project)
    assert result.returncode == 1 and "metadata.name must be a string" in result.stdout
    python_traceback = "Traceback (most recent call last):\n  File"  # Starlark's own traceback is fine
    assert python_traceback not in result.stdout + result.stderr

    (project / "Tiltfile").write_text("local_resource('ok', serve_cmd='sleep 3600')\n")
    up = Up(project, "--port", "0")
    try:
        up.wait_for(r"ok\s*│ Starting serve_cmd", timeout=60)
        mark = up.mark()
        (project / "Tiltfile").write_bytes(b"local_resource('ok', serve_cmd='sleep 3600')\nx = '\xe9'\n")
        up.wait_for(r"Tiltfile:2: not UTF-8", start=mark, timeout=30)
        up.wait_for(r"Resources keep running as they were", start=mark, timeout=30)
        mark = up.mark()
        (project / "Tiltfile").write_text("k8s_yaml('k.yaml')\n")
        up.wait_for(r"metadata.name must be a string", start=mark, timeout=30)
        assert up.proc.poll() is None
        assert "File \"" not in up.output  # no Python traceback frames
    finally:
        up.stop()
