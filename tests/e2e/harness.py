"""Driving `tiltpy` the way a user does: as a command in a project folder."""
from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "examples"


def tiltpy_command() -> list[str]:
    """The `tiltpy` a user would run. CI sets TILTPY_BIN to the command of the
    built wheel installed in a fresh virtualenv, so an undeclared dependency
    fails there; otherwise this checkout's package runs."""
    command = os.environ.get("TILTPY_BIN")
    return [command] if command else [sys.executable, "-m", "tiltpy"]


TILTPY = tiltpy_command()


def copy_example(name: str, dest: Path) -> Path:
    target = dest / name
    shutil.copytree(EXAMPLES / name, target)
    return target


def tiltpy(*args: str, cwd: Path, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*TILTPY, *args], cwd=cwd, capture_output=True, text=True,
                          timeout=timeout, env={**os.environ, "PYTHONUNBUFFERED": "1"})


class Up:
    """A running `tiltpy up`, its output collected as it arrives."""

    def __init__(self, cwd: Path, *args: str, env: dict[str, str] | None = None) -> None:
        self.proc = subprocess.Popen(
            [*TILTPY, "up", "--stream", *args], cwd=cwd, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, text=True, env={**(env or os.environ), "PYTHONUNBUFFERED": "1"})
        self._lines: list[str] = []
        self._cond = threading.Condition()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            with self._cond:
                self._lines.append(line.rstrip("\n"))
                self._cond.notify_all()

    @property
    def output(self) -> str:
        with self._cond:
            return "\n".join(self._lines)

    def wait_for(self, pattern: str, timeout: float = 300, start: int = 0) -> re.Match[str]:
        regex = re.compile(pattern)
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for line in self._lines[start:]:
                    match = regex.search(line)
                    if match:
                        return match
                remaining = deadline - time.monotonic()
                if remaining <= 0 or self.proc.poll() is not None and not self._pending():
                    raise AssertionError(f"no line matching {pattern!r} within {timeout}s; output:\n"
                                         + "\n".join(self._lines[-80:]))
                self._cond.wait(min(remaining, 1.0))

    def _pending(self) -> bool:
        return False

    def mark(self) -> int:
        with self._cond:
            return len(self._lines)

    def stop(self) -> int:
        return interrupt(self.proc)


def interrupt(proc: subprocess.Popen, timeout: float = 30) -> int:
    """Ctrl-C for a running `tiltpy`; killed if it has not stopped within `timeout`."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    return proc.returncode


def http_get(url: str, timeout: float = 120, expect: str | None = None) -> str:
    """GET until it answers (and contains `expect`), or fail with the last error."""
    deadline = time.monotonic() + timeout
    last: object = None
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                body = response.read().decode()
                if expect is None or expect in body:
                    return body
                last = f"body without {expect!r}: {body!r}"
        except (urllib.error.URLError, ConnectionError, OSError) as err:
            last = err
        time.sleep(0.5)
    raise AssertionError(f"{url} did not answer as expected within {timeout}s: {last}")


def kubectl_json(*args: str) -> dict:
    import json

    out = subprocess.run(["kubectl", *args, "-o", "json"], capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def live_pods(label: str) -> list[dict]:
    """The pods with this label that are not being deleted (a rollout's old pod
    may still be terminating; kubectl's JSONPath has no `null` to filter them)."""
    return [p for p in kubectl_json("get", "pods", "-l", label)["items"] if not p["metadata"].get("deletionTimestamp")]
