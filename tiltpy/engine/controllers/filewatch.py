"""The FileWatch controller (Tilt's `v1alpha1.file_watch`): watches paths
and records what changed in the object's status (`lastEventTime`, the last
`fileEvents`), which is what Cmds restart on."""
from __future__ import annotations

import os
from typing import Any, Callable, Protocol

from tiltpy.engine.controllers import Log, owning_resource
from tiltpy.engine.store import ObjectStore, now_micro
from tiltpy.image.ignore import PatternMatcher

MAX_EVENTS = 20  # Tilt keeps the last 20 events in status


class Watcher(Protocol):
    def start(self, roots: list[str]) -> None: ...
    def close(self) -> None: ...


# (on_batch, is_ignored_dir) -> a watcher (the engine's inotify or portable one)
WatcherFactory = Callable[[Callable[[set[str]], None], Callable[[str], bool]], Watcher]


class _Ignores:
    def __init__(self, spec: list[dict[str, Any]]) -> None:
        self._rules = [(os.path.abspath(r.get("basePath") or "."), list(r.get("patterns") or []),
                        PatternMatcher(list(r.get("patterns") or []))) for r in spec or []]

    def _rel(self, base: str, path: str) -> str | None:
        rel = os.path.relpath(path, base)
        return None if rel.startswith("..") else rel.replace(os.sep, "/")

    # An ignore without patterns ignores everything under its basePath (Tilt's IgnoreDef).
    def file(self, path: str) -> bool:
        for base, patterns, matcher in self._rules:
            rel = self._rel(base, path)
            if rel is not None and (not patterns or matcher.matches(rel)):
                return True
        return False

    def directory(self, path: str) -> bool:
        for base, patterns, matcher in self._rules:
            rel = self._rel(base, path)
            if rel is not None and (not patterns or rel != "." and matcher.can_skip_dir(rel)):
                return True
        return os.path.basename(path) == ".git"


class FileWatchController:
    kind = "FileWatch"

    def __init__(self, store: ObjectStore, log: Log, watcher_factory: WatcherFactory) -> None:
        self.store = store
        self.log = log
        self._factory = watcher_factory
        self._watchers: dict[str, tuple[tuple[Any, ...], Watcher]] = {}

    def dependencies(self, obj: dict[str, Any]) -> list[tuple[str, str]]:
        return []

    async def reconcile(self, name: str, obj: dict[str, Any] | None) -> None:
        spec = (obj or {}).get("spec") or {}
        key = (tuple(spec.get("watchedPaths") or ()), repr(spec.get("ignores")))
        current = self._watchers.get(name)
        if current is not None and (obj is None or current[0] != key):
            current[1].close()
            del self._watchers[name]
        if obj is None or (current is not None and current[0] == key):
            return
        watched = [os.path.abspath(p) for p in spec.get("watchedPaths") or []]
        ignores = _Ignores(spec.get("ignores") or [])

        def on_batch(paths: set[str]) -> None:
            seen = sorted(p for p in paths if p and _under_any(p, watched) and not ignores.file(p))
            if not seen and "" not in paths:
                return
            self._record(name, seen)

        roots = sorted({p if os.path.isdir(p) else os.path.dirname(p) for p in watched})
        watcher = self._factory(on_batch, ignores.directory)
        try:
            watcher.start([r for r in roots if os.path.isdir(r)])
        except OSError as err:
            watcher.close()
            self.log(owning_resource(obj), f"WARNING: FileWatch {name}: cannot watch: {err}")
            self.store.update_status("FileWatch", name, {"monitorStartTime": now_micro(), "error": str(err)})
            return
        self._watchers[name] = (key, watcher)
        self.store.update_status("FileWatch", name, {"monitorStartTime": now_micro()})

    def _record(self, name: str, seen: list[str]) -> None:
        obj = self.store.get("FileWatch", name)
        if obj is None:
            return
        status = dict(obj.get("status") or {})
        now = now_micro()
        events = list(status.get("fileEvents") or []) + [{"time": now, "seenFiles": seen}]
        status.update(lastEventTime=now, fileEvents=events[-MAX_EVENTS:])
        self.store.update_status("FileWatch", name, status)

    async def close(self) -> None:
        for _, watcher in self._watchers.values():
            watcher.close()
        self._watchers.clear()


def _under_any(path: str, roots: list[str]) -> bool:
    return any(path == r or path.startswith(r.rstrip("/") + "/") for r in roots)
