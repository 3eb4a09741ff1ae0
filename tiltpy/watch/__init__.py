"""File watching."""
from __future__ import annotations


class WatchError(OSError):
    """Watching could not start; the message says why and what to do."""
