"""The build context of an image target: which files it holds, a digest of
everything that determines the built image, and the tar sent to the engine.

The digest is what lets tiltpy reuse an image across restarts: same context
files, Dockerfile (after FROM rewriting), build args and target mean the same
image, so nothing needs building."""
from __future__ import annotations

import hashlib
import io
import os
import stat
import tarfile
from dataclasses import dataclass, field
from typing import Callable

from tiltpy.image.ignore import PatternMatcher, context_matcher, walk_context
from tiltpy.model.manifest import ImageTarget

# A Dockerfile that is not part of the context travels inside the tar under
# this name (see dockerfile_name_in_tar).
DOCKERFILE_IN_TAR = ".tiltpy.Dockerfile"


@dataclass(frozen=True)
class BuildContext:
    directory: str  # "" for an empty context
    files: tuple[str, ...]  # relative, '/'-separated, sorted


class ContextNotFound(FileNotFoundError):
    """The build context directory does not exist (yet) when the build runs."""


def collect_context(target: ImageTarget) -> BuildContext:
    if target.context == "-":
        return BuildContext("", ())
    if not os.path.isdir(target.context):
        what = "is not a directory" if os.path.exists(target.context) else "does not exist"
        raise ContextNotFound(
            f"Build context {target.context} {what} (docker_build({target.ref!r}, context=...)). If another "
            "resource creates it, add that resource to this one's resource_deps so it runs first.")
    matcher = context_matcher(target.context, target.dockerfile_path or None, target.ignore, target.only)
    return BuildContext(target.context, tuple(walk_context(target.context, matcher)))


class _HashCache:
    """Content hashes keyed by (path, size, mtime, inode): a restart re-reads
    files, but one `up` hashes an unchanged file only once."""

    def __init__(self) -> None:
        self._hashes: dict[tuple[str, int, int, int], str] = {}

    def file_hash(self, path: str, st: os.stat_result) -> str:
        key = (path, st.st_size, st.st_mtime_ns, st.st_ino)
        cached = self._hashes.get(key)
        if cached is None:
            digest = hashlib.sha256()
            with open(path, "rb") as f:
                for chunk in iter(lambda: f.read(1 << 20), b""):
                    digest.update(chunk)
            cached = self._hashes[key] = digest.hexdigest()
        return cached


_HASHES = _HashCache()


def inputs_digest(target: ImageTarget, context: BuildContext, dockerfile: str) -> str:
    digest = hashlib.sha256()
    digest.update(b"tiltpy-inputs-v1\0")
    digest.update(dockerfile.encode() + b"\0")
    for key, value in target.build_args:
        digest.update(f"arg {key}={value}\0".encode())
    digest.update(f"target {target.target}\0network {target.network}\0".encode())
    for rel in context.files:
        path = os.path.join(context.directory, rel)
        st = os.lstat(path)
        if stat.S_ISLNK(st.st_mode):
            entry = f"link {rel} {os.readlink(path)}"
        else:
            entry = f"file {rel} {st.st_mode & 0o111:o} {_HASHES.file_hash(path, st)}"
        digest.update(entry.encode() + b"\0")
    return digest.hexdigest()


def dockerfile_name_in_tar(target: ImageTarget, context: BuildContext) -> str:
    """Where the (rewritten) Dockerfile travels in the tar. A Dockerfile that is
    itself part of the context goes in its own place, so the tar holds exactly
    the files `docker build` would send; any other (inline, outside the
    context, or excluded) goes under DOCKERFILE_IN_TAR."""
    if target.dockerfile_path and context.directory:
        rel = os.path.relpath(target.dockerfile_path, context.directory).replace(os.sep, "/")
        # Only a name a plain ustar header holds: a longer one needs an extended
        # header first, which the CLI's 512-byte tar sniffing rejects.
        if rel in context.files and len(rel) < 100 and rel.isascii():
            return rel
    return DOCKERFILE_IN_TAR


class _CountingWriter:
    def __init__(self, write: Callable[[bytes], object]) -> None:
        self._write = write
        self.count = 0

    def write(self, data: bytes) -> int:
        self._write(data)
        self.count += len(data)
        return len(data)


def write_context_tar(context: BuildContext, dockerfile: str, dockerfile_name: str,
                      write: Callable[[bytes], object], *, classic_dockerignore: bool) -> int:
    """Stream an uncompressed tar of the context plus the (rewritten)
    Dockerfile to `write`, file by file: memory stays flat whatever the
    context's size. Returns the bytes written.

    `classic_dockerignore` adds a .dockerignore naming the Dockerfile: the
    classic builder drops both from the context after reading them (BuildKit
    ignores a .dockerignore inside a tar context). A file that vanishes while
    the tar is written is left out; the watcher reports its deletion anyway."""
    out = _CountingWriter(write)
    with tarfile.open(fileobj=out, mode="w|", format=tarfile.PAX_FORMAT) as tar:  # type: ignore[arg-type]
        dirs_added: set[str] = set()
        extra = {dockerfile_name: dockerfile.encode()}
        if classic_dockerignore:
            extra[".dockerignore"] = f"{dockerfile_name}\n.dockerignore\n".encode()
        # The Dockerfile goes first: the Docker CLI recognizes a tar on stdin by
        # parsing its first 512-byte header alone (see dockerfile_name_in_tar).
        for name, data in extra.items():
            _add_parent_dirs(tar, context.directory, name, dirs_added)
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = 0o644
            tar.addfile(info, io.BytesIO(data))
        for rel in context.files:
            if rel in extra:
                continue
            _add_parent_dirs(tar, context.directory, rel, dirs_added)
            try:
                tar.add(os.path.join(context.directory, rel), arcname=rel, recursive=False, filter=_normalize_owner)
            except FileNotFoundError:
                continue
    return out.count


def _add_parent_dirs(tar: tarfile.TarFile, root: str, rel: str, added: set[str]) -> None:
    parts = rel.split("/")[:-1]
    for i in range(1, len(parts) + 1):
        parent = "/".join(parts[:i])
        if parent not in added:
            added.add(parent)
            tar.add(os.path.join(root, parent), arcname=parent, recursive=False, filter=_normalize_owner)


def _normalize_owner(info: tarfile.TarInfo) -> tarfile.TarInfo:
    # Like `docker build`: files belong to root in the image, whoever owns them here.
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    info.mtime = int(info.mtime)  # a float mtime costs an extended (PAX) header per file
    return info


@dataclass
class TargetFiles:
    """Which files belong to an image target: under its context, not ignored."""

    target: ImageTarget
    _matcher: PatternMatcher | None = field(default=None, repr=False)

    def matcher(self) -> PatternMatcher:
        if self._matcher is None:
            t = self.target
            self._matcher = context_matcher(t.context, t.dockerfile_path or None, t.ignore, t.only)
        return self._matcher

    def owns(self, path: str) -> bool:
        if self.target.context == "-":
            return False
        rel = relative_to(path, self.target.context)
        return rel is not None and rel != "." and not self.matcher().matches(rel)


def relative_to(path: str, root: str) -> str | None:
    """`path` relative to `root`, '/'-separated; "." for root itself; None outside it."""
    if path == root:
        return "."
    prefix = root.rstrip(os.sep) + os.sep
    if not path.startswith(prefix):
        return None
    return path[len(prefix):].replace(os.sep, "/")
