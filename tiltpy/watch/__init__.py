"""File watching: the one place that picks a watcher.

Two watchers share one interface (`start(roots)`, `close()`, and batches of
changed paths handed to `on_batch`, "" meaning "events were lost: rescan"):

- `inotify.InotifyWatcher` (Linux): never spends a watch on an ignored
  directory; idle, it is a file descriptor in the event loop.
- `portable.PortableWatcher`: the `watchfiles` package (FSEvents, kqueue,
  ReadDirectoryChangesW, inotify), for every other system.

`TILTPY_WATCHER` chooses: `auto` (default: inotify where the kernel has it,
else portable), `inotify` or `portable`."""
from __future__ import annotations

import os
from typing import Callable, Protocol

WATCHER_ENV = "TILTPY_WATCHER"
WATCHER_CHOICES = ("auto", "inotify", "portable")


class WatchError(OSError):
    """Watching could not start; the message says why and what to do."""


class Watcher(Protocol):
    kind: str  # names the mechanism in `up`'s log

    def start(self, roots: list[str]) -> None: ...

    def close(self) -> None: ...


def create_watcher(on_batch: Callable[[set[str]], None], *, is_ignored_dir: Callable[[str], bool],
                   quiet_ms: int = 20, max_wait_ms: int = 2000,
                   on_warning: Callable[[str], None] | None = None, choice: str | None = None,
                   eager: Callable[[str], bool] | None = None) -> Watcher:
    """The watcher `choice` (default: $TILTPY_WATCHER, else auto) names.
    Raises WatchError for an unknown choice or inotify where there is none.
    `eager(path)`: a completed write of such files may be delivered without
    the quiet window (inotify only: the portable watcher can't see when a
    write is complete, so it always waits for quiet)."""
    from tiltpy.watch import inotify

    choice = (choice if choice is not None else os.environ.get(WATCHER_ENV, "")).strip().lower() or "auto"
    if choice not in WATCHER_CHOICES:
        raise WatchError(f"{WATCHER_ENV}={choice!r} is not one of {', '.join(WATCHER_CHOICES)}")
    if choice == "inotify" and not inotify.available():
        raise WatchError(f"{WATCHER_ENV}=inotify, but this system has no inotify; "
                         f"use {WATCHER_ENV}=portable (or leave it unset)")
    options = dict(is_ignored_dir=is_ignored_dir, quiet_ms=quiet_ms, max_wait_ms=max_wait_ms, on_warning=on_warning)
    if choice == "inotify" or (choice == "auto" and inotify.available()):
        return inotify.InotifyWatcher(on_batch, eager=eager, **options)
    from tiltpy.watch.portable import PortableWatcher

    return PortableWatcher(on_batch, **options)
