"""Recursive file watching with Linux inotify, driven by the asyncio loop.

Why not a library: watchfiles and watchdog add an OS watch for every
directory and filter afterwards, so an ignored node_modules with thousands of
directories still costs thousands of inotify watches. Here ignored
directories are never watched at all, and an idle watcher is a file
descriptor in the event loop: no thread, no polling, no CPU.

Changes are delivered in batches once the tree has been quiet for
`quiet_ms` (capped at `max_wait_ms`, so a never-ending stream of writes
still gets processed)."""
from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import errno
import os
import struct
from typing import Callable

IN_MODIFY = 0x2
IN_ATTRIB = 0x4
IN_CLOSE_WRITE = 0x8
IN_MOVED_FROM = 0x40
IN_MOVED_TO = 0x80
IN_CREATE = 0x100
IN_DELETE = 0x200
IN_DELETE_SELF = 0x400
IN_MOVE_SELF = 0x800
IN_Q_OVERFLOW = 0x4000
IN_IGNORED = 0x8000
IN_ONLYDIR = 0x1000000
IN_DONT_FOLLOW = 0x2000000
IN_EXCL_UNLINK = 0x4000000
IN_ISDIR = 0x40000000
IN_NONBLOCK = 0o4000
IN_CLOEXEC = 0o2000000

_MASK = (IN_MODIFY | IN_ATTRIB | IN_CLOSE_WRITE | IN_MOVED_FROM | IN_MOVED_TO | IN_CREATE | IN_DELETE
         | IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR | IN_DONT_FOLLOW | IN_EXCL_UNLINK)
_EVENT = struct.Struct("iIII")

_libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)


class WatchError(OSError):
    pass


def available() -> bool:
    return hasattr(_libc, "inotify_init1")


class InotifyWatcher:
    """Watches directory trees; `on_batch(paths)` gets the set of changed paths
    (files created, modified, deleted or moved; directories created or removed)."""

    def __init__(self, on_batch: Callable[[set[str]], None], *, is_ignored_dir: Callable[[str], bool],
                 quiet_ms: int = 20, max_wait_ms: int = 2000) -> None:
        self._on_batch = on_batch
        self._is_ignored_dir = is_ignored_dir
        self._quiet = quiet_ms / 1000
        self._max_wait = max_wait_ms / 1000
        self._fd = -1
        self._wd_to_dir: dict[int, str] = {}
        self._dir_to_wd: dict[str, int] = {}
        self._pending: set[str] = set()
        self._first_pending = 0.0
        self._flush_handle: asyncio.TimerHandle | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self.overflowed = False

    @property
    def watch_count(self) -> int:
        return len(self._wd_to_dir)

    def start(self, roots: list[str]) -> None:
        self._loop = asyncio.get_running_loop()
        self._fd = _libc.inotify_init1(IN_NONBLOCK | IN_CLOEXEC)
        if self._fd < 0:
            err = ctypes.get_errno()
            raise WatchError(err, f"inotify_init1 failed: {os.strerror(err)} "
                             "(too many inotify instances? see /proc/sys/fs/inotify/max_user_instances)")
        for root in roots:
            self.add_tree(root)
        self._loop.add_reader(self._fd, self._read)

    def close(self) -> None:
        if self._flush_handle:
            self._flush_handle.cancel()
        if self._fd >= 0:
            if self._loop:
                self._loop.remove_reader(self._fd)
            os.close(self._fd)
            self._fd = -1
        self._wd_to_dir.clear()
        self._dir_to_wd.clear()

    def add_tree(self, root: str, report_files: bool = False) -> None:
        """Watch `root` and every non-ignored directory below it."""
        if not os.path.isdir(root) or root in self._dir_to_wd or self._is_ignored_dir(root):
            return
        stack = [root]
        while stack:
            directory = stack.pop()
            self._add_watch(directory)
            try:
                entries = list(os.scandir(directory))
            except OSError:
                continue
            for entry in entries:
                if entry.is_dir(follow_symlinks=False):
                    if entry.name != ".git" and not self._is_ignored_dir(entry.path):
                        stack.append(entry.path)
                        if report_files:
                            self._pending.add(entry.path)
                elif report_files:
                    # Files created in a new directory before its watch existed.
                    self._pending.add(entry.path)

    def _add_watch(self, directory: str) -> None:
        wd = _libc.inotify_add_watch(self._fd, os.fsencode(directory), _MASK)
        if wd < 0:
            err = ctypes.get_errno()
            if err in (errno.ENOENT, errno.ENOTDIR, errno.EACCES):
                return
            if err == errno.ENOSPC:
                raise WatchError(err, f"out of inotify watches while watching {directory} "
                                 f"({len(self._wd_to_dir)} in use; raise fs.inotify.max_user_watches "
                                 "or ignore large directories with .tiltignore)")
            raise WatchError(err, f"cannot watch {directory}: {os.strerror(err)}")
        self._wd_to_dir[wd] = directory
        self._dir_to_wd[directory] = wd

    def _read(self) -> None:
        try:
            data = os.read(self._fd, 1 << 16)
        except BlockingIOError:
            return
        offset = 0
        while offset < len(data):
            wd, mask, _cookie, length = _EVENT.unpack_from(data, offset)
            name = data[offset + _EVENT.size: offset + _EVENT.size + length].rstrip(b"\0")
            offset += _EVENT.size + length
            self._handle(wd, mask, os.fsdecode(name))
        self._schedule_flush()

    def _handle(self, wd: int, mask: int, name: str) -> None:
        if mask & IN_Q_OVERFLOW:
            self.overflowed = True  # events were lost: the consumer should treat everything as changed
            return
        directory = self._wd_to_dir.get(wd)
        if directory is None:
            return
        if mask & IN_IGNORED:
            self._forget(directory)
            return
        if mask & (IN_DELETE_SELF | IN_MOVE_SELF):
            self._pending.add(directory)
            return
        path = os.path.join(directory, name) if name else directory
        if name == ".git" or (mask & IN_ISDIR and self._is_ignored_dir(path)):
            return
        self._pending.add(path)
        if mask & IN_ISDIR and mask & (IN_CREATE | IN_MOVED_TO):
            self.add_tree(path, report_files=True)

    def _forget(self, directory: str) -> None:
        wd = self._dir_to_wd.pop(directory, None)
        if wd is not None:
            self._wd_to_dir.pop(wd, None)

    def _schedule_flush(self) -> None:
        if not self._pending and not self.overflowed:
            return
        assert self._loop is not None
        now = self._loop.time()
        if self._flush_handle is None:
            self._first_pending = now
        else:
            self._flush_handle.cancel()
        delay = min(self._quiet, max(0.0, self._first_pending + self._max_wait - now))
        self._flush_handle = self._loop.call_later(delay, self._flush)

    def _flush(self) -> None:
        self._flush_handle = None
        batch, self._pending = self._pending, set()
        if self.overflowed:
            self.overflowed = False
            batch.add("")  # "" = unknown changes: rescan
        if batch:
            self._on_batch(batch)
