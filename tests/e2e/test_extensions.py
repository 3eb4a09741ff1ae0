"""ext:// as a user meets it: `tiltpy ci` clones the extension repo once
into the cache and works offline after that; a missing extension is a clear
error; helm_resource (Tilt's real extension) stops where it needs `helm`.

The default repo's https URL is served from a local git repository through
git's url.<local>.insteadOf, as a user without internet could set up."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.e2e.harness import tiltpy
from tests.extension_repos import make_repo, redirect_default_repo, upstream_extensions  # noqa: F401

pytestmark = pytest.mark.e2e

HELLO_EXT = """
def hello_resource(name):
    local_resource(name, 'echo "hello from the extension"')
"""


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    root.mkdir()
    return root


def test_ext_is_cloned_once_then_used_offline(project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    source = make_repo(tmp_path / "extensions-source", {"hello/Tiltfile": HELLO_EXT})
    cache = tmp_path / "cache"
    redirect_default_repo(monkeypatch, source, cache)
    (project / "Tiltfile").write_text("load('ext://hello', 'hello_resource')\nhello_resource('greet')\n")

    first = tiltpy("ci", "--timeout", "2m", cwd=project, timeout=180)
    assert first.returncode == 0, first.stdout + first.stderr
    out = first.stdout + first.stderr
    assert "Cloning extension repo https://github.com/tilt-dev/tilt-extensions into" in out
    assert "hello from the extension" in out
    checkout = cache / "tiltpy" / "extensions" / "github.com" / "tilt-dev" / "tilt-extensions"
    assert (checkout / "hello" / "Tiltfile").is_file()

    shutil.rmtree(source)  # offline: the source is gone
    second = tiltpy("ci", "--timeout", "2m", cwd=project, timeout=180)
    out = second.stdout + second.stderr
    assert second.returncode == 0, out
    assert "Cloning extension repo" not in out and "may be stale" in out
    assert "hello from the extension" in out


def test_missing_extension_is_a_clear_error(project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    source = make_repo(tmp_path / "extensions-source", {"hello/Tiltfile": HELLO_EXT})
    redirect_default_repo(monkeypatch, source, tmp_path / "cache")
    (project / "Tiltfile").write_text("load('ext://no_such_extension', 'x')\n")
    result = tiltpy("ci", "--timeout", "1m", cwd=project, timeout=120)
    out = result.stdout + result.stderr
    assert result.returncode != 0
    assert "loading extension no_such_extension: no extension tiltfile found at" in out
    assert "Traceback (most recent call last):\n  File" not in out  # no Python traceback


def test_helm_resource_stops_where_it_needs_helm(testbed: dict, project: Path,
                                                 upstream_extensions: Path) -> None:  # noqa: F811
    """The testbed has no helm: loading works, deploying fails naming `helm`."""
    shutil.copytree(upstream_extensions / "helm_resource" / "test" / "helloworld", project / "helloworld")
    (project / "Tiltfile").write_text(
        f"v1alpha1.extension_repo(name='default', url='{upstream_extensions.as_uri()}')\n"
        "load('ext://helm_resource', 'helm_resource')\n"
        "helm_resource('tiltpy-e2e-helm', './helloworld', namespace='default')\n")
    result = tiltpy("ci", "--timeout", "2m", cwd=project, timeout=240)
    out = result.stdout + result.stderr
    assert result.returncode != 0, out
    assert "'helm'" in out, out[-3000:]
