"""Control commands (trigger, logs, get, describe, enable, disable, args)
against a running `tiltpy up` of a small busybox project, and the terminal
display of `up` on a real terminal (a pty)."""
from __future__ import annotations

import json
import os
import pty
import re
import select
import signal
import subprocess
import textwrap
import time
from pathlib import Path
from typing import Callable

import pytest

from tests.k8s_yaml import deployment
from tests.e2e.harness import TILTPY, Up, tiltpy

pytestmark = pytest.mark.e2e

PORT = 10361
A, B = "tiltpy-e2e-ctl-a", "tiltpy-e2e-ctl-b"


def _deployment(name: str, image: str, command: str) -> str:
    return deployment(name, image, command)


def make_project(root: Path) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "Dockerfile").write_text("FROM busybox\nCOPY marker.txt /marker.txt\n")
    (root / "marker.txt").write_text(f"ctl {time.time_ns()}\n")
    (root / "k8s.yaml").write_text(
        _deployment(A, "tiltpy-e2e-ctl-image", "i=0; while true; do i=$((i+1)); echo ctl-a-tick $i; sleep 1; done")
        + "---\n"
        + _deployment(B, "tiltpy-e2e-ctl-image", "echo ctl-b-started; echo WARNING: a warning line; sleep 3600"))
    (root / "Tiltfile").write_text(textwrap.dedent(f"""\
        print('tiltfile args: [%s]' % ' '.join(sys.argv[2:]))
        k8s_yaml('k8s.yaml')
        docker_build('tiltpy-e2e-ctl-image', '.')
        k8s_resource('{A}', labels=['app'], links=[link('http://localhost:18094/', 'docs')])
        k8s_resource('{B}', labels=['tools'])
        """))
    return root


def ctl(*args: str, cwd: Path, port: int = PORT, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*TILTPY, *args], cwd=cwd, capture_output=True, text=True,
                          timeout=timeout, env={**os.environ, "TILTPY_PORT": str(port), "PYTHONUNBUFFERED": "1"})


def ok(*args: str, cwd: Path) -> str:
    result = ctl(*args, cwd=cwd)
    assert result.returncode == 0, f"tiltpy {' '.join(args)}: {result.stdout}\n{result.stderr}"
    return result.stdout


def resource(cwd: Path, name: str) -> dict:
    return json.loads(ok("get", name, "-o", "json", cwd=cwd))


def eventually(check: Callable[[], object], timeout: float = 180, what: str = "") -> object:
    deadline = time.monotonic() + timeout
    last: object = None
    while time.monotonic() < deadline:
        try:
            value = check()
            if value:
                return value
            last = value
        except AssertionError as err:
            last = err
        time.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what}: {last}")


def ready(cwd: Path, name: str) -> bool:
    res = resource(cwd, name)
    return res["updateStatus"] == "ok" and res["runtimeStatus"] == "ok"


@pytest.fixture(scope="module")
def project(testbed: dict, tmp_path_factory: pytest.TempPathFactory):
    root = make_project(tmp_path_factory.mktemp("ctl") / "ctl")
    up = Up(root, "--port", str(PORT))
    try:
        up.wait_for(rf"{A}\s*│ ctl-a-tick", timeout=300)
        up.wait_for(rf"{B}\s*│ ctl-b-started", timeout=300)
        yield root
    finally:
        up.stop()
        tiltpy("down", cwd=root)


def test_no_up_running_is_a_clear_error(tmp_path: Path) -> None:
    result = ctl("get", cwd=tmp_path, port=10399)
    assert result.returncode == 1
    assert "no tiltpy up running on localhost:10399" in result.stderr


def test_get(project: Path) -> None:
    table = ok("get", cwd=project)
    lines = table.splitlines()
    assert lines[0].split()[:4] == ["NAME", "TYPE", "UPDATE", "RUNTIME"]
    assert any(l.startswith("(Tiltfile)") for l in lines)
    assert any(l.startswith(A) and "ready" in l for l in lines)
    listing = json.loads(ok("get", "resources", "-o", "json", cwd=project))
    names = [r["name"] for r in listing["items"]]
    assert names[0] == "(Tiltfile)" and A in names and B in names
    a = resource(project, A)
    assert a["labels"] == ["app"] and a["enabled"] and a["triggerMode"] == "auto"
    assert a["updateStatus"] == "ok" and a["runtimeStatus"] == "ok"
    assert {"url": "http://localhost:18094/", "name": "docs"} in a["endpoints"]
    assert a["pod"]["name"].startswith(A) and a["buildHistory"][0]["durationSecs"] > 0
    assert ok("get", "-o", "name", cwd=project).split() == names
    wide = ok("get", A, "-o", "wide", cwd=project)
    assert "LABELS" in wide and "app" in wide
    missing = ctl("get", "nope", cwd=project)
    assert missing.returncode == 1 and "no resource named 'nope'" in missing.stderr


def test_describe(project: Path) -> None:
    text = ok("describe", A, cwd=project)
    assert re.search(rf"^Name:\s+{A}$", text, re.M)
    assert re.search(r"^Labels:\s+app$", text, re.M)
    assert re.search(r"^Status:\s+ready", text, re.M)
    assert re.search(rf"^Pod:\s+{A}-\S+ \(Running", text, re.M)
    assert "http://localhost:18094/" in text and "Builds:" in text and "initial build" in text
    assert "ctl-a-tick" in text.split("Recent logs:")[1]


def test_logs(project: Path) -> None:
    b = ok("logs", B, cwd=project)
    assert "ctl-b-started" in b and "WARNING: a warning line" in b
    assert "│" not in b  # one resource: no prefix
    everything = ok("logs", cwd=project)
    assert re.search(rf"^{A}\s*│ ctl-a-tick", everything, re.M)
    assert re.search(r"^\(Tiltfile\)\s*│ Successfully loaded Tiltfile", everything, re.M)
    build = ok("logs", A, "--source", "build", cwd=project)
    assert "Building Dockerfile" in build and "ctl-a-tick" not in build
    assert len(ok("logs", A, "--tail", "3", cwd=project).splitlines()) == 3


def test_logs_follow(project: Path) -> None:
    proc = subprocess.Popen([*TILTPY, "logs", "-f", A], cwd=project, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "TILTPY_PORT": str(PORT), "PYTHONUNBUFFERED": "1"})
    try:
        ticks: list[int] = []
        deadline = time.monotonic() + 60
        assert proc.stdout is not None
        while time.monotonic() < deadline and len(ticks) < 200:
            line = proc.stdout.readline()
            match = re.match(r"ctl-a-tick (\d+)", line)
            if match:
                ticks.append(int(match.group(1)))
            if ticks and ticks[-1] >= ticks[0] + 3 and len(ticks) > 3:
                break
        # History first, then new lines as the pod prints them, in order.
        assert len(ticks) > 3 and ticks == sorted(ticks)
        assert ticks[-1] - ticks[0] >= 3
    finally:
        proc.kill()
        proc.wait()


def test_trigger(project: Path) -> None:
    builds = len(resource(project, B)["buildHistory"])
    out = ok("trigger", B, cwd=project)
    assert f"Triggered {B}" in out
    eventually(lambda: len(resource(project, B)["buildHistory"]) > builds, what="a new build")
    eventually(lambda: ready(project, B), what="ready again")
    latest = resource(project, B)["buildHistory"][0]
    assert latest["reason"] == "triggered" and not latest["error"]
    missing = ctl("trigger", "nope", cwd=project)
    assert missing.returncode == 1 and "nope" in missing.stderr


def test_disable_and_enable(project: Path) -> None:
    assert f"Disabled {B}" in ok("disable", B, cwd=project)
    res = resource(project, B)
    assert not res["enabled"] and res["runtimeStatus"] == "disabled"

    def deployment_gone() -> bool:
        out = subprocess.run(["kubectl", "get", "deployment", B, "-o", "name"], capture_output=True, text=True)
        return out.returncode != 0 and "NotFound" in out.stderr

    eventually(deployment_gone, timeout=60, what="the disabled resource's deployment to be deleted")
    assert "disabled" in ok("get", B, cwd=project)
    assert f"Enabled {B}" in ok("enable", B, cwd=project)
    eventually(lambda: ready(project, B), what="the enabled resource to be ready")
    assert resource(project, B)["enabled"]


def test_args(project: Path) -> None:
    out = ok("args", "--", "hello", "big world", cwd=project)
    assert "reloading" in out
    eventually(lambda: "tiltfile args: [hello big world]" in ok("logs", "(Tiltfile)", cwd=project),
               timeout=60, what="the Tiltfile to reload with the new args")
    assert ok("args", cwd=project).strip() == "hello 'big world'"
    ok("args", "--clear", cwd=project)
    eventually(lambda: ok("args", cwd=project).strip() == "(no Tiltfile args)", timeout=30, what="args cleared")


def test_port_flag(project: Path) -> None:
    result = subprocess.run([*TILTPY, "get", "--port", str(PORT), "-o", "name"],
                            cwd=project, capture_output=True, text=True, timeout=60,
                            env={k: v for k, v in os.environ.items() if k != "TILTPY_PORT"})
    assert result.returncode == 0 and A in result.stdout


# -- the terminal ----------------------------------------------------------------
class Pty:
    """`tiltpy up` on a pseudo-terminal, as a person runs it."""

    def __init__(self, cwd: Path, *args: str) -> None:
        self.master, slave = pty.openpty()
        self.proc = subprocess.Popen([*TILTPY, "up", *args], cwd=cwd, stdin=slave,
                                     stdout=slave, stderr=slave, env={**os.environ, "PYTHONUNBUFFERED": "1"},
                                     start_new_session=True)
        os.close(slave)
        self.text = ""

    def read_until(self, pattern: str, timeout: float = 300) -> str:
        deadline = time.monotonic() + timeout
        regex = re.compile(pattern)
        while not regex.search(self.text):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"no {pattern!r} within {timeout}s; screen:\n{self.text[-4000:]}")
            ready_fds, _, _ = select.select([self.master], [], [], min(remaining, 1))
            if ready_fds:
                try:
                    chunk = os.read(self.master, 65536).decode(errors="replace")
                except OSError:
                    chunk = ""
                if not chunk and self.proc.poll() is not None:
                    raise AssertionError(f"up exited; screen:\n{self.text[-4000:]}")
                self.text += re.sub(r"\x1b\[[0-9;]*m", "", chunk)
        return self.text

    def send(self, keys: str) -> None:
        os.write(self.master, keys.encode())

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGINT)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        os.close(self.master)


def test_terminal_header_status_lines_and_stream_key(testbed: dict, tmp_path: Path) -> None:
    name = "tiltpy-e2e-term"
    root = tmp_path / "term"
    root.mkdir()
    (root / "Dockerfile").write_text("FROM busybox\nCOPY marker.txt /marker.txt\n")
    (root / "marker.txt").write_text(f"term {time.time_ns()}\n")
    (root / "k8s.yaml").write_text(_deployment(name, "tiltpy-e2e-term-image",
                                               "while true; do echo term-tick; sleep 1; done"))
    (root / "Tiltfile").write_text("k8s_yaml('k8s.yaml')\ndocker_build('tiltpy-e2e-term-image', '.')\n")
    term = Pty(root, "--port", "10362")
    try:
        screen = term.read_until(r"\(q\) or \(ctrl-c\) stop", timeout=60)
        assert "dashboard: http://localhost:10362/" in screen
        screen = term.read_until(rf"{name}\s*│ ready", timeout=300)
        assert re.search(rf"{name}\s*│ updating", screen)
        assert "term-tick" not in screen  # status lines only, no logs
        term.send("s")
        screen = term.read_until(rf"{name}\s*│ term-tick", timeout=60)
        assert "Streaming all logs" in screen
    finally:
        term.stop()
        tiltpy("down", cwd=root)
    assert term.proc.returncode == 0
