"""File watching on any OS through the `watchfiles` package (Rust `notify`:
FSEvents on macOS, kqueue on the BSDs, ReadDirectoryChangesW on Windows,
inotify on Linux). Used where inotify is missing, or with
TILTPY_WATCHER=portable.

Same contract as InotifyWatcher: batches of changed paths, nothing from
ignored directories, a new (or moved-in) directory's files reported with it.
Differences, all from watchfiles: the OS watches cover ignored directories
too (they are filtered here, after the fact); and watchfiles drops the
backend's "rescan" events, so "" is sent only when the backend fails and is
restarted.

Batching is watchfiles' own: a batch closes once no new change arrived for
`quiet_ms` (its `step`), or after `max_wait_ms` (its `debounce`). Its Rust
side waits in one of anyio's worker threads (one per event loop, reused by
the next watcher) and wakes every `step` to look at what the OS reported and
at the stop event: idle, that is about 0.3% of a core at 20 ms (inotify's
watcher: nothing). `close()` sets the stop event, so the thread returns
within one step and the task ends."""
from __future__ import annotations

import asyncio
import contextlib
import os
import threading
from typing import Callable, Iterator

from watchfiles import Change, awatch

from tiltpy.watch import WatchError

RESTARTS_WITHOUT_PROGRESS = 3
MAX_GONE_DIRS = 4096


class PortableWatcher:
    kind = "watchfiles"

    def __init__(self, on_batch: Callable[[set[str]], None], *, is_ignored_dir: Callable[[str], bool],
                 quiet_ms: int = 20, max_wait_ms: int = 2000,
                 on_warning: Callable[[str], None] | None = None) -> None:
        self._on_batch = on_batch
        self._is_ignored_dir = is_ignored_dir
        self._on_warning = on_warning
        self._quiet_ms = max(1, quiet_ms)
        self._max_wait_ms = max(self._quiet_ms, max_wait_ms)
        self._roots: list[str] = []
        # Backends may report a root's real path (macOS: /private/var/... for /var/...).
        self._real_roots: list[tuple[str, str]] = []
        self._ignored: dict[str, bool] = {}
        # Directories reported deleted or moved away → None, or, once there
        # again, the paths that appeared in them since (see _deletion_is_news).
        self._gone: dict[str, set[str] | None] = {}
        self._stop = threading.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self, roots: list[str]) -> None:
        self._roots = [os.path.abspath(r) for r in roots if os.path.isdir(r) and not self._is_ignored_dir(r)]
        self._real_roots = [(os.path.realpath(r), r) for r in self._roots if os.path.realpath(r) != r]
        if not self._roots:
            return
        for root in self._roots:
            self._learn_ignored_dirs(root)
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError as err:
            raise WatchError(f"the file watcher needs a running event loop: {err}") from None
        self._task = loop.create_task(self._run(), name="file watcher")

    def close(self) -> None:
        """Stop: the worker thread sees the stop event within `quiet_ms`, the
        task then ends, and no batch is delivered after this."""
        self._stop.set()

    @property
    def done(self) -> bool:
        return self._task is None or self._task.done()

    async def _run(self) -> None:
        failures = 0
        skip_unreadable = False
        while not self._stop.is_set():
            try:
                async with contextlib.aclosing(awatch(
                        *self._roots, watch_filter=self._keep, debounce=self._max_wait_ms, step=self._quiet_ms,
                        stop_event=self._stop, rust_timeout=0, ignore_permission_denied=skip_unreadable)) as stream:
                    async for changes in stream:
                        failures = 0
                        self._deliver(changes)
                return  # the stop event was set
            except OSError as err:  # the backend could not watch the roots
                if isinstance(err, PermissionError) and not skip_unreadable:
                    self._warn(f"some directories cannot be watched, changes in them are not seen: {err}")
                    skip_unreadable = True
                    continue
                self._warn(f"file watching is off: {_explain(err)}")
                return
            except RuntimeError as err:  # the backend failed while watching: events may be lost
                failures += 1
                if self._stop.is_set():
                    return
                if failures > RESTARTS_WITHOUT_PROGRESS:
                    self._warn(f"file watching is off: {_explain(err)}")
                    return
                self._warn(f"file watcher failed ({_explain(err)}); restarted it, treating every file as changed")
                self._on_batch({""})
                await asyncio.sleep(0.5 * failures)

    def _warn(self, message: str) -> None:
        if self._on_warning is not None and not self._stop.is_set():
            self._on_warning(message)

    # -- paths ------------------------------------------------------------
    def _in_tree(self, path: str) -> tuple[str, str] | None:
        """(path as under its root, the root), or None outside every root."""
        for real, root in self._real_roots:
            if path == real or path.startswith(real + os.sep):
                path = root + path[len(real):]
                break
        for root in self._roots:
            if path == root or path.startswith(root.rstrip(os.sep) + os.sep):
                return path, root
        return None

    def _is_ignored(self, directory: str) -> bool:
        """is_ignored_dir, remembered: its keys are also every directory seen,
        which tells a deleted ignored directory from a deleted file."""
        ignored = self._ignored.get(directory)
        if ignored is None:
            ignored = self._ignored[directory] = os.path.basename(directory) == ".git" \
                or self._is_ignored_dir(directory)
        return ignored

    def _learn_ignored_dirs(self, root: str) -> None:
        """Walk the watched (non-ignored) directories once, noting the ignored
        ones below them: when one is deleted or moved away, its event must be
        dropped, and by then it can't be asked whether it was a directory."""
        for _ in self._walk(root):
            pass

    def _walk(self, root: str) -> Iterator[str]:
        """Every path below `root`, not descending into ignored directories
        (which are not yielded either, but are remembered by _is_ignored)."""
        stack = [root]
        while stack:
            try:
                entries = list(os.scandir(stack.pop()))
            except OSError:
                continue
            for entry in entries:
                try:
                    is_dir = entry.is_dir(follow_symlinks=False)
                except OSError:
                    continue
                if is_dir and self._is_ignored(entry.path):
                    continue
                yield entry.path
                if is_dir:
                    stack.append(entry.path)

    def _keep(self, change: Change, path: str) -> bool:
        """watchfiles' watch_filter: drop what is outside the roots, under an
        ignored directory, or an ignored directory itself."""
        found = self._in_tree(path)
        if found is None:
            return False
        path, root = found
        if os.path.basename(path) == ".git":
            return False
        directory = root  # never ignored itself; its subdirectories top-down, to stop at the first ignored one
        for part in path[len(root):].strip(os.sep).split(os.sep)[:-1]:
            directory = os.path.join(directory, part)
            if self._is_ignored(directory):
                return False
        if os.path.isdir(path):
            return not self._is_ignored(path)
        return os.path.lexists(path) or not self._ignored.get(path, False)

    def _deliver(self, changes: set[tuple[Change, str]]) -> None:
        if self._stop.is_set():
            return
        deleted: set[str] = set()
        batch: set[str] = set()
        for change, raw in changes:
            found = self._in_tree(raw)
            if found is None:
                continue
            path = found[0]
            if not os.path.lexists(path):
                if change == Change.deleted:
                    deleted.add(path)
                continue  # created or modified, and gone again: nothing to the consumer
            batch.add(path)
            if change == Change.added and os.path.isdir(path) and not os.path.islink(path):
                self._add_tree_files(path, batch)
        for path in batch:
            self._note_existing(path)
        batch |= {path for path in deleted if self._deletion_is_news(path)}
        for path in deleted:
            if path in self._ignored:  # a directory we knew: removed or moved away
                self._gone[path] = None
        while len(self._gone) > MAX_GONE_DIRS:
            del self._gone[next(iter(self._gone))]
        if batch:
            self._on_batch(batch)

    def _gone_ancestor(self, path: str) -> str | None:
        directory = os.path.dirname(path)
        while directory not in self._roots and len(directory) > 1:
            if directory in self._gone:
                return directory
            directory = os.path.dirname(directory)
        return None

    def _note_existing(self, path: str) -> None:
        """Below a directory that was gone and is there again, remember what
        appeared: only those can be deleted from it."""
        gone = self._gone_ancestor(path)
        if gone is not None:
            seen = self._gone[gone]
            if seen is None:
                seen = self._gone[gone] = set()
            seen.add(path)

    def _deletion_is_news(self, path: str) -> bool:
        """watchfiles' inotify backend keeps watching a directory moved out of
        the tree and reports its changes under the old path. So a deletion
        below a directory that went away counts only if it is still gone (then
        its own deletion said it all: no), or if it is there again and the
        path appeared in it since."""
        gone = self._gone_ancestor(path)
        if gone is None:
            return True
        seen = self._gone[gone]
        if not os.path.isdir(gone):
            return False
        return seen is not None and path in seen

    def _add_tree_files(self, directory: str, batch: set[str]) -> None:
        """A new or moved-in directory: everything in it is new here, and some
        backends (inotify) report nothing written before their watch existed."""
        batch.update(self._walk(directory))

def _explain(err: BaseException) -> str:
    text = str(err) or type(err).__name__
    if "watch limit" in text.lower() or "max_user_watches" in text:
        from tiltpy.watch.inotify import MAX_WATCHES_HINT

        text += f"; {MAX_WATCHES_HINT}"
    return text
