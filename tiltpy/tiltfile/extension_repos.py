"""Fetching extension repos with git, as Tilt's extensionrepo reconciler does.

The one place the Tiltfile layer runs something other than the user's
commands: `load('ext://NAME')` needs the repo on disk while the Tiltfile
runs, as in Tilt.

- `file://PATH` (and, in tiltpy, a bare absolute path) is used in place.
- `https://HOST/PATH` is cloned into $XDG_CACHE_HOME/tiltpy/extensions/HOST/PATH
  (~/.cache/... by default) on first use; after that, once per process, it is
  updated with `git pull --ff-only`, and a failed update (offline) keeps the
  copy on disk with a note that it may be stale. A `ref` other than HEAD is
  checked out, and a copy already at that ref is not updated again.
"""
from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import threading
from dataclasses import dataclass
from typing import Callable

from tiltpy.user_cache import cache_path

DEFAULT_REPO_URL = "https://github.com/tilt-dev/tilt-extensions"
_CLONE_TIMEOUT_SECS = 600
_UPDATE_TIMEOUT_SECS = 120

Log = Callable[[str], None]


@dataclass(frozen=True)
class RepoStatus:
    """Tilt's ExtensionRepoStatus."""

    path: str = ""
    checkout_ref: str = ""
    stale_reason: str = ""
    error: str = ""

    def to_json(self) -> dict[str, str]:
        out = {"path": self.path, "checkoutRef": self.checkout_ref, "staleReason": self.stale_reason,
               "error": self.error}
        return {k: v for k, v in out.items() if v}


def cache_root() -> str:
    return cache_path("extensions")


# Checkouts brought up to date by this process: a Tiltfile reload doesn't pull again.
_fetched: set[str] = set()
_lock = threading.Lock()


def fetch(url: str, ref: str, log: Log) -> RepoStatus:
    """The repo at `url` on disk (cloned or updated as needed)."""
    local = _local_path(url)
    if local is not None:
        return _local_repo(url, local, ref)
    if not url.startswith(("https://", "http://")):
        return RepoStatus(error=f"invalid: URL must start with 'https://': {url}")
    import_path = url.split("://", 1)[1].rstrip("/")
    if import_path.endswith(".git"):
        import_path = import_path[:-len(".git")]
    dest = os.path.join(cache_root(), *[p for p in import_path.split("/") if p not in ("", ".", "..")])
    with _lock:
        os.makedirs(os.path.dirname(dest), exist_ok=True)
        with open(dest + ".lock", "w") as lock_file:  # another tiltpy may be cloning the same repo
            fcntl.flock(lock_file, fcntl.LOCK_EX)
            try:
                return _fetch_locked(url, ref, dest, log)
            finally:
                fcntl.flock(lock_file, fcntl.LOCK_UN)


def _local_path(url: str) -> str | None:
    if url.startswith("file://"):
        return url[len("file://"):]
    if os.path.isabs(url):
        return url
    return None


def _local_repo(url: str, path: str, ref: str) -> RepoStatus:
    if ref:
        return RepoStatus(error="spec.ref not supported on file:// repos")
    if not os.path.isabs(path):
        return RepoStatus(error=f"file paths must be absolute. Url: {url}")
    if not os.path.exists(path):
        return RepoStatus(error=f"loading: stat {path}: no such file or directory")
    if not os.path.isdir(path):
        return RepoStatus(error="loading: not a directory")
    return RepoStatus(path=path)


def _fetch_locked(url: str, ref: str, dest: str, log: Log) -> RepoStatus:
    exists = os.path.isdir(os.path.join(dest, ".git"))
    if os.path.exists(dest) and not exists:
        return RepoStatus(error=f"{dest} exists but {os.path.join(dest, '.git')} does not - stale checkout?")
    pinned = ref not in ("", "HEAD")
    stale = ""
    if dest not in _fetched:
        needs_download = True
        if exists and pinned:
            try:
                _git(["checkout", "--quiet", ref], dest, log, _UPDATE_TIMEOUT_SECS)
                needs_download = False
            except GitError:
                shutil.rmtree(dest, ignore_errors=True)  # safer to clone again than to repair
                exists = False
        if needs_download:
            if exists:
                try:
                    log(f"Updating extension repo {url} in {dest}")
                    _git(["pull", "--ff-only", "--quiet"], dest, log, _UPDATE_TIMEOUT_SECS)
                except GitError as err:
                    stale = str(err)
            else:
                log(f"Cloning extension repo {url} into {dest}")
                try:
                    _git(["clone", "--progress", "--", url, dest], os.path.dirname(dest), log, _CLONE_TIMEOUT_SECS)
                except GitError as err:
                    shutil.rmtree(dest, ignore_errors=True)  # no partial checkout left behind
                    return RepoStatus(error=f"download error: {err}")
            if ref:
                try:
                    _git(["checkout", "--quiet", ref], dest, log, _UPDATE_TIMEOUT_SECS)
                except GitError as err:
                    return RepoStatus(error=f"sync to ref {ref}: {err}")
        _fetched.add(dest)
    try:
        head = _git(["rev-parse", "HEAD"], dest, log, _UPDATE_TIMEOUT_SECS, quiet=True).strip()
    except GitError as err:
        return RepoStatus(error=f"determining head: {err}")
    if stale:
        log(f"extension repo {url}: may be stale: {stale}")
    return RepoStatus(path=dest, checkout_ref=head, stale_reason=stale)


class GitError(Exception):
    pass


def _git(args: list[str], cwd: str, log: Log, timeout: float, quiet: bool = False) -> str:
    """Run git without prompts; its progress lines go to the Tiltfile log."""
    env = {**os.environ, "GIT_TERMINAL_PROMPT": "0"}
    env.setdefault("GIT_SSH_COMMAND", "ssh -o ControlMaster=no -o BatchMode=yes")
    try:
        proc = subprocess.run(["git", *args], cwd=cwd, env=env, capture_output=True, text=True, errors="replace",
                              timeout=timeout, stdin=subprocess.DEVNULL)
    except FileNotFoundError:
        raise GitError("git is not installed (it is needed to fetch extension repos)") from None
    except subprocess.TimeoutExpired:
        raise GitError(f"git {args[0]} did not finish in {timeout:.0f}s") from None
    if not quiet:
        for line in _progress_lines(proc.stderr):
            log(f"  {line}")
    if proc.returncode != 0:
        detail = proc.stderr.strip().replace("\r", "\n").splitlines()
        raise GitError(f"git {' '.join(args[:1])}: exit status {proc.returncode}"
                       + (f": {detail[-1]}" if detail else ""))
    return proc.stdout


def _progress_lines(stderr: str) -> list[str]:
    """git's progress redraws a line with \\r; keep each phase's final state."""
    out = []
    for line in stderr.replace("\r\n", "\n").split("\n"):
        last = line.split("\r")[-1].strip()
        if last and ("%" not in last or last.endswith("done.")):
            out.append(last)
    return out
