"""Files in the per-user cache directory ($XDG_CACHE_HOME/tiltpy, else
~/.cache/tiltpy). Everything kept there is a hint that saves work: losing it
or finding it corrupt costs only that work, so reading and writing never
fail a command."""
from __future__ import annotations

import os


def cache_path(name: str) -> str:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "tiltpy", name)


def read_bytes(path: str) -> bytes | None:
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError:
        return None


def write_atomically(path: str, data: bytes) -> bool:
    """Replace the file at once (a concurrent reader sees the old or the new
    one, never half), readable by the user only; False if it could not be written."""
    import tempfile  # only when there is something to write

    directory = os.path.dirname(path)
    try:
        os.makedirs(directory, mode=0o700, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=directory, prefix="." + os.path.basename(path) + "-")
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
