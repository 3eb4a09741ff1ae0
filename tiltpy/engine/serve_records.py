"""Records of the serve_cmd processes `up` started, so that `tiltpy down`
can stop what an `up` that died left running — and nothing else.

The records live in a per-user directory (XDG_STATE_HOME, else
~/.local/state, under tiltpy/) that tiltpy creates with mode 0700 and checks
before every use: owned by us, a real directory (not a symlink), private.
Files in it are opened without following symlinks. A record holds the
process's pid and its start time as the kernel reports it; `down` signals a
process group only when a process with that pid still exists and started
at that same moment, so a recycled pid is never signalled."""
from __future__ import annotations

import contextlib
import hashlib
import json
import os
import signal
import stat
import subprocess
import sys
from typing import Callable

Log = Callable[[str], None]


class StateDirError(OSError):
    """The state directory is not safe to use; the message says why."""


def _base() -> str:
    root = os.environ.get("XDG_STATE_HOME") or os.path.join(os.path.expanduser("~"), ".local", "state")
    return os.path.join(root, "tiltpy")


def _ensure_private_dir(path: str) -> None:
    try:
        os.makedirs(path, mode=0o700, exist_ok=True)
    except OSError as err:
        raise StateDirError(f"cannot create {path}: {err.strerror or err}") from None
    st = os.lstat(path)
    if stat.S_ISLNK(st.st_mode) or not stat.S_ISDIR(st.st_mode):
        raise StateDirError(f"{path} is not a directory of its own (a symlink?); remove it")
    if st.st_uid != os.getuid():
        raise StateDirError(f"{path} belongs to another user (uid {st.st_uid}); remove it")
    if st.st_mode & 0o077:
        os.chmod(path, 0o700)


def state_dir(tiltfile: str) -> str:
    """The private directory for one Tiltfile's records (created if needed)."""
    base = _base()
    _ensure_private_dir(base)
    path = os.path.join(base, hashlib.sha256(os.path.abspath(tiltfile).encode()).hexdigest()[:16])
    _ensure_private_dir(path)
    return path


def process_start_time(pid: int) -> str | None:
    """When the process started, as a string that differs for a reused pid; None if it doesn't exist."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            fields = f.read().rsplit(b")", 1)[1].split()
        return fields[19].decode()  # starttime, in clock ticks since boot
    except FileNotFoundError:
        if sys.platform.startswith("linux"):
            return None
    except (OSError, IndexError):
        return None
    try:  # macOS and other Unixes
        out = subprocess.run(["ps", "-o", "lstart=", "-p", str(pid)], capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None


def _record_path(tiltfile: str, name: str) -> str:
    return os.path.join(state_dir(tiltfile), f"serve-{hashlib.sha256(name.encode()).hexdigest()[:12]}.json")


def record(tiltfile: str, name: str, pid: int) -> str:
    """Remember a serve_cmd's process group; returns the record's path."""
    path = _record_path(tiltfile, name)
    data = json.dumps({"resource": name, "pid": pid, "started": process_start_time(pid)}).encode()
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)  # never write through whatever is there
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    return path


def forget(path: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)


def stop_recorded(tiltfile: str, log: Log) -> int:
    """For `tiltpy down`: stop the serve_cmd process groups `up` recorded and
    that are provably still the same processes. Returns how many were stopped."""
    directory = state_dir(tiltfile)
    stopped = 0
    for entry in sorted(os.listdir(directory)):
        if not (entry.startswith("serve-") and entry.endswith(".json")):
            continue
        path = os.path.join(directory, entry)
        try:
            fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
            with os.fdopen(fd, "rb") as f:
                data = json.loads(f.read(4096))
            pid, started = int(data["pid"]), data.get("started")
        except (OSError, ValueError, KeyError, TypeError):
            forget(path)
            continue
        now = process_start_time(pid)
        if now is None:
            pass  # already gone
        elif started is None or now != started:
            log(f"  not stopping pid {pid}: it is no longer the serve_cmd of {data.get('resource')!r} "
                "(the pid was reused)")
        else:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pid, signal.SIGTERM)
                stopped += 1
                log(f"  stopped serve_cmd of {data.get('resource')!r} (process group {pid})")
        forget(path)
    return stopped
