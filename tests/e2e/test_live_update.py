"""The live loop on the base-image example with the guide's "Adding Live
Updates" section applied: edits reach the running container without a
rebuild; base-image changes rebuild base and app."""
from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest

from tests.e2e.harness import Up, copy_example, http_get, kubectl_json, tiltpy

pytestmark = pytest.mark.e2e
URL = "http://localhost:3000/"

LIVE_TILTFILE = """
k8s_yaml('app.yml')
docker_build('nodejs-express-base-image', './package', dockerfile='base.dockerfile',
             build_args={'node_env': 'development'})
docker_build('nodejs-express-app-image', '.', dockerfile='app.dockerfile',
             entrypoint='yarn run nodemon /var/www/app/server.js',
             live_update=[
                 sync('.', '/var/www/app'),
                 run('echo ran >> /tmp/run-count', trigger=['./trigger.txt']),
             ])
k8s_resource('nodejs-express-app', port_forwards=3000)
"""


def _pods() -> list[dict]:
    return [p for p in kubectl_json("get", "pods", "-l", "app=nodejs-express-app")["items"]
            if not p["metadata"].get("deletionTimestamp")]


def _pod() -> dict:
    pods = _pods()
    assert len(pods) == 1, [p["metadata"]["name"] for p in pods]
    return pods[0]


def _only_pod_is_not(name: str) -> bool:
    pods = _pods()
    return len(pods) == 1 and pods[0]["metadata"]["name"] != name


def _exec(pod: str, *cmd: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["kubectl", "exec", pod, "--", *cmd], capture_output=True, text=True)


def _wait(predicate, timeout: float = 60, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what}")


def _run_count(pod: str) -> int:
    result = _exec(pod, "sh", "-c", "cat /tmp/run-count 2>/dev/null | wc -l")
    return int(result.stdout.strip() or 0)


def test_live_update_loop(testbed: dict, tmp_path: Path, watcher: str) -> None:
    project = copy_example("base-image", tmp_path)
    token = str(time.time_ns())
    (project / "Tiltfile").write_text(LIVE_TILTFILE)
    (project / "trigger.txt").write_text("0\n")
    (project / "extra.txt").write_text("delete me\n")
    server = project / "server.js"
    original = server.read_text()
    pkg = project / "package" / "package.json"
    pkg.write_text(pkg.read_text().replace('"license"', f'"x-tiltpy-test": "{token}",\n  "license"'))

    up = Up(project)
    try:
        up.wait_for(watcher, timeout=60)
        http_get(URL, timeout=300, expect="Hello")
        pod = _pod()
        name, image = pod["metadata"]["name"], pod["spec"]["containers"][0]["image"]
        assert pod["spec"]["containers"][0]["command"] == ["sh", "-c", "yarn run nodemon /var/www/app/server.js"]

        # 1. An edit to server.js is synced: same pod, same image, new answer.
        server.write_text(original.replace("Hello from the base-image example!", f"Hello {token}-1"))
        http_get(URL, timeout=60, expect=f"{token}-1")
        pod = _pod()
        assert (pod["metadata"]["name"], pod["spec"]["containers"][0]["image"]) == (name, image)
        assert "Live update done" in up.output
        assert _run_count(name) == 0, "run() must not run when its trigger did not change"

        # 2. The run() step runs when (and only when) its trigger changes.
        (project / "trigger.txt").write_text("1\n")
        _wait(lambda: _run_count(name) == 1, what="the triggered run() step")
        server.write_text(original.replace("Hello from the base-image example!", f"Hello {token}-2"))
        http_get(URL, timeout=60, expect=f"{token}-2")
        assert _run_count(name) == 1

        # 3. Deleting a synced file deletes it in the container.
        assert _exec(name, "test", "-e", "/var/www/app/extra.txt").returncode == 0
        (project / "extra.txt").unlink()
        _wait(lambda: _exec(name, "test", "-e", "/var/www/app/extra.txt").returncode != 0,
              what="extra.txt to disappear from the container")

        # 4. A replaced pod catches up with everything synced since the image
        #    was built, and the next edit reaches it.
        subprocess.run(["kubectl", "delete", "pod", name, "--wait=false"], check=True, capture_output=True)
        _wait(lambda: _only_pod_is_not(name), timeout=120, what="a replacement pod")
        http_get(URL, timeout=120, expect=f"{token}-2")
        new_name = _pod()["metadata"]["name"]
        assert _exec(new_name, "test", "-e", "/var/www/app/extra.txt").returncode != 0
        server.write_text(original.replace("Hello from the base-image example!", f"Hello {token}-3"))
        http_get(URL, timeout=60, expect=f"{token}-3")
        assert _pod()["metadata"]["name"] == new_name

        # 5. package.json is in the base image's context: base and app rebuild,
        #    the pod rolls, and the new dependency is installed.
        mark = up.mark()
        pkg.write_text(pkg.read_text().replace('"express": "^4.18.2"', '"express": "^4.18.2",\n    "left-pad": "^1.3.0"'))
        up.wait_for(r"Built nodejs-express-base-image:tilt-", timeout=300, start=mark)
        up.wait_for(r"Built nodejs-express-app-image:tilt-", timeout=300, start=mark)
        _wait(lambda: _only_pod_is_not(new_name), timeout=180, what="the pod to roll")
        http_get(URL, timeout=120, expect=f"{token}-3")
        rolled = _pod()
        assert rolled["spec"]["containers"][0]["image"] != image
        _wait(lambda: _exec(rolled["metadata"]["name"], "test", "-d", "/var/www/app/node_modules/left-pad")
              .returncode == 0, what="left-pad installed in the new pod")
    finally:
        up.stop()
        print(up.output[-8000:])  # shown by pytest when the test fails
        tiltpy("down", cwd=project)


STATIC_YAML = """\
apiVersion: apps/v1
kind: Deployment
metadata: {name: tiltpy-e2e-static}
spec:
  selector: {matchLabels: {app: tiltpy-e2e-static}}
  template:
    metadata: {labels: {app: tiltpy-e2e-static}}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
      - name: httpd
        image: tiltpy-e2e-static-image
        command: ["httpd", "-f", "-p", "8001", "-h", "/www"]
"""


@pytest.mark.parametrize("update_mode", ["exec", "docker"])
def test_sync_into_busybox_container(testbed: dict, tmp_path: Path, update_mode: str, watcher: str) -> None:
    """busybox's tar reads until end of input, and Kubernetes 1.20's exec
    cannot close stdin: the exec path must still finish. Both paths must
    also delete files and create new directories."""
    project = tmp_path / "static"
    (project / "www").mkdir(parents=True)
    (project / "www" / "index.html").write_text("start\n")
    (project / "Dockerfile").write_text("FROM busybox\nCOPY www /www\n")
    (project / "k8s.yaml").write_text(STATIC_YAML)
    (project / "Tiltfile").write_text(
        "k8s_yaml('k8s.yaml')\n"
        "docker_build('tiltpy-e2e-static-image', '.', live_update=[sync('www', '/www'), run('date > /tmp/ran'),\n"
        "             run('echo failing on purpose; exit 3', trigger=['www/fail.txt'])])\n"
        "k8s_resource('tiltpy-e2e-static', port_forwards=8001)\n")
    url = "http://localhost:8001/"
    up = Up(project, "--update-mode", update_mode)
    try:
        up.wait_for(watcher, timeout=60)
        http_get(url + "index.html", timeout=180, expect="start")
        token = str(time.time_ns())
        (project / "www" / "index.html").write_text(token + "\n")
        http_get(url + "index.html", timeout=30, expect=token)
        (project / "www" / "sub" / "deeper").mkdir(parents=True)
        (project / "www" / "sub" / "deeper" / "new.html").write_text(f"new {token}\n")
        http_get(url + "sub/deeper/new.html", timeout=30, expect=f"new {token}")
        (project / "www" / "sub" / "deeper" / "new.html").unlink()
        pods = [p["metadata"]["name"] for p in kubectl_json("get", "pods", "-l", "app=tiltpy-e2e-static")["items"]
                if not p["metadata"].get("deletionTimestamp")]
        _wait(lambda: _exec(pods[0], "test", "-e", "/www/sub/deeper/new.html").returncode != 0,
              what="new.html removed in the container")
        assert _exec(pods[0], "test", "-e", "/tmp/ran").returncode == 0

        # A failing run() step is the resource's error, not a rebuild.
        mark = up.mark()
        (project / "www" / "fail.txt").write_text("x\n")
        up.wait_for(r"ERROR: live update run step 'echo failing on purpose; exit 3' exited with code 3",
                    timeout=30, start=mark)
        assert "failing on purpose" in "\n".join(up.output.splitlines()[mark:])
        assert "Building Dockerfile" not in "\n".join(up.output.splitlines()[mark:])
        assert f"live updates via {'exec' if update_mode == 'exec' else 'the Docker Engine'}" in up.output
    finally:
        up.stop()
        print(up.output[-6000:])
        tiltpy("down", cwd=project)
