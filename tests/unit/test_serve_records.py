"""serve_cmd records: a private per-user directory, never followed through
symlinks, and `down` signals only the processes `up` started."""
from __future__ import annotations

import json
import os
import stat
import subprocess
import time
from pathlib import Path

import pytest

from tiltpy.engine import serve_records


@pytest.fixture(autouse=True)
def state_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    return tmp_path / "state"


def test_state_dir_is_private_and_per_tiltfile(state_home: Path) -> None:
    a = serve_records.state_dir("/p/one/Tiltfile")
    b = serve_records.state_dir("/p/two/Tiltfile")
    assert a != b and a.startswith(str(state_home / "tiltpy"))
    for path in (a, str(state_home / "tiltpy")):
        assert stat.S_IMODE(os.lstat(path).st_mode) == 0o700


def test_state_dir_loosened_permissions_are_tightened(state_home: Path) -> None:
    path = serve_records.state_dir("/p/Tiltfile")
    os.chmod(path, 0o777)
    serve_records.state_dir("/p/Tiltfile")
    assert stat.S_IMODE(os.lstat(path).st_mode) == 0o700


def test_a_planted_symlink_is_refused(state_home: Path, tmp_path: Path) -> None:
    elsewhere = tmp_path / "attacker"
    elsewhere.mkdir()
    state_home.mkdir()
    (state_home / "tiltpy").symlink_to(elsewhere)
    with pytest.raises(serve_records.StateDirError, match="symlink"):
        serve_records.state_dir("/p/Tiltfile")


def test_record_never_writes_through_a_symlink(tmp_path: Path) -> None:
    path = serve_records.record("/p/Tiltfile", "web", os.getpid())
    target = tmp_path / "victim"
    target.write_text("precious")
    os.unlink(path)
    os.symlink(target, path)
    serve_records.record("/p/Tiltfile", "web", os.getpid())
    assert target.read_text() == "precious"
    assert not os.path.islink(path)


def test_down_stops_the_recorded_process_group() -> None:
    proc = subprocess.Popen(["sh", "-c", "sleep 60"], start_new_session=True)
    try:
        serve_records.record("/p/Tiltfile", "web", proc.pid)
        lines: list[str] = []
        assert serve_records.stop_recorded("/p/Tiltfile", lines.append) == 1
        assert proc.wait(10) != 0
        assert "stopped serve_cmd of 'web'" in lines[0]
        assert serve_records.stop_recorded("/p/Tiltfile", lines.append) == 0  # the record is gone
    finally:
        proc.kill()


def test_down_leaves_a_process_that_reused_the_pid_alone() -> None:
    proc = subprocess.Popen(["sleep", "60"], start_new_session=True)
    try:
        path = serve_records.record("/p/Tiltfile", "web", proc.pid)
        data = json.loads(Path(path).read_text())
        # The record says the process started at another moment: not ours.
        data["started"] = "0"
        os.unlink(path)
        Path(path).write_text(json.dumps(data))
        lines: list[str] = []
        assert serve_records.stop_recorded("/p/Tiltfile", lines.append) == 0
        time.sleep(0.2)
        assert proc.poll() is None
        assert "pid was reused" in lines[0]
    finally:
        proc.kill()
