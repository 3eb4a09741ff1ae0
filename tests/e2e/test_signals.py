"""`up` stops within 2 s on SIGINT and SIGTERM — also when a script started it
in the background (with SIGINT ignored), and while a build or the
Tiltfile's local() is running — and leaves no build process behind."""
from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from pathlib import Path

import pytest

from tests.e2e.harness import TILTPY
from tests.k8s_yaml import deployment

pytestmark = pytest.mark.e2e


class Background:
    """`tiltpy up` as a shell script's background job: SIGINT starts ignored."""

    def __init__(self, cwd: Path) -> None:
        def ignore_sigint() -> None:
            signal.signal(signal.SIGINT, signal.SIG_IGN)

        self.proc = subprocess.Popen([*TILTPY, "up", "--stream", "--port", "0"], cwd=cwd, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, text=True, preexec_fn=ignore_sigint,
                                     env={**os.environ, "PYTHONUNBUFFERED": "1"})
        self.lines: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))

    def wait_for(self, text: str, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while not any(text in line for line in self.lines):
            if time.monotonic() > deadline or self.proc.poll() is not None:
                raise AssertionError(f"{text!r} never appeared:\n" + "\n".join(self.lines[-40:]))
            time.sleep(0.1)

    def stop_with(self, sig: int) -> float:
        started = time.monotonic()
        self.proc.send_signal(sig)
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError("up did not stop within 10 s:\n" + "\n".join(self.lines[-40:]))
        return time.monotonic() - started


def _build_processes(marker: str) -> list[str]:
    out = subprocess.run(["ps", "-eo", "pid,args"], capture_output=True, text=True).stdout
    return [line for line in out.splitlines() if marker in line and "ps -eo" not in line]


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_stops_during_a_build(testbed: dict, tmp_path: Path, sig: int) -> None:
    name = f"tiltpy-e2e-sig{int(sig)}"
    marker = f"slow-build-{time.time_ns()}"
    (tmp_path / "Dockerfile").write_text(f"FROM busybox\nRUN echo {marker} && sleep 120\n")
    (tmp_path / "k8s.yaml").write_text(deployment(name, f"{name}-image", "sleep 3600"))
    (tmp_path / "Tiltfile").write_text(f"k8s_yaml('k8s.yaml')\ndocker_build('{name}-image', '.')\n")
    up = Background(tmp_path)
    try:
        up.wait_for(marker)
        took = up.stop_with(sig)
        assert took < 2.0, f"took {took:.2f}s"
        assert "Stopped." in "\n".join(up.lines)
        time.sleep(0.5)
        assert not [p for p in _build_processes("--iidfile") if str(tmp_path) in p or "tiltpy-build-" in p]
    finally:
        if up.proc.poll() is None:
            up.proc.kill()


def test_stops_during_the_tiltfiles_local(testbed: dict, tmp_path: Path) -> None:
    marker = f"slow-local-{time.time_ns()}"
    (tmp_path / "Tiltfile").write_text(f"local('echo {marker}; sleep 120')\n")
    up = Background(tmp_path)
    try:
        deadline = time.monotonic() + 60  # the Tiltfile's log shows only once it has loaded: look for the process
        while not _build_processes(marker):
            assert time.monotonic() < deadline and up.proc.poll() is None, "\n".join(up.lines)
            time.sleep(0.1)
        took = up.stop_with(signal.SIGINT)
        assert took < 2.0, f"took {took:.2f}s"
        time.sleep(0.3)
        assert not _build_processes(marker)  # local()'s shell and its sleep are gone
    finally:
        if up.proc.poll() is None:
            up.proc.kill()
