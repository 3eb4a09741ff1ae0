"""ext:// through extension repos, as in Tilt: Extension and ExtensionRepo
objects, file:// repos used in place, the default repo cloned with git into
the user's cache once and used offline after that, pinned refs, and the
errors for a repo that can't be fetched or an extension that isn't there.
All against local git repositories of our own test extensions."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.extension_repos import DEFAULT_REPO_URL, commit, git, make_repo, redirect_default_repo
from tests.unit.test_tiltfile_support import Project, project  # noqa: F401
from tiltpy.tiltfile import extension_repos
from tiltpy.tiltfile.builtins.extensions import registered_extension_tiltfile

HELLO = "def hi():\n    print('hello from v1')\n"
CALLS_OTHER = "load('ext://hello', 'hi')\ndef both():\n    hi()\n    print('and from other')\n"


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return make_repo(tmp_path / "my-extensions", {"hello/Tiltfile": HELLO, "other/Tiltfile": CALLS_OTHER,
                                                   "nested/inner/Tiltfile": "X = 'nested'\n",
                                                   "custom-path/Tiltfile": "def hi():\n    print('custom')\n"})


@pytest.fixture(autouse=True)
def new_process(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test starts as a fresh tiltpy process would: nothing fetched yet."""
    monkeypatch.setattr(extension_repos, "_fetched", set())


def _objects(result, kind: str) -> dict[str, dict]:
    return {o["metadata"]["name"]: o for o in result.api_objects if o["kind"] == kind}


def test_file_repo_is_used_in_place(project: Project, repo: Path) -> None:
    result = project.ok(f"""
        v1alpha1.extension_repo(name='default', url='{repo.as_uri()}')
        load('ext://other', 'both')
        load('ext://nested/inner', 'X')
        both()
        print(X)
    """)
    assert result.logs == ["hello from v1", "and from other", "nested"]
    repos = _objects(result, "ExtensionRepo")
    assert repos == {"default": {"apiVersion": "tilt.dev/v1alpha1", "kind": "ExtensionRepo",
                                 "metadata": {"name": "default"}, "spec": {"url": repo.as_uri()},
                                 "status": {"path": str(repo)}}}
    exts = _objects(result, "Extension")
    assert sorted(exts) == ["hello", "nested_inner", "other"]  # ext://nested/inner: Tilt's sanitized name
    assert exts["nested_inner"]["spec"] == {"repoName": "default", "repoPath": "nested/inner"}
    assert exts["hello"]["metadata"]["annotations"] == {"tilt.dev/managed-by": "tiltfile.loader"}
    assert str(repo / "hello" / "Tiltfile") in result.watched_files


def test_registered_extension_and_repo(project: Project, repo: Path) -> None:
    """v1alpha1.extension() maps a name to a path in a repo; a local path works as a URL too."""
    result = project.ok(f"""
        v1alpha1.extension_repo(name='mine', url='{repo}')
        v1alpha1.extension(name='my-extension', repo_name='mine', repo_path='custom-path')
        load('ext://my-extension', 'hi')
        hi()
    """)
    assert result.logs == ["custom"]
    assert _objects(result, "Extension")["my-extension"]["spec"] == {"repoName": "mine", "repoPath": "custom-path"}


def test_extension_registered_but_not_loaded(project: Project, repo: Path) -> None:
    """In Tilt such an extension runs as a Tiltfile of its own, with its args;
    the load only records it (no fetch), and the engine finds its Tiltfile."""
    result = project.ok(f"""
        v1alpha1.extension_repo(name='default', url='{repo.as_uri()}')
        v1alpha1.extension(name='side', repo_name='default', repo_path='hello', args=['--flag'])
        v1alpha1.extension(name='broken', repo_name='default', repo_path='nowhere')
    """)
    exts = _objects(result, "Extension")
    assert exts["side"]["spec"] == {"repoName": "default", "repoPath": "hello", "args": ["--flag"]}
    assert "annotations" not in exts["side"]["metadata"] and "status" not in exts["side"]
    logs: list[str] = []
    assert registered_extension_tiltfile(result.api_objects, "side", logs.append) == (
        str(repo / "hello" / "Tiltfile"), "")
    path, error = registered_extension_tiltfile(result.api_objects, "broken", logs.append)
    assert path == "" and "no extension tiltfile found" in error


def test_same_repo_registered_twice(project: Project, repo: Path) -> None:
    """Teams register their repo in every Tiltfile: fine while it is the same."""
    project.file("Tiltfile.a", f"v1alpha1.extension_repo(name='default', url='{repo.as_uri()}')\n"
                               "load('ext://hello', 'hi')\nhi()\n")
    result = project.ok("include('Tiltfile.a')\nv1alpha1.extension_repo(name='default', url='%s')\n"
                        % repo.as_uri())
    assert result.logs == ["hello from v1"]
    error = project.error("v1alpha1.extension_repo(name='default', url='%s')\n"
                          "v1alpha1.extension_repo(name='default', url='file:///elsewhere')\n" % repo.as_uri())
    assert 'extensionrepos "default" already registered' in error


def test_missing_extension_names_where_it_looked(project: Project, repo: Path) -> None:
    error = project.error(f"v1alpha1.extension_repo(name='default', url='{repo.as_uri()}')\n"
                          "load('ext://no_such_ext', 'x')\n")
    assert f"loading extension no_such_ext: no extension tiltfile found at {repo}/no_such_ext/Tiltfile" in error


@pytest.mark.parametrize("url, expected", [
    ("https://tiltpy.invalid/extensions", "loading extension repo default: download error: git clone"),
    ("file:///no/such/dir", "loading extension repo default: loading: stat /no/such/dir: no such file or directory"),
])
def test_repo_that_cannot_be_fetched(project: Project, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                     url: str, expected: str) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    error = project.error(f"v1alpha1.extension_repo(name='default', url='{url}')\nload('ext://hello', 'hi')\n")
    assert expected in error
    assert f"ext://hello comes from extension repo 'default' at {url}" in error  # names the extension and the repo
    assert not (tmp_path / "cache" / "tiltpy" / "extensions" / "tiltpy.invalid" / "extensions").exists()


def test_repo_url_is_validated(project: Project) -> None:
    error = project.error("v1alpha1.extension_repo(name='default', url='ftp://github.com/tilt-dev/tilt-extensions')\n")
    assert "URLs must start with http(s):// or file://" in error
    assert "file:// URLs must be absolute" in project.error("v1alpha1.extension_repo(name='d', url='file://rel')\n")


def test_default_repo_is_cloned_once_then_used_offline(project: Project, repo: Path, tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    cache = tmp_path / "cache"
    redirect_default_repo(monkeypatch, repo, cache)
    checkout = cache / "tiltpy" / "extensions" / "github.com" / "tilt-dev" / "tilt-extensions"
    first = project.ok("load('ext://hello', 'hi')\nhi()\n")
    assert first.logs[0] == f"Cloning extension repo {DEFAULT_REPO_URL} into {checkout}"
    assert "hello from v1" in first.logs
    repo_object = _objects(first, "ExtensionRepo")["default"]
    assert repo_object["spec"] == {"url": DEFAULT_REPO_URL}
    assert repo_object["status"]["path"] == str(checkout)
    assert repo_object["status"]["checkoutRef"] == git("rev-parse", "HEAD", cwd=repo).strip()

    # A reload in the same process doesn't fetch again.
    again = project.ok("load('ext://hello', 'hi')\nhi()\n")
    assert again.logs == ["hello from v1"]

    # A new process, offline (the source is gone): the copy in the cache is used.
    shutil.rmtree(repo)
    extension_repos._fetched.clear()
    offline = project.ok("load('ext://hello', 'hi')\nhi()\n")
    assert "hello from v1" in offline.logs
    assert any("may be stale" in line for line in offline.logs)
    assert _objects(offline, "ExtensionRepo")["default"]["status"]["staleReason"]


def test_default_repo_update_and_pinned_ref(project: Project, repo: Path, tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    redirect_default_repo(monkeypatch, repo, tmp_path / "cache")
    first_commit = git("rev-parse", "HEAD", cwd=repo).strip()
    assert project.ok("load('ext://hello', 'hi')\nhi()\n").logs[-1] == "hello from v1"
    commit(repo, {"hello/Tiltfile": HELLO.replace("v1", "v2")}, "v2")
    extension_repos._fetched.clear()  # a new process updates its copy
    assert project.ok("load('ext://hello', 'hi')\nhi()\n").logs[-1] == "hello from v2"
    extension_repos._fetched.clear()
    pinned = project.ok(f"v1alpha1.extension_repo(name='default', url='{DEFAULT_REPO_URL}', ref='{first_commit}')\n"
                        "load('ext://hello', 'hi')\nhi()\n")
    assert pinned.logs[-1] == "hello from v1"
    assert _objects(pinned, "ExtensionRepo")["default"]["status"]["checkoutRef"] == first_commit
    assert "spec.ref not supported on file:// repos" in project.error(
        f"v1alpha1.extension_repo(name='x', url='{repo.as_uri()}', ref='main')\n"
        "v1alpha1.extension(name='e', repo_name='x', repo_path='hello')\nload('ext://e', 'hi')\n")
