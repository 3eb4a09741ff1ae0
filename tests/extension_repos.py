"""Extension repositories for the tests, made as a user without internet
would: a local git repository, handed to the Tiltfile with
v1alpha1.extension_repo(url='file://...'), or to git with `url.<local>.insteadOf`
so that the default repo's https:// URL is cloned from it.

The real tilt-dev/tilt-extensions code is never part of this repository. It
comes from, in order:
  - $TILTPY_TEST_EXTENSIONS_REPO: anything `git clone` takes (a URL, a clone,
    a bare mirror);
  - /work/.mirror/tilt-dev+tilt-extensions/repo (a bare mirror);
and is checked out at UPSTREAM_COMMIT, the version the tests' expectations
were written against. When neither is there (a machine with no copy and no
way to GitHub), the tests that need it are skipped, saying why; the
extension mechanism itself is still tested with repositories the tests make.
(.ci/run points $TILTPY_TEST_EXTENSIONS_REPO at GitHub when it is reachable.)"""
from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

UPSTREAM_COMMIT = "a8701c0aa6a77ddcf60e02647d3a4730931e5f50"
UPSTREAM_ENV = "TILTPY_TEST_EXTENSIONS_REPO"
UPSTREAM_MIRROR = "/work/.mirror/tilt-dev+tilt-extensions/repo"
DEFAULT_REPO_URL = "https://github.com/tilt-dev/tilt-extensions"

_GIT_ENV = {"GIT_AUTHOR_NAME": "tiltpy tests", "GIT_AUTHOR_EMAIL": "tests@tiltpy.invalid",
            "GIT_COMMITTER_NAME": "tiltpy tests", "GIT_COMMITTER_EMAIL": "tests@tiltpy.invalid",
            "GIT_TERMINAL_PROMPT": "0"}


def git(*args: str, cwd: Path | str | None = None) -> str:
    proc = subprocess.run(["git", *args], cwd=cwd, env={**os.environ, **_GIT_ENV}, capture_output=True, text=True)
    if proc.returncode != 0:
        raise AssertionError(f"git {' '.join(args)} failed: {proc.stderr.strip()}")
    return proc.stdout


def make_repo(root: Path, files: dict[str, str]) -> Path:
    """A git repository holding `files` (path -> text), one commit."""
    root.mkdir(parents=True, exist_ok=True)
    git("init", "--quiet", "--initial-branch=main", str(root))
    commit(root, files, "extensions for the tests")
    return root


def commit(root: Path, files: dict[str, str], message: str) -> None:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    git("add", "--all", cwd=root)
    git("commit", "--quiet", "-m", message, cwd=root)


def upstream_source() -> str:
    source = os.environ.get(UPSTREAM_ENV) or (UPSTREAM_MIRROR if os.path.isdir(UPSTREAM_MIRROR) else "")
    if not source:
        pytest.skip(f"The tests with Tilt's real extensions need a copy of github.com/tilt-dev/tilt-extensions: "
                    f"set ${UPSTREAM_ENV} to a git URL or path (e.g. a clone), or provide {UPSTREAM_MIRROR}.")
    return source


def clone_upstream(dest: Path) -> Path:
    """A working copy of tilt-dev/tilt-extensions at UPSTREAM_COMMIT."""
    source = upstream_source()
    git("clone", "--quiet", source, str(dest))
    try:
        git("checkout", "--quiet", UPSTREAM_COMMIT, cwd=dest)
    except AssertionError:
        pytest.fail(f"{source} lacks commit {UPSTREAM_COMMIT} of tilt-dev/tilt-extensions (the version the "
                    f"tests expect); use a newer clone.")
    return dest


@pytest.fixture(scope="session")
def upstream_extensions(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return clone_upstream(tmp_path_factory.mktemp("upstream") / "tilt-extensions")


def redirect_default_repo(monkeypatch: pytest.MonkeyPatch, local_repo: Path, cache: Path) -> None:
    """Make git fetch Tilt's default repo URL from `local_repo`, into `cache`."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(cache))
    monkeypatch.setenv("GIT_CONFIG_COUNT", "1")
    monkeypatch.setenv("GIT_CONFIG_KEY_0", f"url.{local_repo.as_uri()}.insteadOf")
    monkeypatch.setenv("GIT_CONFIG_VALUE_0", DEFAULT_REPO_URL)
