"""Files in the per-user cache directory ($XDG_CACHE_HOME/tiltpy, else
~/.cache/tiltpy). Everything kept there is a hint that saves work: losing it
or finding it corrupt costs only that work, so reading and writing never
fail a command."""
from __future__ import annotations

import json
import os
import threading
from typing import Any


def cache_path(name: str) -> str:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "tiltpy", name)


def read_bytes(path: str) -> bytes | None:
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError:
        return None


def read_json_object(path: str) -> dict[str, Any]:
    """The JSON object in the file; {} when it is missing, unreadable, corrupt or not an object."""
    try:
        data = json.loads(read_bytes(path) or b"{}")
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def write_atomically(path: str, data: bytes) -> bool:
    """Replace the file at once (a concurrent reader sees the old or the new
    one, never half), readable by the user only; False if it could not be written."""
    directory = os.path.dirname(path)
    # A name only this process uses, created exclusively: tempfile's import
    # (random, shutil) would cost more than the write.
    tmp = os.path.join(directory, f".{os.path.basename(path)}.{os.getpid()}.{threading.get_ident()}.tmp")
    try:
        os.makedirs(directory, mode=0o700, exist_ok=True)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), 0o600)
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            os.replace(tmp, path)
        except BaseException:
            os.unlink(tmp)
            raise
    except OSError:
        return False
    return True
