"""The v1alpha1 module (v1alpha1/plugin_test.go) and ext:// (tiltextension/plugin_test.go).
The objects are checked in Tilt's API JSON shape."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.unit.conformance.support import Fixture, f  # noqa: F401
from tiltpy.tiltfile import extension_repos

LIB = "def printFoo():\n  print('foo')\n"


def objects(f: Fixture, kind: str) -> dict[str, dict[str, Any]]:
    assert f.result is not None
    return {o["metadata"]["name"]: o for o in f.result.api_objects if o["kind"] == kind}


def test_extension_objects(f: Fixture) -> None:
    """TestExtension / TestExtensionArgs / TestExtensionRepoTwice."""
    f.load("v1alpha1.extension_repo(name='default', url='https://github.com/tilt-dev/tilt-extensions', ref='HEAD')\n"
           "v1alpha1.extension_repo(name='default', url='https://github.com/tilt-dev/tilt-extensions', ref='HEAD')\n"
           "v1alpha1.extension(name='cancel', repo_name='default', repo_path='cancel', args=['--namespace=foo'])\n")
    repo = objects(f, "ExtensionRepo")["default"]
    assert repo["spec"] == {"url": "https://github.com/tilt-dev/tilt-extensions", "ref": "HEAD"}
    assert objects(f, "Extension")["cancel"]["spec"] == {"repoName": "default", "repoPath": "cancel",
                                                         "args": ["--namespace=foo"]}


def test_extension_repo_validation(f: Fixture) -> None:
    """TestExtensionValidation."""
    f.error("v1alpha1.extension_repo(name='default', url='ftp://github.com/tilt-dev/tilt-extensions')\n",
            "URLs must start with http(s):// or file://")


def test_file_watch(f: Fixture) -> None:
    """TestFileWatchAsDict / TestFileWatchWithIgnoreBuiltin / TestFileWatchDisableOn."""
    f.load("v1alpha1.file_watch(name='a', watched_paths=['./dir'], ignores=[{'base_path': './dir/ignore', "
           "'patterns': ['**']}])\n"
           "v1alpha1.file_watch(name='b', watched_paths=['./dir'], ignores=[v1alpha1.ignore_def(base_path='./dir/ignore',"
           " patterns=['**'])])\n"
           "v1alpha1.file_watch(name='c', watched_paths=['./dir'], disable_source={'config_map': {'name': 'c', "
           "'key': 'disabled'}})\n")
    watches = objects(f, "FileWatch")
    spec = {"watchedPaths": [f.path("dir")], "ignores": [{"basePath": f.path("dir/ignore"), "patterns": ["**"]}]}
    assert watches["a"]["spec"] == watches["b"]["spec"] == spec
    assert watches["c"]["spec"] == {"watchedPaths": [f.path("dir")],
                                    "disableSource": {"configMap": {"name": "c", "key": "disabled"}}}


def test_cmd_default_dir(f: Fixture) -> None:
    """TestCmdDefaultDir."""
    f.load("v1alpha1.cmd(name='my-cmd', args=['echo', 'hello'])\n")
    assert objects(f, "Cmd")["my-cmd"]["spec"] == {"args": ["echo", "hello"], "dir": f.path()}


def test_ui_button(f: Fixture) -> None:
    """TestUIButton."""
    f.load("v1alpha1.ui_button(name='my-button', annotations={'tilt.dev/resource': 'fe', 'tilt.dev/log-span-id': 'fe'},"
           " text='hello world', icon_name='circle', location={'component_type': 'resource', 'component_id': 'fe'})\n")
    assert objects(f, "UIButton")["my-button"] == {
        "apiVersion": "tilt.dev/v1alpha1", "kind": "UIButton",
        "metadata": {"name": "my-button", "annotations": {"tilt.dev/resource": "fe", "tilt.dev/log-span-id": "fe"}},
        "spec": {"location": {"componentID": "fe", "componentType": "resource"}, "text": "hello world",
                 "iconName": "circle"}}


def test_kubernetes_discovery(f: Fixture) -> None:
    """TestKubernetesDiscoveryu."""
    f.load("v1alpha1.kubernetes_discovery(name='my-discovery', annotations={'tilt.dev/resource': 'fe'},"
           " extra_selectors=[{'match_labels': {'app': 'fe'}}])\n")
    assert objects(f, "KubernetesDiscovery")["my-discovery"]["spec"] == {
        "watches": None, "extraSelectors": [{"matchLabels": {"app": "fe"}}], "cluster": ""}


def test_config_map(f: Fixture) -> None:
    """TestConfigMap."""
    f.load("v1alpha1.config_map(name='my-config', labels={'bar': 'baz'}, data={'foo': 'bar'})\n")
    assert objects(f, "ConfigMap")["my-config"] == {
        "apiVersion": "tilt.dev/v1alpha1", "kind": "ConfigMap",
        "metadata": {"name": "my-config", "labels": {"bar": "baz"}}, "data": {"foo": "bar"}}


def test_kubernetes_apply(f: Fixture) -> None:
    """TestKubernetesApply."""
    f.load('config="""\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: my-config-map\ndata:\n  foo: bar\n"""\n'
           "v1alpha1.kubernetes_apply(name='my-apply', discovery_strategy='selectors-only', timeout='2s', yaml=config)\n")
    assert objects(f, "KubernetesApply")["my-apply"]["spec"] == {
        "yaml": "\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: my-config-map\ndata:\n  foo: bar\n",
        "timeout": "2s", "discoveryStrategy": "selectors-only", "cluster": ""}


@pytest.fixture
def ext_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setattr(extension_repos, "_fetched", set())
    return tmp_path / "exts"


def _write(root: Path, rel: str, text: str) -> None:
    (root / rel).parent.mkdir(parents=True, exist_ok=True)
    (root / rel).write_text(text)


def test_repo_override(f: Fixture, ext_dir: Path) -> None:
    """TestRepoOverride / TestRepoAndExtOverride."""
    _write(ext_dir, "my-extension/Tiltfile", LIB)
    _write(ext_dir, "my-custom-path/Tiltfile", LIB)
    repo = f"v1alpha1.extension_repo(name='default', url='file://{ext_dir}')\n"
    assert f.load(repo + "load('ext://my-extension', 'printFoo')\nprintFoo()\n").logs == ["foo"]
    assert f.load(repo + "v1alpha1.extension(name='my-extension', repo_name='default', repo_path='my-custom-path')\n"
                  "load('ext://my-extension', 'printFoo')\nprintFoo()\n").logs == ["foo"]


def test_extension_loads_extension_and_included_files_load_extensions(f: Fixture, ext_dir: Path) -> None:
    """TestExtensionMayLoadExtension / TestIncludedFileMayIncludeExtension /
    TestLoadedFilesResolveExtensionsFromRootTiltfile."""
    _write(ext_dir, "fooExt/Tiltfile", "load('ext://barExt', 'printBar')\ndef printFoo():\n\tprint('foo')\n\tprintBar()\n")
    _write(ext_dir, "barExt/Tiltfile", "def printBar():\n  print('bar')\n")
    f.file("nested/Tiltfile", "load('ext://fooExt', 'printFoo')\nprintFoo()\n")
    result = f.load(f"v1alpha1.extension_repo(name='default', url='file://{ext_dir}')\ninclude('./nested/Tiltfile')\n")
    assert result.logs == ["foo", "bar"]
    assert sorted(objects(f, "Extension")) == ["barExt", "fooExt"]


def test_same_extension_registered_in_two_files(f: Fixture, ext_dir: Path) -> None:
    """TestLoadedExtensionTwiceDifferentFiles."""
    _write(ext_dir, "my-custom-repo/my-custom-path/Tiltfile", LIB)
    sub = (f"v1alpha1.extension_repo(name='my-extension-repo', url='file://{ext_dir}/my-custom-repo')\n"
           "v1alpha1.extension(name='my-extension', repo_name='my-extension-repo', repo_path='my-custom-path')\n"
           "load('ext://my-extension', 'printFoo')\nprintFoo()\n")
    f.file("Tiltfile.a", sub)
    f.file("Tiltfile.b", sub)
    assert f.load("include('Tiltfile.a')\ninclude('Tiltfile.b')\n").logs == ["foo", "foo"]


def test_repo_and_extension_errors(f: Fixture, ext_dir: Path) -> None:
    """TestExtensionRepoApplyFails / TestExtensionApplyFails."""
    f.error("v1alpha1.extension_repo(name='default', url='file:///no/such/repo')\nload('ext://module', 'printFoo')\n",
            "loading extension repo default: ")
    ext_dir.mkdir()
    f.error(f"v1alpha1.extension_repo(name='default', url='file://{ext_dir}')\nload('ext://module', 'printFoo')\n",
            "loading extension module: ")
