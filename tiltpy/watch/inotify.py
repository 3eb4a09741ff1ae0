"""Recursive file watching with Linux inotify, driven by the asyncio loop.

Why not a library: watchfiles and watchdog add an OS watch for every
directory and filter afterwards, so an ignored node_modules with thousands of
directories still costs thousands of inotify watches. Here ignored
directories are never watched at all, and an idle watcher is a file
descriptor in the event loop: no thread, no polling, no CPU.

Changes are delivered in batches once the tree has been quiet for
`quiet_ms` (capped at `max_wait_ms`, so a never-ending stream of writes
still gets processed). With an `eager` test, a batch goes at once when a
file was just completely written (closed after writing, or renamed into
place) and every path waiting is a file that exists and passes the test:
the engine passes "needs no more than a live update", so a save starts its
sync without waiting out the quiet window. A deletion or rename-away in the
batch (an editor's save in several steps) waits for quiet as before, unless
the path is a file created moments ago (a temporary file renamed into place).

A kernel watch follows its directory's inode, not its path. So a directory
moved away (IN_MOVED_FROM) loses its watches at once: otherwise its events
would keep arriving under the old path, even after it left the tree, and a
new directory at the old path would never be watched. A directory moved in
(IN_MOVED_TO) is watched afresh and its files reported, like a new one."""
from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import errno
import os
import struct
import sys
from typing import Callable

from tiltpy.watch import WatchError

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
_TEMP_FILE_SECONDS = 5.0  # a file created and gone within this is an editor's temporary file
_EAGER_MAX = 16  # a bigger batch (a checkout, a build's output) waits for quiet: it is rarely just syncs
MAX_WATCHES_HINT = ("raise fs.inotify.max_user_watches (sudo sysctl fs.inotify.max_user_watches=524288) "
                    "or ignore large directories with .tiltignore")


def _load_libc() -> ctypes.CDLL | None:
    """libc when it has inotify, else None. Safe on every OS: tiltpy must
    import on macOS and Windows, which use the portable watcher."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    except OSError:
        return None
    return libc if hasattr(libc, "inotify_init1") and hasattr(libc, "inotify_add_watch") else None


_libc = _load_libc()


def available() -> bool:
    return _libc is not None


# The system calls, as functions the tests can replace (to simulate running out of watches).
def _inotify_init() -> tuple[int, int]:
    """(fd, 0), or (-1, errno)."""
    assert _libc is not None
    fd = _libc.inotify_init1(IN_NONBLOCK | IN_CLOEXEC)
    return (fd, 0) if fd >= 0 else (-1, ctypes.get_errno())


def _inotify_add_watch(fd: int, path: str, mask: int) -> tuple[int, int]:
    """(watch descriptor, 0), or (-1, errno)."""
    assert _libc is not None
    wd = _libc.inotify_add_watch(fd, os.fsencode(path), mask)
    return (wd, 0) if wd >= 0 else (-1, ctypes.get_errno())


def _inotify_rm_watch(fd: int, wd: int) -> None:
    assert _libc is not None
    _libc.inotify_rm_watch(fd, wd)  # fails only when the kernel already dropped it


class InotifyWatcher:
    """Watches directory trees; `on_batch(paths)` gets the set of changed paths
    (files created, modified, deleted or moved; directories created, removed
    or moved; "" when the kernel dropped events and everything must be
    rescanned). `on_warning` hears about trouble that doesn't stop watching."""

    kind = "inotify"

    def __init__(self, on_batch: Callable[[set[str]], None], *, is_ignored_dir: Callable[[str], bool],
                 quiet_ms: int = 20, max_wait_ms: int = 2000,
                 on_warning: Callable[[str], None] | None = None,
                 eager: Callable[[str], bool] | None = None) -> None:
        self._on_batch = on_batch
        self._eager = eager
        self._written = False  # a file was completely written since the last batch
        self._created: dict[str, float] = {}  # files created lately (when): temporary files of atomic saves
        self._is_ignored_dir = is_ignored_dir
        self._on_warning = on_warning
        self._quiet = quiet_ms / 1000
        self._max_wait = max_wait_ms / 1000
        self._fd = -1
        self._roots: list[str] = []
        self._wd_to_dir: dict[int, str] = {}
        self._dir_to_wd: dict[str, int] = {}
        self._pending: set[str] = set()
        self._first_pending = 0.0
        self._flush_handle: asyncio.TimerHandle | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._starting = False
        self._warned_out_of_watches = False
        self.overflowed = False

    @property
    def watch_count(self) -> int:
        return len(self._wd_to_dir)

    def start(self, roots: list[str]) -> None:
        """Watch `roots`; raises WatchError (e.g. out of inotify watches) with
        nothing left open."""
        if _libc is None:
            raise WatchError("inotify is not available on this system")
        self._loop = asyncio.get_running_loop()
        self._roots = list(roots)
        self._starting = True
        try:
            self._open()
        except WatchError:
            self.close()
            raise
        finally:
            self._starting = False

    def _open(self) -> None:
        assert self._loop is not None
        self._fd, err = _inotify_init()
        if self._fd < 0:
            raise WatchError(err, f"inotify_init1 failed: {os.strerror(err)} "
                             "(too many inotify instances? see /proc/sys/fs/inotify/max_user_instances)")
        for root in self._roots:
            self.add_tree(root)
        self._loop.add_reader(self._fd, self._read)

    def _close_fd(self) -> None:
        if self._fd >= 0:
            if self._loop:
                self._loop.remove_reader(self._fd)
            os.close(self._fd)  # drops every watch of this instance
            self._fd = -1
        self._wd_to_dir.clear()
        self._dir_to_wd.clear()

    def close(self) -> None:
        if self._flush_handle:
            self._flush_handle.cancel()
            self._flush_handle = None
        self._close_fd()

    def add_tree(self, root: str, report_files: bool = False) -> None:
        """Watch `root` and every non-ignored directory below it (adding a
        watch again is harmless: the kernel returns the same one).
        `report_files`: the tree is new here, so everything in it counts as
        changed (files may have appeared before its watch)."""
        if not os.path.isdir(root) or self._is_ignored_dir(root):
            return
        stack = [root]
        while stack:
            directory = stack.pop()
            self._add_watch(directory)  # on failure still list it: what is there now is news
            try:
                entries = list(os.scandir(directory))
            except OSError:
                continue
            for entry in entries:
                try:
                    is_dir = entry.is_dir(follow_symlinks=False)
                except OSError:
                    continue
                if is_dir:
                    if entry.name != ".git" and not self._is_ignored_dir(entry.path):
                        stack.append(entry.path)
                        if report_files:
                            self._pending.add(entry.path)
                elif report_files:
                    self._pending.add(entry.path)

    def _add_watch(self, directory: str) -> None:
        wd, err = _inotify_add_watch(self._fd, directory, _MASK)
        if wd < 0:
            if err in (errno.ENOENT, errno.ENOTDIR, errno.EACCES):
                return  # gone again, replaced by a file, or unreadable: nothing to watch
            if err == errno.ENOSPC:
                message = (f"out of inotify watches while watching {directory} "
                           f"({len(self._wd_to_dir)} in use by this watcher); {MAX_WATCHES_HINT}")
            else:
                message = f"cannot watch {directory}: {os.strerror(err)}"
            if self._starting:
                raise WatchError(err, message)
            # Later (a new directory): watching goes on without it; say so (once for ENOSPC).
            if err != errno.ENOSPC or not self._warned_out_of_watches:
                self._warn(f"{message}; changes in it are not seen")
            self._warned_out_of_watches |= err == errno.ENOSPC
            return
        previous = self._wd_to_dir.get(wd)
        if previous is not None and previous != directory:
            # Already watched under its old name: the moved directory was found
            # here before its IN_MOVED_FROM was read. Same watch, new path.
            del self._dir_to_wd[previous]
        replaced = self._dir_to_wd.get(directory)
        if replaced is not None and replaced != wd:
            # Another directory had this path (one renamed over it): its watch
            # would report under our path.
            del self._wd_to_dir[replaced]
            _inotify_rm_watch(self._fd, replaced)
        self._wd_to_dir[wd] = directory
        self._dir_to_wd[directory] = wd

    def _warn(self, message: str) -> None:
        if self._on_warning is not None:
            self._on_warning(message)

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
            if mask & IN_Q_OVERFLOW:
                self.overflowed = True
                break
            self._handle(wd, mask, os.fsdecode(name))
        if self.overflowed:
            self._rewatch()
        self._schedule_flush()

    def _rewatch(self) -> None:
        """After an overflow the lost events may have been moves and new
        directories, so every watch may be wrong: start over (the batch gets
        "", so the consumer rescans)."""
        self._close_fd()
        try:
            self._open()
        except WatchError as err:
            self._warn(f"file watching stopped: {err}")
            self._close_fd()

    def _handle(self, wd: int, mask: int, name: str) -> None:
        directory = self._wd_to_dir.get(wd)
        if directory is None:
            return  # a watch we dropped (moved away) whose events were already queued
        if mask & IN_IGNORED:
            self._forget(wd)
            return
        if mask & IN_DELETE_SELF:
            self._pending.add(directory)
            return
        if mask & IN_MOVE_SELF:
            # Below a root, the parent's IN_MOVED_FROM/TO tell more. A root
            # has no watched parent: its watches now point elsewhere.
            if directory in self._roots:
                self._pending.add(directory)
                self._unwatch_tree(directory)
            return
        path = os.path.join(directory, name) if name else directory
        if name == ".git" or (mask & IN_ISDIR and self._is_ignored_dir(path)):
            return
        self._pending.add(path)
        if mask & (IN_CLOSE_WRITE | IN_MOVED_TO) and not mask & IN_ISDIR:
            self._written = True
        if mask & IN_CREATE and not mask & IN_ISDIR and self._eager is not None and self._loop is not None:
            self._created[path] = self._loop.time()
        if mask & IN_ISDIR:
            if mask & IN_MOVED_FROM:
                self._unwatch_tree(path)
            elif mask & (IN_CREATE | IN_MOVED_TO):
                self.add_tree(path, report_files=True)

    def _unwatch_tree(self, directory: str) -> None:
        """Remove the watches of `directory` and everything below it."""
        prefix = directory.rstrip("/") + "/"
        for path in [d for d in self._dir_to_wd if d == directory or d.startswith(prefix)]:
            wd = self._dir_to_wd.pop(path)
            del self._wd_to_dir[wd]
            _inotify_rm_watch(self._fd, wd)

    def _forget(self, wd: int) -> None:
        directory = self._wd_to_dir.pop(wd, None)
        if directory is not None and self._dir_to_wd.get(directory) == wd:
            del self._dir_to_wd[directory]

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
        if self._written and self._ready_now():
            delay = 0.0
        self._flush_handle = self._loop.call_later(delay, self._flush)

    def _ready_now(self) -> bool:
        """Whether the waiting batch may go without the quiet window (see the module's notes)."""
        if self._eager is None or self.overflowed or len(self._pending) > _EAGER_MAX or self._loop is None:
            return False
        now = self._loop.time()
        if len(self._created) > 1000 or any(now - t > _TEMP_FILE_SECONDS for t in self._created.values()):
            self._created = {p: t for p, t in self._created.items() if now - t <= _TEMP_FILE_SECONDS}
        for path in self._pending:
            if os.path.isfile(path):
                if not self._eager(path):
                    return False
            elif os.path.lexists(path) or path not in self._created:
                return False  # a deletion, a rename away, a directory: wait for the rest of it
        return True

    def _flush(self) -> None:
        self._flush_handle = None
        self._written = False
        batch, self._pending = self._pending, set()
        if self.overflowed:
            self.overflowed = False
            batch.add("")  # "" = unknown changes: rescan
        if batch:
            self._on_batch(batch)
