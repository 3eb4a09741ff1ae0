"""examples/compose and examples/python-flask end to end: Compose services
with live update and restart_container, local resources the app waits
for, pip reinstall on a requirements change, and `down` for both kinds."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.e2e.harness import Up, copy_example, http_get, tiltpy
from tiltpy.engine.serve_records import state_dir

pytestmark = pytest.mark.e2e


def _compose_containers(project: str) -> list[str]:
    out = subprocess.run(["docker", "ps", "-a", "-q", "--filter", f"label=com.docker.compose.project={project}"],
                         capture_output=True, text=True, check=True)
    return out.stdout.split()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie child of the killed `up` has been reaped by init; check its state anyway.
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def test_compose_example(testbed: dict, tmp_path: Path) -> None:
    project = copy_example("compose", tmp_path)
    ci = tiltpy("ci", "--timeout", "5m", cwd=project)
    assert ci.returncode == 0, ci.stdout[-3000:]
    assert "Built compose-app:tilt-" in ci.stdout or "Reusing image compose-app:tilt-" in ci.stdout
    assert len(_compose_containers("compose")) == 2

    up = Up(project)
    try:
        up.wait_for(r"^app\s*│ Update done", timeout=180)
        http_get("http://localhost:8020/", timeout=120, expect="Hello from compose!")
        assert "cache-ok" in http_get("http://localhost:8021/", timeout=30)
        token = f"message {time.time_ns()}"
        (project / "app" / "message.txt").write_text(token + "\n")
        # Synced into the container, then served once restart_container() restarted it.
        http_get("http://localhost:8020/", timeout=60, expect=token)
        assert "Updating container app" in up.output
        container = _compose_containers("compose")
        info = json.loads(subprocess.run(["docker", "inspect", *container], capture_output=True, text=True).stdout)
        app = next(c for c in info if c["Config"]["Labels"]["com.docker.compose.service"] == "app")
        assert app["Config"]["Image"].startswith("compose-app")
    finally:
        up.stop()
        print(up.output[-5000:])
    down = tiltpy("down", cwd=project)
    assert down.returncode == 0, down.stdout
    assert _compose_containers("compose") == []


def test_python_flask_example(testbed: dict, tmp_path: Path) -> None:
    project = copy_example("python-flask", tmp_path)
    ci = tiltpy("ci", "--timeout", "8m", cwd=project)
    assert ci.returncode == 0, ci.stdout[-3000:]
    lines = ci.stdout.splitlines()
    waiting = next(i for i, l in enumerate(lines) if "flask-app" in l and "Waiting on resource_deps: gen-config" in l)
    gen_done = next(i for i, l in enumerate(lines) if l.startswith("gen-config") and "Update done" in l)
    app_build = next(i for i, l in enumerate(lines) if "flask-app" in l and "STEP 1/2" in l)
    assert waiting < gen_done < app_build, "flask-app must wait for gen-config"

    serve_pid = 0
    up = Up(project)
    try:
        up.wait_for(r"^flask-app\s*│ Update done", timeout=300)
        assert "Hello from Flask!" in http_get("http://localhost:8030/", timeout=180, expect="Hello from Flask")
        assert "flask-app example" in http_get("http://localhost:8031/", timeout=60)
        # A requirements change runs pip in the container (no rebuild).
        mark = up.mark()
        with open(project / "requirements.txt", "a") as f:
            f.write("text-unidecode==1.3\n")
        up.wait_for(r"RUNNING: pip install -r requirements.txt", timeout=60, start=mark)
        up.wait_for(r"Successfully installed text-unidecode", timeout=180, start=mark)
        check = subprocess.run(["kubectl", "exec", "deploy/flask-app", "--", "python", "-c", "import text_unidecode"],
                               capture_output=True, text=True)
        assert check.returncode == 0, check.stderr
        assert "Building Dockerfile" not in "\n".join(up.output.splitlines()[mark:])
        # `up` dies without cleaning up: `down` must still stop its serve_cmd.
        records = list(Path(state_dir(str(project / "Tiltfile"))).glob("serve-*.json"))
        assert len(records) == 1
        serve_pid = json.loads(records[0].read_text())["pid"]
        os.kill(up.proc.pid, signal.SIGKILL)
        up.proc.wait()
        time.sleep(1)
        os.kill(serve_pid, 0)  # still running without its `up`
    finally:
        up.stop()
        print(up.output[-5000:])
    down = tiltpy("down", cwd=project)
    assert down.returncode == 0, down.stdout
    assert "stopped serve_cmd" in down.stdout
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and _alive(serve_pid):
        time.sleep(0.2)
    assert not _alive(serve_pid), "down must stop the serve_cmd process"
    assert subprocess.run(["kubectl", "get", "deployment", "flask-app"], capture_output=True).returncode != 0
