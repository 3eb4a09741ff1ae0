"""What to watch for a set of manifests, and which directories to skip.

Every image context is watched recursively; the Tiltfile's own inputs too.
A directory is skipped when every context that contains it excludes it for
good (.dockerignore, ignore=, only=), or the global ignores (.tiltignore,
watch_settings) exclude it; `.git` is never watched."""
from __future__ import annotations

import os
from typing import Iterable

from tiltpy.image.ignore import PatternMatcher, read_dockerignore
from tiltpy.image.context import TargetFiles
from tiltpy.model.manifest import ImageTarget, TiltfileResult

# Editor and tool droppings (Tilt's internal/ignore/ephemeral.go list).
EPHEMERAL_PATTERNS = ("**/.idea/**", "**/*___jb_old___", "**/*___jb_tmp___", "**/.#*", "**/#*#", "**/*.swp",
                      "**/*.swx", "**/*.swo", "**/*~", "**/4913", "**/*.kate-swp", "**/.*.kate-swp",
                      "**/*-go-tmp-umask")


class ProjectWatch:
    def __init__(self, result: TiltfileResult) -> None:
        self.root = os.path.dirname(result.tiltfile)
        self.config_files = set(result.watched_files)
        targets: dict[str, ImageTarget] = {}
        for manifest in result.manifests:
            for target in manifest.image_targets:
                targets[target.ref] = target
        self.target_files = {ref: TargetFiles(t) for ref, t in targets.items()}
        # local_resource deps: files or directories, with ignores relative to the Tiltfile's directory.
        self.local_deps = {m.name: (m.local.deps, PatternMatcher(m.local.ignore))
                           for m in result.manifests if m.local is not None}
        global_patterns = [*read_dockerignore(os.path.join(self.root, ".tiltignore")), *result.watch_ignores]
        self.global_ignore = PatternMatcher(global_patterns)
        self.ephemeral = PatternMatcher(EPHEMERAL_PATTERNS)

    def roots(self) -> list[str]:
        dirs = {tf.target.context for tf in self.target_files.values() if tf.target.context != "-"}
        dirs |= {os.path.dirname(p) for p in self.config_files}
        for deps, _ in self.local_deps.values():
            dirs |= {d if os.path.isdir(d) else os.path.dirname(d) for d in deps}
        existing = sorted(d for d in dirs if os.path.isdir(d))
        # Nested roots are covered by their ancestors.
        return [d for d in existing if not any(d != o and d.startswith(o.rstrip("/") + "/") for o in existing)]

    def _rel_to_root(self, path: str) -> str | None:
        rel = os.path.relpath(path, self.root)
        return None if rel.startswith("..") else rel.replace(os.sep, "/")

    def is_ignored_dir(self, path: str) -> bool:
        if os.path.basename(path) == ".git":
            return True
        if any(cfg.startswith(path.rstrip("/") + "/") for cfg in self.config_files):
            return False
        if self._needed_by_local(path):
            return False
        rel = self._rel_to_root(path)
        if rel is not None and rel != "." and self.global_ignore.can_skip_dir(rel):
            return True
        owners = [tf for tf in self.target_files.values()
                  if tf.target.context != "-" and (path == tf.target.context
                                                   or path.startswith(tf.target.context.rstrip("/") + "/"))]
        if not owners:
            # Not in any context: only ancestors of contexts or config files need watching.
            contexts = [tf.target.context for tf in self.target_files.values()]
            return not any(c.startswith(path.rstrip("/") + "/") for c in contexts) and \
                path not in {os.path.dirname(c) for c in self.config_files}
        for tf in owners:
            rel_ctx = os.path.relpath(path, tf.target.context).replace(os.sep, "/")
            if rel_ctx == "." or not tf.matcher().can_skip_dir(rel_ctx):
                return False
        return True

    def _needed_by_local(self, path: str) -> bool:
        prefix = path.rstrip("/") + "/"
        for deps, ignore in self.local_deps.values():
            for dep in deps:
                if dep.startswith(prefix) or dep == path:
                    return True  # an ancestor of a dep, or the dep itself
                if path.startswith(dep.rstrip("/") + "/"):
                    rel = self._rel_to_root(path)
                    if rel is None or not ignore.can_skip_dir(rel):
                        return True
        return False

    def local_owns(self, resource: str, path: str) -> bool:
        """Is `path` one of the deps of local resource `resource`?"""
        deps, ignore = self.local_deps.get(resource, ((), None))
        for dep in deps:
            if path == dep or path.startswith(dep.rstrip("/") + "/"):
                rel = self._rel_to_root(path)
                return ignore is None or rel is None or not ignore.matches(rel)
        return False

    def is_ignored_file(self, path: str) -> bool:
        """Globally ignored (never triggers anything but a config reload)."""
        rel = self._rel_to_root(path)
        name = os.path.basename(path)
        if self.ephemeral.matches(name) or (rel is not None and self.ephemeral.matches(rel)):
            return True
        return rel is not None and self.global_ignore.matches(rel)

    def split(self, paths: Iterable[str]) -> tuple[set[str], set[str]]:
        """(config files changed, other changed files that are not ignored)."""
        config, other = set(), set()
        config_dirs = [d.rstrip("/") + "/" for d in self.config_files if os.path.isdir(d)]
        for path in paths:
            if path in self.config_files or any(path.startswith(d) for d in config_dirs):
                config.add(path)
            elif path and not self.is_ignored_file(path) and "/.git/" not in path + "/":
                other.add(path)
        return config, other
